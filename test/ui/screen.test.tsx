// What the screen says must match what happened: the live view on a virtual terminal (term.ts, vt.ts), read the
// way a user reads it. Blocked objects say so in their rows, the fold lines and the summary, with the same
// numbers; the line of a Flux message that carries the cause is the one on screen, under the verdict too, and
// the whole messages of the failures stay below the final tree; narrow terminals wrap what they used to cut and
// keep names apart.
import { describe, expect, it, vi } from 'vitest';
import type { NodeState, SessionState } from '../../src/core/types.js';
import { startLiveView, type LiveMode } from '../../src/ui/live.js';

// The interactive path only runs outside CI; Ink decides once, when it is loaded (see live.test.tsx).
vi.hoisted(() => {
  process.env.CI = '0';
  process.env.CONTINUOUS_INTEGRATION = '0';
});
import { edge, node, session, T0 } from './factory.js';
import { FakeStdin, FakeStdout } from './term.js';

/** Shows `state` on a terminal of `columns` x `rows` until the view ends by itself (the session has finished). */
async function shown(state: SessionState, columns: number, rows: number, mode: LiveMode = 'watch'): Promise<FakeStdout> {
  const stdout = new FakeStdout(columns, rows);
  const view = startLiveView({
    initial: state,
    subscribe: () => () => undefined,
    mode,
    verbosity: 'normal',
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: new FakeStdin(false) as unknown as NodeJS.ReadStream,
    env: { NO_COLOR: '1' },
  });
  await view.waitUntilExit();
  return stdout;
}

const finished = (s: SessionState, verdictMessage: string, extra: Partial<SessionState> = {}): SessionState => ({
  ...s,
  status: 'finished',
  verdict: 'failed',
  verdictMessage,
  endedAt: T0 + 14_000,
  updatedAt: T0 + 14_000,
  ...extra,
});

/** The phase column of a tree row (`… Kustomization flux-system/apps   Blocked   12s`), if the line is one. */
const PHASE_WORDS = ['Ready', 'Progressing', 'Waiting', 'Failed', 'Stalled', 'Pending', 'Suspended', 'Superseded', 'Unknown', 'Blocked', 'Deleted'];
const rowPhase = (line: string): string | undefined => new RegExp(`\\s(${PHASE_WORDS.join('|')})\\s+\\d+(?:ms|s|m\\d\\ds|h\\d\\dm)$`).exec(line)?.[1];

describe('blocked objects: one vocabulary on screen', () => {
  /** infra fails; apps depends on it (Waiting, blocked); apps would apply 30 HelmReleases (Pending, blocked). */
  function blockedFleet(): SessionState {
    const src = node('GitRepository', 'flux-system', 'Ready');
    const infra = node('Kustomization', 'infra', 'Failed', { reason: 'BuildFailed', message: "kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'missing.yaml': open /tmp/kustomization-123/infra/missing.yaml: no such file or directory': must build at directory: not a valid directory" });
    const apps = node('Kustomization', 'apps', 'Waiting', { reason: 'DependencyNotReady', message: "dependency 'flux-system/infra' is not ready", blockers: ['flux-system/infra'], settled: true, blockedBy: infra.key });
    const hrs = Array.from({ length: 30 }, (_, i) =>
      node('HelmRelease', `svc-${String(i).padStart(2, '0')}`, 'Pending', { namespace: 'apps', settled: true, blockedBy: apps.key }),
    );
    const edges = [edge(infra, src, 'source'), edge(apps, src, 'source'), edge(apps, infra, 'dependsOn'), ...hrs.map((h) => edge(apps, h, 'inventory'))];
    return session([src, infra, apps, ...hrs], edges, { matchedSources: [src.key] });
  }

  it('rows say Blocked (and by what), the fold line and the summary count them as blocked, and the numbers agree', async () => {
    const state = finished(blockedFleet(), 'commit 3f2a9c1 failed: 1 failed, 31 blocked, 1 ready (Kustomization flux-system/infra: BuildFailed)');
    const stdout = await shown(state, 100, 24);
    const screen = stdout.vt.all().split('\n');
    const rows = screen.filter((l) => rowPhase(l) !== undefined);
    // No row says Waiting or Pending: nothing is waiting or pending any more, as the summary says.
    expect(rows.map(rowPhase)).not.toContain('Waiting');
    expect(rows.map(rowPhase)).not.toContain('Pending');
    const appsRow = screen.findIndex((l) => /Kustomization flux-system\/apps /.test(l));
    expect(rowPhase(screen[appsRow]!)).toBe('Blocked');
    // It hangs under what blocks it, the failed infra: the tree says by what, no line repeats it.
    const infraRow = screen.findIndex((l) => /Kustomization flux-system\/infra /.test(l));
    expect(rowPhase(screen[infraRow]!)).toBe('Failed');
    expect(screen.slice(infraRow + 1, appsRow).every((l) => rowPhase(l) === undefined)).toBe(true);
    expect(screen.join('\n')).not.toContain('blocked by');
    // The 30 HelmReleases it would apply are folded; the fold line says blocked, like the summary.
    const fold = screen.find((l) => /\+\d+ more/.test(l)) ?? '';
    expect(fold).toMatch(/\+\d+ more \(\d+ blocked\)$/);
    const summary = screen.find((l) => / ready, .* pending/.test(l)) ?? '';
    expect(summary).toBe('1 ready, 0 progressing, 0 waiting, 1 failed, 0 pending, 31 blocked');
    // Rows plus folded objects add up to the summary, category by category.
    const shownBlocked = rows.filter((l) => rowPhase(l) === 'Blocked').length + Number(/\((\d+) blocked\)/.exec(fold)![1]);
    expect(shownBlocked).toBe(31);
    expect(rows.filter((l) => rowPhase(l) === 'Ready')).toHaveLength(1);
    expect(rows.filter((l) => rowPhase(l) === 'Failed')).toHaveLength(1);
  });
});

describe('the cause of a failure', () => {
  // helm-controller's values schema error, under the Stalled message the status model puts before it.
  const schema =
    "Failed to upgrade after 1 attempt(s): Helm upgrade failed for release apps/redis with chart redis@20.6.0: values don't meet the specifications of the schema(s) in the following chart(s):\nredis:\n- master.resources.limits.memory: Invalid type. Expected: string, given: integer";

  function redisStalled(): SessionState {
    const src = node('GitRepository', 'flux-system', 'Ready');
    const apps = node('Kustomization', 'apps', 'Ready');
    const redis = node('HelmRelease', 'redis', 'Stalled', { namespace: 'apps', reason: 'RetriesExceeded', message: schema, phaseSince: T0 + 13_000 });
    const s = session([src, apps, redis], [edge(apps, src, 'source'), edge(apps, redis, 'inventory')], { matchedSources: [src.key] });
    return finished(s, 'commit 3f2a9c1 failed: 1 failed, 2 ready (HelmRelease apps/redis: RetriesExceeded)');
  }

  it('the row, the verdict and, below the final tree, the whole message say what to fix', async () => {
    const stdout = await shown(redisStalled(), 120, 30);
    const screen = stdout.vt.all();
    const lines = screen.split('\n');
    // Under the row: the reason and the line that carries the cause, not the wrapper that begins the message.
    const row = lines.findIndex((l) => /HelmRelease apps\/redis +Stalled/.test(l));
    expect(lines[row + 1]).toMatch(/^ +RetriesExceeded: Helm upgrade failed: master\.resources\.limits\.memory: Invalid type\. Expected: string, given:/);
    // The verdict names the object and its reason; the line under it, the cause.
    const verdict = lines.findIndex((l) => l.startsWith('✖ Failed after 14s: commit 3f2a9c1 failed'));
    expect(verdict).toBeGreaterThan(row);
    expect(lines.slice(verdict, verdict + 3).join(' ')).toContain('(HelmRelease apps/redis: RetriesExceeded)');
    expect(lines.slice(verdict + 1, verdict + 4).join('\n')).toMatch(/^ {2}cause: Helm upgrade failed: master\.resources\.limits\.memory: Invalid type\. Expected: string, given: integer$/m);
    // Once the view has ended: the whole message, every line of it, below the final frame.
    const report = lines.findIndex((l) => l === 'What failed, in full (1):');
    expect(report).toBeGreaterThan(verdict);
    expect(lines[report + 1]).toBe('✖ HelmRelease apps/redis  Stalled  RetriesExceeded');
    const after = lines.slice(report + 2);
    expect(after.join('')).toContain("Failed to upgrade after 1 attempt(s): Helm upgrade failed for release apps/redis with chart redis@20.6.0:");
    expect(after).toContain('  redis:');
    expect(after).toContain('  - master.resources.limits.memory: Invalid type. Expected: string, given: integer');
    // The final frame itself is drawn once.
    expect(screen.match(/flux-monitor 3f2a9c1/g)).toHaveLength(1);
  });

  it('a session that did not fail leaves nothing below its tree', async () => {
    const s = redisStalled();
    const ok: SessionState = {
      ...s,
      verdict: 'success',
      verdictMessage: 'commit 3f2a9c1 is applied: 3 ready',
      nodes: Object.fromEntries(Object.values(s.nodes).map((n): [string, NodeState] => [n.key, { ...n, phase: 'Ready', reason: '', message: '' }])),
    };
    const screen = (await shown(ok, 100, 30)).vt.all();
    expect(screen).not.toContain('What failed');
    expect(screen.split('\n').at(-1)).toBe('✔ Succeeded after 14s: commit 3f2a9c1 is applied: 3 ready');
  });
});

describe('narrow terminals', () => {
  /** The demo's fleet, as it ends (README): flux-system applies apps, monitoring and monitoring-crds; one fails. */
  function demo(): SessionState {
    const src = node('GitRepository', 'flux-system', 'Ready');
    const root = node('Kustomization', 'flux-system', 'Ready');
    const crds = node('Kustomization', 'monitoring-crds', 'Failed', { reason: 'BuildFailed', message: "kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'crds.yaml': open /tmp/kustomization-1/crds.yaml: no such file or directory': must build at directory: not a valid directory" });
    const mon = node('Kustomization', 'monitoring', 'Waiting', { reason: 'DependencyNotReady', message: "dependency 'flux-system/monitoring-crds' is not ready", settled: true, blockedBy: crds.key });
    const repo = node('HelmRepository', 'prometheus-community', 'Pending', { namespace: 'monitoring', settled: true, blockedBy: mon.key });
    const stack = node('HelmRelease', 'kube-prometheus-stack', 'Pending', { namespace: 'monitoring', settled: true, blockedBy: mon.key });
    const apps = Array.from({ length: 12 }, (_, i) => node('HelmRelease', `app-${i}`, 'Ready', { namespace: 'apps' }));
    const edges = [
      edge(root, src, 'source'),
      edge(root, crds, 'inventory'),
      edge(root, mon, 'inventory'),
      edge(mon, crds, 'dependsOn'),
      edge(mon, repo, 'inventory'),
      edge(mon, stack, 'inventory'),
      ...apps.map((a) => edge(root, a, 'inventory')),
    ];
    const s = session([src, root, crds, mon, repo, stack, ...apps], edges, { matchedSources: [src.key], cluster: { context: 'flux-monitor-demo' } });
    return finished(s, 'commit 3f2a9c1 failed: 1 failed, 3 blocked, 14 ready (Kustomization flux-system/monitoring-crds: BuildFailed)');
  }

  it('at 60 columns the summary wraps instead of being cut, and monitoring and monitoring-crds stay apart', async () => {
    const stdout = await shown(demo(), 60, 40);
    const lines = stdout.vt.all().split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(60);
    // The summary is whole: every count, none cut with ….
    const from = lines.findIndex((l) => /^\d+ ready, /.test(l));
    const summary = lines.slice(from, from + 2).join(' ');
    expect(summary).toBe('14 ready, 0 progressing, 0 waiting, 1 failed, 0 pending, 3 blocked');
    // Each object's row names it so that it can be told apart from the others.
    const names = lines.filter((l) => rowPhase(l) !== undefined).map((l) => l.replace(/^[\s│├└─]*\S+ \S+ /, '').replace(/\s+\S+\s+\S+$/, ''));
    expect(new Set(names).size).toBe(names.length);
    const crds = lines.find((l) => /Kustomization .*crds/.test(l) && rowPhase(l) === 'Failed');
    expect(crds).toBeDefined();
    const mon = lines.findIndex((l) => /Kustomization .*\/monitoring +Blocked/.test(l));
    expect(mon).toBeGreaterThan(0);
    // monitoring hangs under flux-system: the line under it says what blocks it, the name's end kept.
    expect(lines[mon + 1]).toMatch(/│ +blocked by Kustomization \S*…\S*-crds \(Failed\)$/);
    // The objects it would apply hang under it, blocked too; the tree says by what.
    expect(lines.slice(mon + 2, mon + 4).map(rowPhase)).toEqual(['Blocked', 'Blocked']);
    expect(lines.filter((l) => rowPhase(l) === 'Blocked')).toHaveLength(3);
  });

  it('at 80 columns the header keeps its end (finished), wrapping at its separators', async () => {
    const s = demo();
    const long = { ...s, repo: { ...s.repo, url: 'https://github.com/acme-corporation/fleet-infrastructure' } };
    const lines = (await shown(long, 80, 40)).vt.all().split('\n');
    // Broken at a ` · `: the two lines read as one.
    const header = lines.slice(1, 3).map((l) => l.trim()).join(' · ');
    expect(header).toBe('main → github.com/acme-corporation/fleet-infrastructure on flux-monitor-demo · 14s · 18 objects · finished');
    expect(lines.slice(0, 3).join('\n')).not.toContain('…');
  });

  it('the cluster error\'s hint and the key hints wrap instead of losing their point', async () => {
    const s = demo();
    const err: SessionState = {
      ...s,
      status: 'running',
      verdict: undefined,
      verdictMessage: undefined,
      endedAt: undefined,
      error: {
        category: 'unreachable',
        message: 'cannot reach the Kubernetes API (ECONNRESET)',
        hint: 'Check the cluster is up and reachable (VPN, `kubectl cluster-info`, the --context you use); flux-monitor keeps retrying.',
      },
    };
    const stdout = new FakeStdout(40, 40);
    const stdin = new FakeStdin(true);
    const view = startLiveView({
      initial: err,
      subscribe: () => () => undefined,
      mode: 'status',
      verbosity: 'normal',
      stdout: stdout as unknown as NodeJS.WriteStream,
      stdin: stdin as unknown as NodeJS.ReadStream,
      env: { NO_COLOR: '1' },
    });
    await vi.waitFor(() => expect(stdout.screen()).toContain('q quit'));
    const screen = stdout.screen();
    const flat = screen.split('\n').map((l) => l.trim()).join(' ');
    expect(flat).toContain('flux-monitor keeps retrying.');
    // Every key hint is on screen, none cut.
    expect(flat).toContain('detached — the monitor keeps running');
    expect(flat).toContain('v more detail');
    expect(flat).toContain('a all objects');
    stdin.type('q');
    await view.waitUntilExit();
  });
});
