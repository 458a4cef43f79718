// Tag pushes: confirmed with ls-remote (git updates no local ref for them), followed when a GitRepository of the
// pushed repository follows the tag (by name, or by a semver range the tag satisfies), at the tagged commit.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/core/types.js';
import { decidePushed, type ConfirmDeps, type PushIntent } from '../../src/git/intent.js';
import { handlePushDone } from '../../src/session/push-done.js';
import { statePaths } from '../../src/session/paths.js';
import { ApiSimulator } from '../../src/sim/server.js';

const Z = '0'.repeat(40);
const A = 'a'.repeat(40);

describe('decidePushed: tags', () => {
  const intent: PushIntent = { remote: 'origin', url: '/r.git', dir: '/w', refs: [{ localRef: 'refs/tags/v1.0.0', localSha: A, remoteRef: 'refs/tags/v1.0.0', remoteSha: Z }] };
  const deps = (lsRemote: ConfirmDeps['lsRemote'], asked: string[] = []): ConfirmDeps => ({
    remoteUrl: async (n) => (n === 'origin' ? '/r.git' : undefined),
    // A fetch refspec that maps tags onto themselves (some set +refs/tags/*:refs/tags/*): still no confirmation
    // can come from reference-transaction, since git push updates no local ref for a tag.
    trackingRef: async (_r, ref) => (asked.push(ref), ref),
    lsRemote,
  });

  it('a pushed tag is confirmed iff ls-remote shows the pushed object, even on a named remote', async () => {
    const asked: string[] = [];
    expect(await decidePushed(intent, [], deps(async (_r, ref) => (ref === 'refs/tags/v1.0.0' ? A : undefined), asked))).toMatchObject([
      { branch: '', tag: 'v1.0.0', pushed: true, how: 'ls-remote' },
    ]);
    expect(asked).toEqual([]); // no tracking ref is looked for
    const rejected = await decidePushed(intent, [], deps(async () => undefined));
    expect(rejected).toMatchObject([{ tag: 'v1.0.0', pushed: false }]);
    expect(rejected[0]!.reason).toBe(`remote refs/tags/v1.0.0 is absent, not ${A}`);
  });

  it('a deleted tag is not a push', async () => {
    const del: PushIntent = { ...intent, refs: [{ localRef: '(delete)', localSha: Z, remoteRef: 'refs/tags/v1.0.0', remoteSha: A }] };
    expect(await decidePushed(del, [], deps(async () => undefined))).toMatchObject([{ tag: 'v1.0.0', pushed: false, reason: 'not a branch or tag update' }]);
  });
});

describe('push-done: tag pushes', () => {
  let sim: ApiSimulator;
  let kubeconfig: string;
  let seq = 0;

  beforeAll(async () => {
    sim = new ApiSimulator();
    await sim.start();
    kubeconfig = join(mkdtempSync(join(tmpdir(), 'fm-tags-kube-')), 'kubeconfig');
    await sim.writeKubeconfig(kubeconfig);
  });
  afterAll(async () => {
    await sim?.stop();
  });

  const env = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t', GIT_CONFIG_NOSYSTEM: '1' };
  const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } }).trim();

  /** A work tree with a bare remote (origin), tags pushed as listed, and the intent pre-push would have written. */
  function setup(opts: { config?: string; pushed: string[]; intentTags: string[]; branch?: boolean }) {
    const base = realpathSync(mkdtempSync(join(tmpdir(), 'fm-tags-')));
    const bare = join(base, 'remote.git');
    const root = join(base, 'work');
    sh(base, 'init', '-q', '--bare', bare);
    sh(base, 'init', '-q', '-b', 'main', root);
    sh(root, 'commit', '-q', '--allow-empty', '-m', 'first');
    const first = sh(root, 'rev-parse', 'HEAD');
    sh(root, 'commit', '-q', '--allow-empty', '-m', 'second');
    const head = sh(root, 'rev-parse', 'HEAD');
    sh(root, 'remote', 'add', 'origin', bare);
    sh(root, 'tag', 'v1.0.0', first); // lightweight, on the first commit
    sh(root, 'tag', '-a', '-m', 'release 2.1.0', 'v2.1.0'); // annotated, on HEAD
    sh(root, 'tag', 'v3.0.0');
    sh(root, 'tag', 'v1.0.1');
    sh(root, 'push', '-q', 'origin', 'main', ...opts.pushed);
    mkdirSync(join(root, '.kiro', 'hooks'), { recursive: true });
    writeFileSync(join(root, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), opts.config ?? 'config:\n  timeout: 20\n');
    const paths = statePaths({ XDG_STATE_HOME: join(base, 'state') });
    mkdirSync(paths.intents, { recursive: true });
    const intent = join(paths.intents, String(4000 + ++seq));
    const line = (t: string) => `refs/tags/${t} ${sh(root, 'rev-parse', `refs/tags/${t}`)} refs/tags/${t} ${Z}`;
    const lines = [...(opts.branch ? [`refs/heads/main ${head} refs/heads/main ${Z}`] : []), ...opts.intentTags.map(line)];
    writeFileSync(intent, ['flux-monitor-intent 1', 'remote origin', `url ${bare}`, `dir ${root}`, ...lines, ''].join('\n'));
    if (opts.branch) writeFileSync(intent + '.confirmed', `${Z} ${head} refs/remotes/origin/main\n`); // as reference-transaction does
    return { base, bare, root, paths, intent, first, head, tagObject: sh(root, 'rev-parse', 'refs/tags/v2.1.0') };
  }

  function gitRepository(name: string, url: string, ref: Record<string, string>): void {
    sim.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace: 'flux-system' }, spec: { url, ref, interval: '1m' } } as KubeObject);
  }

  async function run(t: ReturnType<typeof setup>, kube = kubeconfig) {
    const started: string[][] = [];
    const logs: string[] = [];
    const res = await handlePushDone({
      intentFile: t.intent,
      paths: t.paths,
      env: { ...process.env, ...env, KUBECONFIG: kube },
      log: (l) => logs.push(l),
      startMonitor: async (args) => (started.push(args), 4242),
    });
    const flag = (args: string[], n: string) => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
    return { res, logs, started: started.map((a) => ({ tag: flag(a, '--tag'), branch: flag(a, '--branch'), sha: flag(a, '--sha') })) };
  }

  it('starts a monitor per followed tag, at the commit the tag names (annotated: not the tag object); others are left alone', async () => {
    const t = setup({ pushed: ['v1.0.0', 'v2.1.0', 'v3.0.0'], intentTags: ['v1.0.0', 'v2.1.0', 'v3.0.0', 'v1.0.1'] });
    gitRepository(`exact-${seq}`, t.bare, { tag: 'v1.0.0', branch: 'main' });
    gitRepository(`range-${seq}`, t.bare, { semver: '^2.0', tag: 'v3.0.0' }); // the range shadows its tag
    const { res, logs, started } = await run(t);
    expect(res.decisions.map((d) => [d.tag, d.pushed])).toEqual([
      ['v1.0.0', true],
      ['v2.1.0', true],
      ['v3.0.0', true],
      ['v1.0.1', false], // never reached the remote
    ]);
    expect(started).toEqual([
      { tag: 'v1.0.0', branch: undefined, sha: t.first },
      { tag: 'v2.1.0', branch: undefined, sha: t.head },
    ]);
    expect(t.tagObject).not.toBe(t.head);
    expect(res.started.map((s) => [s.tag, s.sha])).toEqual([
      ['v1.0.0', t.first],
      ['v2.1.0', t.head],
    ]);
    expect(logs).toContain(`tag v1.0.0 is followed by GitRepository/flux-system/exact-${seq}`);
    expect(logs).toContain('tag v3.0.0 is followed by no GitRepository of this repository; left alone');
    // The pre-push hint cache: the followed tag, and version-shaped tags for the range.
    expect(readFileSync(join(t.root, '.git', 'flux-monitor', 'watched-tags'), 'utf8')).toBe('v1.0.0\nv[0-9]*.[0-9]*.[0-9]*\n[0-9]*.[0-9]*.[0-9]*\n');
  });

  it('a tag no GitRepository follows starts nothing, and neither does a tag when the cluster cannot be asked', async () => {
    const t = setup({ pushed: ['v3.0.0'], intentTags: ['v3.0.0'] });
    gitRepository(`branch-${seq}`, t.bare, { branch: 'main' });
    const none = await run(t);
    expect(none.res.decisions.map((d) => d.pushed)).toEqual([true]);
    expect(none.started).toEqual([]);
    expect(none.logs).toContain('tag v3.0.0 is followed by no GitRepository of this repository; left alone');
    expect(readFileSync(join(t.root, '.git', 'flux-monitor', 'watched-tags'), 'utf8')).toBe('');

    // No cluster: the branch falls back to the default branches, the tag starts nothing.
    const u = setup({ pushed: ['v1.0.0'], intentTags: ['v1.0.0'], branch: true });
    gitRepository(`exact-${seq}`, u.bare, { tag: 'v1.0.0' });
    const unreachable = await run(u, join(u.base, 'no-kubeconfig'));
    expect(unreachable.started).toEqual([{ tag: undefined, branch: 'main', sha: u.head }]);
    expect(unreachable.logs.some((l) => l.startsWith('cannot tell which tags Flux follows: cannot list GitRepositories'))).toBe(true);
    expect(unreachable.logs).toContain('tag v1.0.0 is not known to be followed by Flux; left alone');
  });

  it('enabled: false starts nothing for tags either, and silences the hint', async () => {
    const t = setup({ config: 'enabled: false\n', pushed: ['v1.0.0'], intentTags: ['v1.0.0'] });
    gitRepository(`exact-${seq}`, t.bare, { tag: 'v1.0.0' });
    const { started } = await run(t);
    expect(started).toEqual([]);
    expect(readFileSync(join(t.root, '.git', 'flux-monitor', 'watched-tags'), 'utf8')).toBe('');
    expect(existsSync(t.intent)).toBe(false);
  });
});
