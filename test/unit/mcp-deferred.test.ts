// src/commands/mcp-deferred.ts stands in, in the bundle, for two modules the MCP SDK imports at its top (Ajv's
// validator and zod-to-json-schema) and loads them on first use. Whatever loads them later must behave as the
// SDK's own: these run the deferred versions against the real packages.
import { describe, expect, it } from 'vitest';
import * as z3 from 'zod/v3';
import { AjvJsonSchemaValidator as SdkAjv } from '@modelcontextprotocol/sdk/validation/ajv';
import { zodToJsonSchema as realZodToJsonSchema } from 'zod-to-json-schema';
import { AjvJsonSchemaValidator, zodToJsonSchema } from '../../src/commands/mcp-deferred.js';

const schema = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 }, email: { type: 'string', format: 'email' }, age: { type: 'integer', minimum: 0 } },
  required: ['name'],
};

describe('the MCP SDK modules loaded on first use', () => {
  it('the JSON Schema validator answers as the SDK\'s Ajv validator, formats included', () => {
    const ours = new AjvJsonSchemaValidator().getValidator(schema);
    const sdk = new SdkAjv().getValidator(schema);
    const inputs: unknown[] = [{ name: 'a' }, { name: '' }, { name: 'a', email: 'not an email' }, { name: 'a', email: 'a@example.com', age: 3 }, { age: -1 }, 'text', null];
    for (const input of inputs) {
      const a = ours(input);
      const b = sdk(input);
      expect(a.valid, JSON.stringify(input)).toBe(b.valid);
      expect(a.errorMessage, JSON.stringify(input)).toBe(b.errorMessage);
    }
    expect(ours({ name: 'a', email: 'not an email' }).valid).toBe(false);
  });

  it('zodToJsonSchema converts a zod v3 schema as the package does', () => {
    const s = z3.object({ id: z3.string().describe('session ID'), n: z3.number().int().optional(), kind: z3.enum(['a', 'b']) });
    const opts = { strictUnions: true, pipeStrategy: 'input' as const };
    const ours = zodToJsonSchema(s, opts);
    expect(ours).toEqual(realZodToJsonSchema(s, opts));
    expect(ours).toMatchObject({ type: 'object', required: ['id', 'kind'] });
  });
});
