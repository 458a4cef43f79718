// Hidden: the slow half of the git hooks, run detached once `git push` has exited (hooks/pre-push starts it).
import { renameSync, statSync } from 'node:fs';
import type { Command } from './types.js';
import { UsageError } from './args.js';
import { statePaths, type StatePaths } from '../session/paths.js';
import { handlePushDone } from '../session/push-done.js';

/** hooks.log is rotated to hooks.log.1 past this size. */
const MAX_LOG_BYTES = 1 << 20;

const hook: Command = {
  name: 'hook',
  summary: 'Internal: work done for the git hooks',
  usage: 'flux-monitor hook push-done INTENT_FILE',
  hidden: true,
  async run(argv, io) {
    const [name, file, ...rest] = argv;
    if (name !== 'push-done' || !file || rest.length) throw new UsageError('expected: push-done INTENT_FILE');
    const paths = statePaths(io.env);
    rotateLog(paths);
    const log = (l: string) => io.stdout.write(`${new Date().toISOString()} [${process.pid}] ${l}\n`);
    try {
      await handlePushDone({ intentFile: file, paths, env: io.env, log });
    } catch (err) {
      // Output goes to hooks.log; the push itself is long over.
      log(`push-done failed: ${(err as Error).stack ?? String(err)}`);
      return 3;
    }
    return 0;
  },
};
export default hook;

function rotateLog(paths: StatePaths): void {
  try {
    if (statSync(paths.hookLog).size > MAX_LOG_BYTES) renameSync(paths.hookLog, paths.hookLog + '.1');
  } catch {
    /* no log yet */
  }
}
