// Hidden: the detached monitor of one pushed branch or tag (started by `flux-monitor hook push-done`).
import type { Command } from './types.js';
import { list, parseArgs, str, UsageError } from './args.js';
import { statePaths } from '../session/paths.js';
import { isValidSessionId } from '../session/store.js';
import { runDetachedSession } from '../session/monitor-process.js';

const runSession: Command = {
  name: 'run-session',
  summary: 'Internal: the detached monitor of one push',
  usage: 'flux-monitor run-session --id ID --repo PATH (--branch B | --tag T) --sha SHA --pushed-at MS [--remote NAME] [--url URL] [--kubeconfig PATH] [--context NAME]...',
  hidden: true,
  async run(argv, io) {
    const args = parseArgs(argv, {
      id: { value: true },
      repo: { value: true },
      branch: { value: true },
      tag: { value: true },
      sha: { value: true },
      'pushed-at': { value: true },
      remote: { value: true },
      url: { value: true },
      kubeconfig: { value: true },
      context: { value: true, multiple: true },
    });
    const need = (n: string): string => {
      const v = str(args, n);
      if (!v) throw new UsageError(`--${n} is required`);
      return v;
    };
    const id = need('id');
    if (!isValidSessionId(id)) throw new UsageError(`invalid session id "${id}"`);
    const sha = need('sha').toLowerCase();
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) throw new UsageError('--sha must be a full commit sha');
    const branch = str(args, 'branch');
    const tag = str(args, 'tag');
    if (Boolean(branch) === Boolean(tag)) throw new UsageError('one of --branch and --tag is required');
    const pushedAt = Number(need('pushed-at'));
    if (!Number.isFinite(pushedAt)) throw new UsageError('--pushed-at must be a time in ms');
    const code = await runDetachedSession({
      id,
      repoPath: need('repo'),
      branch,
      tag,
      sha,
      pushedAt,
      remote: str(args, 'remote'),
      url: str(args, 'url'),
      kubeconfig: str(args, 'kubeconfig'),
      contexts: list(args, 'context'),
      paths: statePaths(io.env),
      env: io.env,
      log: (l) => io.stdout.write(`${new Date().toISOString()} ${l}\n`),
    });
    // The verdict is recorded: a handle left open somewhere must not keep a finished monitor alive.
    setTimeout(() => process.exit(code), 2000).unref();
    return code;
  },
};
export default runSession;
