// Two modules the MCP SDK imports at its top but `flux-monitor mcp` never calls, put off until first used.
// bench/bundle.mjs resolves the SDK's imports of them to this file, in the bundle only (tsc's dist/ and the tests
// that import single modules use the SDK as published):
//   - `validation/ajv-provider.js` (Ajv, ajv-formats, fast-uri): the server validates with it only the answers
//     to `elicitation/create` requests, and flux-monitor sends none;
//   - `zod-to-json-schema`: the SDK converts zod v3 schemas with it, and every schema of flux-monitor's tools is a
//     zod v4 one, which the SDK converts with zod's own `toJSONSchema`.
// Evaluating them cost about 30 ms of every `mcp` start before its answer to `initialize` (docs/performance.md
// (i)). On first use each is loaded here, synchronously as the SDK calls it, from the SDK's own CommonJS build
// and dependencies, which npm installs with the package: the same code, only later.
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/** Loads a module as the SDK would find it (its own dependencies first, then the package's). */
function load<T>(id: string): T {
  let fromSdk: NodeRequire;
  try {
    fromSdk = createRequire(requireHere.resolve('@modelcontextprotocol/sdk/validation/ajv'));
  } catch {
    fromSdk = requireHere;
  }
  return fromSdk(id) as T;
}

interface Validator {
  getValidator<T>(schema: unknown): (input: unknown) => { valid: boolean; data?: T; errorMessage?: string };
}

/** The SDK's default JSON Schema validator (Ajv), created on the first schema it is asked to check. */
export class AjvJsonSchemaValidator implements Validator {
  private real: Validator | undefined;
  constructor(private readonly ajv?: unknown) {}
  getValidator<T>(schema: unknown): (input: unknown) => { valid: boolean; data?: T; errorMessage?: string } {
    if (!this.real) {
      const { AjvJsonSchemaValidator: Real } = requireHere('@modelcontextprotocol/sdk/validation/ajv') as { AjvJsonSchemaValidator: new (ajv?: unknown) => Validator };
      this.real = new Real(this.ajv);
    }
    return this.real.getValidator<T>(schema);
  }
}

/** zod-to-json-schema's converter (zod v3 schemas), loaded on its first call. */
export function zodToJsonSchema(...args: unknown[]): unknown {
  const real = load<{ zodToJsonSchema: (...a: unknown[]) => unknown }>('zod-to-json-schema');
  return real.zodToJsonSchema(...args);
}
