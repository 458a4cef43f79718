import type { Command } from './types.js';
import { parseArgs, str, UsageError } from './args.js';
import { uninstallHooks } from '../git/hooks.js';
import { gitCommonDir, hooksDir, repoRoot } from '../git/repo.js';
import { writeWatchedCache } from '../session/branches.js';
import { describe } from './install.js';

const uninstall: Command = {
  name: 'uninstall',
  summary: 'Remove the git hooks and put back the hooks they chained',
  usage: 'flux-monitor uninstall [--repo PATH]',
  async run(argv, io) {
    const args = parseArgs(argv, { repo: { value: true } });
    if (args.positionals.length) throw new UsageError('no arguments expected (use --repo PATH)');
    const root = await repoRoot(str(args, 'repo') ?? io.cwd);
    const dir = await hooksDir(root);
    const actions = uninstallHooks(dir);
    const commonDir = await gitCommonDir(root);
    writeWatchedCache(commonDir, undefined);
    writeWatchedCache(commonDir, undefined, 'watched-tags');
    io.stdout.write(`flux-monitor hooks in ${dir}:\n`);
    for (const a of actions) io.stdout.write(`  ${describe(a)}\n`);
    io.stdout.write('Past sessions are kept (see `flux-monitor history`).\n');
    return 0;
  },
};
export default uninstall;
