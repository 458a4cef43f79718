// What both entry points share: src/cli.ts (the ES module that knows every command) and src/launch.ts (the
// CommonJS file package.json's bin names, dist/src/cli.cjs, which starts the code-cached commands without Node's
// ES module loader): which commands run from a CommonJS bundle with V8's code cache, how a loaded command is run
// (its exit code, usage errors, one-line errors with their hint), and the process around it.
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { loadWithCodeCache } from './cjs-cache.js';
import type { Command, CommandIO } from './commands/types.js';
import { UsageError } from './commands/args.js';

/**
 * Commands that `npm run build` also writes as one CommonJS bundle each with V8's code cache
 * (dist/src/chunks/<command>.cjs, src/cjs-cache.ts), and when that bundle is run: Node 20 compiles the ESM chunks
 * again at every start, which is most of the start of these (docs/performance.md (i)). Only where no Ink view is
 * drawn: Ink and React are ES modules that a CommonJS bundle cannot load on Node 20, so a live view runs from the
 * ESM chunks.
 */
export const CODE_CACHED: Record<string, (args: string[]) => boolean> = {
  hook: () => true,
  'run-session': () => true,
  mcp: () => true,
  watch: (args) => args.includes('--json'),
  status: (args) => args.includes('--json'),
  history: () => true,
};

/** Commands that run a monitor or a live view for a long time. */
export const LONG_RUNNING = new Set(['watch', 'status', 'demo', 'run-session', 'mcp']);

/** Whether the arguments of a command ask for its help (`--help` or `-h` before any `--`). */
export function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * The command `name` from its code-cached CommonJS bundle (dist/src/chunks/<name>.cjs beside `chunksUrl`), when the
 * build made one, it suits these arguments, and they do not ask for help; else undefined (the ESM chunks).
 */
export function cachedCommand(name: string, args: string[], io: CommandIO, chunksUrl: URL): { default: Command } | undefined {
  if (!Object.hasOwn(CODE_CACHED, name) || !CODE_CACHED[name]!(args) || asksForHelp(args) || io.env.FLUX_MONITOR_NO_CODE_CACHE) return undefined;
  const file = fileURLToPath(new URL(`${name}.cjs`, chunksUrl));
  if (!existsSync(file)) return undefined; // the sources or tsc's output: no bundle
  beforeLoad(name);
  const loaded = loadWithCodeCache(file);
  if (io.env.FLUX_MONITOR_DEBUG) io.stderr.write(`flux-monitor: ${name} from chunks/${name}.cjs, code cache ${loaded.cacheAccepted ? 'taken' : 'not taken'}\n`);
  return loaded.exports as unknown as { default: Command };
}

/** Before the command `name` is loaded: React reads NODE_ENV when it is loaded. */
export function beforeLoad(name: string): void {
  if (LONG_RUNNING.has(name)) process.env.NODE_ENV ??= 'production';
}

/**
 * Runs a loaded command: its exit code, or 64 with its usage for a usage error, or 3 with the error's one line
 * (and its hint) for anything else. A stack trace only with FLUX_MONITOR_DEBUG.
 */
export async function runCommand(name: string, cmd: Command, args: string[], io: CommandIO): Promise<number> {
  if (LONG_RUNNING.has(name)) {
    // A monitor may hold 10,000 objects for many minutes: V8's size-optimised heap keeps its RSS well under
    // 150 MB for about 10 points of CPU under heavy churn (docs/performance.md). Set once the command is loaded:
    // a code cache is only taken under the flags it was made with.
    setFlagsFromString('--optimize-for-size');
    // React's development build doubles the cost of every frame of the live view (process.env's is set before
    // the command is loaded: beforeLoad).
    io.env.NODE_ENV ??= 'production';
  }
  try {
    return await cmd.run(args, io);
  } catch (err) {
    // By name: a command run from its CommonJS bundle (cachedCommand) throws that bundle's own UsageError class.
    if (err instanceof UsageError || (err instanceof Error && err.name === 'UsageError')) {
      const { HELP } = await import('./commands/help.js');
      io.stderr.write(`flux-monitor ${name}: ${err.message}\nUsage: ${HELP[name]?.usage ?? cmd.usage}\nRun \`flux-monitor help ${name}\` for its flags.\n`);
      return 64;
    }
    // Never show a stack trace to users unless asked to; categorised errors carry a one-line hint.
    const msg = err instanceof Error ? err.message : String(err);
    const info = (err as { info?: { hint?: string }; hint?: unknown }) ?? {};
    const hint = typeof info.hint === 'string' ? info.hint : info.info?.hint;
    io.stderr.write(`flux-monitor ${name}: ${msg}\n${hint ? `  hint: ${hint}\n` : ''}`);
    if (io.env.FLUX_MONITOR_DEBUG && err instanceof Error && err.stack) io.stderr.write(err.stack + '\n');
    return 3;
  }
}

/** The process's own streams, environment and directory. */
export function processIO(): CommandIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
}

/**
 * Runs the CLI as the process: `run` gives the exit code. Stack traces name the TypeScript sources with
 * FLUX_MONITOR_DEBUG (reading the source maps costs start-up time otherwise); a closed pipe
 * (`flux-monitor history | head`) ends the output quietly.
 */
export function runProcess(run: (io: CommandIO) => Promise<number>): void {
  if (process.env.FLUX_MONITOR_DEBUG) process.setSourceMapsEnabled(true);
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  run(processIO()).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`flux-monitor: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 3;
    },
  );
}
