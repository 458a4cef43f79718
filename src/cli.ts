#!/usr/bin/env node
// flux-monitor entry point. Commands are loaded lazily so that light commands (the git hook helpers) start fast;
// `npm run build` bundles this file and what it loads into dist/src/cli.js and a few chunks, each command's
// loaded only when it runs (bench/bundle.mjs, docs/performance.md (i)).
import * as nodeModule from 'node:module';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command, CommandIO } from './commands/types.js';
import { asksForHelp, beforeLoad, cachedCommand, runCommand, runProcess } from './entry.js';
import { commandName } from './code-cached.js';

export { CODE_CACHED } from './entry.js';

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

/** The top-level usage, from the help table (src/commands/help.ts): no command module is loaded for it. */
async function usage(io: CommandIO): Promise<void> {
  io.stdout.write((await import('./commands/help.js')).renderUsage());
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    await usage(io);
    return name ? 0 : 64;
  }
  if (commandName(name) !== name) return main([commandName(name)!, ...rest], io);
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
  beforeLoad(name);
  const cmd = (cachedCommand(name, rest, io, new URL('./chunks/', import.meta.url)) ?? (await load())).default;
  return runCommand(name, cmd, rest, io);
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
/** Runs the CLI as the process (src/launch.ts calls it for what it does not start itself). */
export function start(): void {
  // Node ≥ 22.1 keeps V8's compiled code of the modules on disk: the chunks a command loads are compiled once, not
  // at every start (Node 20 has no such cache; nothing happens there).
  try {
    (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  } catch {
    /* a cache directory that cannot be written: start as without it */
  }
  runProcess((io) => main(process.argv.slice(2), io));
}

if (isEntryPoint()) start();
