// What both entry points share: src/cli.ts (the ES module that knows every command) and src/launch.ts (the
// CommonJS file package.json's bin names, dist/src/cli.cjs, which starts the code-cached commands without Node's
// ES module loader): loading a command from its code-cached bundle (which ones: code-cached.ts), running a loaded
// command (its exit code, usage errors, one-line errors with their hint), and the process around it.
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { loadWithCodeCache } from './cjs-cache.js';
import { cachedBundleFile } from './code-cached.js';
import type { Command, CommandIO } from './commands/types.js';
import { UsageError } from './commands/args.js';

export { CODE_CACHED, asksForHelp } from './code-cached.js';

const builtin = createRequire(import.meta.url);

/** Commands that run a monitor or a live view for a long time. */
export const LONG_RUNNING = new Set(['watch', 'status', 'demo', 'run-session', 'mcp']);

/**
 * Node's own modules that the start of these commands loads once the command runs (the cluster client's http and
 * https, os; perf_hooks behind `performance`): loaded before V8's flags change (runCommand). Node takes its
 * built-in code cache of a module only under the V8 flags it was made with: after the change, http and https
 * alone compile in ~13 ms instead of ~4 ms, on the way to `watch`'s first event (docs/performance.md (i)).
 * test/unit/cjs-cache.test.ts checks that `watch` loads none of Node's modules for the first time between the
 * change and its first event. (The detached monitor starts with V8 flags of its own, src/session/spawn.ts, so
 * Node's code cache is never taken there.)
 */
const CLUSTER_BUILTINS = ['node:http', 'node:https', 'node:os', 'node:perf_hooks'];
export const LOADED_BEFORE_FLAGS: Readonly<Record<string, readonly string[]>> = { watch: CLUSTER_BUILTINS, demo: CLUSTER_BUILTINS };

/**
 * The command `name` from its code-cached CommonJS bundle (code-cached.ts cachedBundleFile), or undefined (the
 * ESM chunks).
 */
export function cachedCommand(name: string, args: string[], io: CommandIO, chunksUrl: URL): { default: Command } | undefined {
  const file = cachedBundleFile(name, args, io.env, chunksUrl);
  return file === undefined ? undefined : loadCachedCommand(name, file, io);
}

/** Loads the bundle `file` of the command `name` with its code cache (FLUX_MONITOR_DEBUG says whether V8 took it). */
export function loadCachedCommand(name: string, file: string, io: CommandIO): { default: Command } {
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
    for (const m of LOADED_BEFORE_FLAGS[name] ?? []) builtin(m);
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
  // A `run` that throws before its promise (a bundle that fails to load) ends like one that rejects.
  Promise.resolve()
    .then(() => run(processIO()))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err) => {
        process.stderr.write(`flux-monitor: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 3;
      },
    );
}
