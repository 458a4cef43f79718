// (a) What the installed git hooks add to `git push`: pushes of one new commit to a local bare remote from two
// identical clones, one with the hooks installed (`flux-monitor install`), one without, interleaved.
//
// What is timed is `git push` itself, hooks included. The hooks' slow half (`flux-monitor hook push-done`,
// then the detached monitor) runs after git has exited, so it is not part of the push; it is measured apart
// (push exit → the session is recorded) and the next push waits for it, so it never overlaps a timed push.
// To keep that half short the monitor has no cluster: KUBECONFIG points at a file that does not exist, so the
// session ends at once with a config error (and `branches: [main]` in the hook file spares the cluster lookup
// of the watched branches).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, median, sleep } from './lib.js';

export interface HooksTiming {
  withoutMs: number;
  withMs: number;
  /** Median of the paired differences (with − without), ms. */
  addedMs: number;
  ratio: number;
}

export interface HooksResult {
  pushes: number;
  /** Until `git push` exits. */
  exit: HooksTiming;
  /** Until git's stdout/stderr pipes are closed. */
  eof: HooksTiming;
  /** Median time from the end of a hooked push to its session being recorded by the detached monitor, ms. */
  backgroundMs: number;
  gitVersion: string;
}

function lines(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function waitLines(file: string, n: number): Promise<void> {
  const end = Date.now() + 30_000;
  while (lines(file) < n) {
    if (Date.now() > end) throw new Error(`no session recorded in ${file} after a hooked push`);
    await sleep(10);
  }
}

/**
 * The minimal environment of a hooked push in `dir` (its own HOME and state directory, a kubeconfig that does not
 * exist so that a session ends at once) and git run in it.
 */
/**
 * A repository `dir/name` whose hook file watches `main`, pushed once to its bare remote `dir/name.git` (no hooks
 * installed yet): the set-up of the push rows of (a) and (i).
 */
export function watchedRepo(dir: string, git: (cwd: string, ...args: string[]) => string, name: string): string {
  const remote = join(dir, `${name}.git`);
  const work = join(dir, name);
  git(dir, 'init', '-q', '--bare', '-b', 'main', remote);
  git(dir, 'init', '-q', '-b', 'main', work);
  mkdirSync(join(work, '.kiro', 'hooks'), { recursive: true });
  writeFileSync(join(work, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), 'enabled: true\nconfig:\n  branches: [main]\n');
  git(work, 'add', '.');
  git(work, 'commit', '-q', '-m', 'initial');
  git(work, 'remote', 'add', 'origin', remote);
  git(work, 'push', '-q', '-u', 'origin', 'main');
  return work;
}

export function pushBench(dir: string): { env: NodeJS.ProcessEnv; git: (cwd: string, ...args: string[]) => string } {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    XDG_STATE_HOME: join(dir, 'state'),
    KUBECONFIG: join(dir, 'no-such-kubeconfig'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'bench',
    GIT_AUTHOR_EMAIL: 'bench@example.com',
    GIT_COMMITTER_NAME: 'bench',
    GIT_COMMITTER_EMAIL: 'bench@example.com',
    LANG: 'C',
  };
  return { env, git: (cwd, ...args) => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
}

export async function benchHooks(pushes: number): Promise<HooksResult> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-a-'));
  const { env, git } = pushBench(dir);
  const setup = (name: string): string => watchedRepo(dir, git, name);
  try {
    const plain = setup('plain');
    const hooked = setup('hooked');
    const inst = spawnSync(process.execPath, [CLI, 'install', '--repo', hooked], { env, encoding: 'utf8' });
    if (inst.status !== 0) throw new Error(`flux-monitor install failed (${inst.status}): ${inst.stderr}`);
    if (!existsSync(join(hooked, '.git', 'hooks', 'pre-push'))) throw new Error('flux-monitor install did not install pre-push');
    const history = join(dir, 'state', 'flux-monitor', 'history.jsonl');

    // Timed two ways: until git exits (a terminal user waits for that), and until its output pipe reaches EOF
    // (IDEs and scripts that read git's output wait for that: a background process still holding the pipe
    // delays them).
    const push = async (work: string, i: number): Promise<{ exit: number; eof: number }> => {
      git(work, 'commit', '-q', '--allow-empty', '-m', `change ${i}`);
      const t = performance.now();
      const child = spawn('git', ['push', '-q', 'origin', 'main'], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.stdout.resume();
      let exit = NaN;
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', () => (exit = performance.now() - t));
        child.on('close', (c) => resolve(c));
      });
      const eof = performance.now() - t;
      if (code !== 0) throw new Error(`git push failed: ${err}`);
      return { exit, eof };
    };
    const without: Array<{ exit: number; eof: number }> = [];
    const withHooks: Array<{ exit: number; eof: number }> = [];
    const background: number[] = [];
    // Warm-up of both (page cache, git's own start-up), not counted.
    await push(plain, -1);
    await push(hooked, -1);
    await waitLines(history, 1);
    let recorded = lines(history);
    for (let i = 0; i < pushes; i++) {
      // Each pair starts when the previous hooked push's background work has finished.
      without.push(await push(plain, i));
      withHooks.push(await push(hooked, i));
      const tEnd = performance.now();
      const end = Date.now() + 30_000;
      while (lines(history) <= recorded && Date.now() < end) await sleep(2);
      if (lines(history) <= recorded) throw new Error(`the hooked push started no monitor (see ${join(dir, 'state', 'flux-monitor', 'hooks.log')})`);
      background.push(performance.now() - tEnd);
      recorded = lines(history);
    }
    const side = (k: 'exit' | 'eof'): HooksTiming => {
      const a = without.map((x) => x[k]);
      const b = withHooks.map((x) => x[k]);
      return { withoutMs: median(a), withMs: median(b), addedMs: median(b.map((x, i) => x - a[i]!)), ratio: median(b) / median(a) };
    };
    return { pushes, exit: side('exit'), eof: side('eof'), backgroundMs: median(background), gitVersion: git(dir, 'version').trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
