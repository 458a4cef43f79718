import { realpathSync, existsSync } from 'node:fs';
import { relative } from 'node:path';
import type { Command } from './types.js';
import { bool, parseArgs, str, UsageError } from './args.js';
import { defaultCliPath, installHooks, type HookAction } from '../git/hooks.js';
import { git, gitCommonDir, gitVersion, hooksDir, repoRoot } from '../git/repo.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { writeWatchedCache } from '../session/branches.js';
import { stateDir } from '../session/paths.js';

const install: Command = {
  name: 'install',
  summary: 'Install the git hooks that start a monitor after each successful push',
  usage: 'flux-monitor install [--repo PATH] [--force]',
  async run(argv, io) {
    const args = parseArgs(argv, { repo: { value: true }, force: {} });
    if (args.positionals.length) throw new UsageError('no arguments expected (use --repo PATH)');
    const root = await repoRoot(str(args, 'repo') ?? io.cwd);
    const out = (l: string) => io.stdout.write(l + '\n');

    const [major, minor] = await gitVersion();
    if (major < 2 || (major === 2 && minor < 28)) {
      io.stderr.write(`flux-monitor install: git ${major}.${minor} has no reference-transaction hook; git 2.28 or newer is needed to confirm pushes\n`);
      return 3;
    }
    const cli = defaultCliPath();
    if (!existsSync(cli)) {
      io.stderr.write(`flux-monitor install: ${cli} is missing: run \`npm run build\` first\n`);
      return 3;
    }
    const dir = await hooksDir(root);
    const actions = installHooks(dir, { node: realpathSync(process.execPath), cli: realpathSync(cli), force: bool(args, 'force') });
    const hooksPath = await git(root, ['config', '--get', 'core.hooksPath']).catch(() => '');
    const shared = hooksPath && relative(root, dir).startsWith('..');
    out(`flux-monitor hooks in ${dir}${hooksPath ? ` (core.hooksPath = ${hooksPath}${shared ? ': every repository using it gets them' : ''})` : ''}:`);
    // A bare repository runs its own hooks for the pushes made from it (a mirror, a bare clone with worktrees).
    if (root === (await gitCommonDir(root))) out(`  (bare repository: pushes made from ${root} start a monitor)`);
    for (const a of actions) out(`  ${describe(a)}`);

    let cache: string[] | undefined;
    let tagCache: string[] | undefined;
    try {
      const cfg = loadConfig(root);
      out(cfg.path ? `config: ${cfg.path}${cfg.enabled ? '' : ' (enabled: false: pushes start no monitor)'}` : 'config: defaults (no .kiro/hooks/flux-reconciliation-monitor.yaml)');
      cache = !cfg.enabled ? [] : cfg.config.branches.length ? cfg.config.branches : undefined;
      tagCache = !cfg.enabled ? [] : undefined;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.stderr.write(`flux-monitor install: warning: the hook configuration is invalid; pushes will report it until fixed:\n${err.message}\n`);
    }
    const commonDir = await gitCommonDir(root);
    writeWatchedCache(commonDir, cache);
    writeWatchedCache(commonDir, tagCache, 'watched-tags');
    // Without a usable state directory the hooks do nothing: say so (the hooks are installed all the same).
    try {
      out(`sessions: ${stateDir(io.env)}`);
    } catch (err) {
      io.stderr.write(`flux-monitor install: warning: ${(err as Error).message}\n`);
    }
    out('After your next push to a branch Flux follows, run `flux-monitor status` to watch it.');
    return actions.some((a) => a.action === 'skipped') ? 1 : 0;
  },
};
export default install;

export function describe(a: HookAction): string {
  switch (a.action) {
    case 'installed':
      return `${a.hook}: installed${a.note ? ` (${a.note})` : ''}`;
    case 'updated':
      return `${a.hook}: updated${a.chained ? `, runs ${a.chained} first` : ''}`;
    case 'unchanged':
      return `${a.hook}: already installed${a.chained ? `, runs ${a.chained} first` : ''}`;
    case 'chained':
      return `${a.hook}: installed; the existing hook was moved to ${a.chained} and runs first`;
    case 'restored':
      return `${a.hook}: removed; ${a.path} restored from ${a.chained}`;
    case 'removed':
      return `${a.hook}: removed`;
    case 'absent':
      return `${a.hook}: not installed`;
    case 'skipped':
      return `${a.hook}: left alone: ${a.note ?? 'not a flux-monitor hook'}`;
  }
}
