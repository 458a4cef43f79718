#!/usr/bin/env node
// flux-monitor entry point. Commands are loaded lazily so that light commands (the git hook helpers) start fast;
// `npm run build` bundles this file and what it loads into dist/src/cli.js and a few chunks, each command's
// loaded only when it runs (bench/bundle.mjs, docs/performance.md (i)).
import * as nodeModule from 'node:module';
import { existsSync, realpathSync } from 'node:fs';
import { loadWithCodeCache } from './cjs-cache.js';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import type { Command, CommandIO } from './commands/types.js';
import { UsageError } from './commands/args.js';

/** Every command (help.ts holds their help pages; test/unit/help.test.ts checks the two agree). */
export const COMMANDS: Record<string, () => Promise<{ default: Command }>> = {
  watch: () => import('./commands/watch.js'),
  status: () => import('./commands/status.js'),
  stop: () => import('./commands/stop.js'),
  history: () => import('./commands/history.js'),
  demo: () => import('./commands/demo.js'),
  mcp: () => import('./commands/mcp.js'),
  install: () => import('./commands/install.js'),
  uninstall: () => import('./commands/uninstall.js'),
  hook: () => import('./commands/hook.js'),
  'run-session': () => import('./commands/run-session.js'),
  version: () => import('./commands/version.js'),
  help: () => import('./commands/help.js'),
  completion: () => import('./commands/completion.js'),
};

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

/** The command from its cached CommonJS bundle, where the build made one and it suits these arguments. */
function cachedCommand(name: string, args: string[], io: CommandIO): { default: Command } | undefined {
  if (!CODE_CACHED[name]?.(args) || io.env.FLUX_MONITOR_NO_CODE_CACHE) return undefined;
  const file = fileURLToPath(new URL(`./chunks/${name}.cjs`, import.meta.url));
  if (!existsSync(file)) return undefined; // the sources or tsc's output: no bundle
  const loaded = loadWithCodeCache(file);
  if (io.env.FLUX_MONITOR_DEBUG) io.stderr.write(`flux-monitor: ${name} from chunks/${name}.cjs, code cache ${loaded.cacheAccepted ? 'taken' : 'not taken'}\n`);
  return loaded.exports as unknown as { default: Command };
}

/** Commands that run a monitor or a live view for a long time. */
const LONG_RUNNING = new Set(['watch', 'status', 'demo', 'run-session', 'mcp']);

/** The top-level usage, from the help table (src/commands/help.ts): no command module is loaded for it. */
async function usage(io: CommandIO): Promise<void> {
  io.stdout.write((await import('./commands/help.js')).renderUsage());
}

/** Whether the arguments of a command ask for its help (`--help` or `-h` before any `--`). */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    await usage(io);
    return name ? 0 : 64;
  }
  if (name === '--version' || name === '-v') return main(['version'], io);
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`flux-monitor: unknown command "${name}"\n`);
    await usage(io);
    return 64;
  }
  // `<command> --help` shows the help page, from the table: the command is neither loaded nor run.
  if (asksForHelp(rest)) {
    const { HELP, renderHelp } = await import('./commands/help.js');
    if (HELP[name]) {
      io.stdout.write(renderHelp(name));
      return 0;
    }
    const cmd = (await load()).default;
    io.stdout.write(`${cmd.summary}\n\nUsage: ${cmd.usage}\n`);
    return 0;
  }
  // React reads NODE_ENV when it is loaded; the command is loaded before V8's flags below change: a code cache is
  // only taken under the flags it was made with.
  if (LONG_RUNNING.has(name)) process.env.NODE_ENV ??= 'production';
  const cmd = (cachedCommand(name, rest, io) ?? (await load())).default;
  if (LONG_RUNNING.has(name)) {
    // A monitor may hold 10,000 objects for many minutes: V8's size-optimised heap keeps its RSS well under
    // 150 MB for about 10 points of CPU under heavy churn (docs/performance.md).
    setFlagsFromString('--optimize-for-size');
    // React's development build doubles the cost of every frame of the live view (process.env's is set above).
    io.env.NODE_ENV ??= 'production';
  }
  try {
    return await cmd.run(rest, io);
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

function isEntryPoint(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
const isEntry = isEntryPoint();
if (isEntry) {
  // Node ≥ 22.1 keeps V8's compiled code of the modules on disk: the chunks a command loads are compiled once, not
  // at every start (Node 20 has no such cache; nothing happens there).
  try {
    (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  } catch {
    /* a cache directory that cannot be written: start as without it */
  }
  // Stack traces (shown with FLUX_MONITOR_DEBUG) name the TypeScript sources of the bundle (its source maps);
  // off otherwise: reading the maps costs start-up time. `node --enable-source-maps` turns them on too.
  if (process.env.FLUX_MONITOR_DEBUG) process.setSourceMapsEnabled(true);
  // `flux-monitor history | head`: a closed pipe ends the output quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`flux-monitor: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 3;
    },
  );
}
