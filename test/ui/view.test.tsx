import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import type { NodeState, SessionState, Verbosity } from '../../src/core/types.js';
import { asciiTail, fitName, SessionView, sessionLines, type Line } from '../../src/ui/view.js';
import { textWidth } from '../../src/ui/theme.js';
import { edge, fleet, node, session, T0 } from './factory.js';

afterEach(() => cleanup());

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

function frame(state: SessionState, o: { verbosity?: Verbosity; showAll?: boolean; width?: number; height?: number; now?: number; spinnerFrame?: number; footer?: string } = {}): string[] {
  const { lastFrame } = render(
    <SessionView
      state={state}
      now={o.now ?? T0 + 65_000}
      verbosity={o.verbosity ?? 'normal'}
      showAll={o.showAll ?? false}
      width={o.width ?? 80}
      height={o.height ?? 40}
      spinnerFrame={o.spinnerFrame ?? 0}
      color={false}
      footer={o.footer}
    />,
  );
  return stripAnsi(lastFrame() ?? '').split('\n');
}

const lineOf = (lines: string[], needle: string) => lines.find((l) => l.includes(needle)) ?? '';

describe('SessionView', () => {
  it('draws a row per object with its icon, kind, name, phase and time in phase', () => {
    const phases = ['Ready', 'Progressing', 'Waiting', 'Failed', 'Stalled', 'Pending', 'Suspended', 'Superseded'] as const;
    const nodes = phases.map((p, i) => node('Kustomization', `ks-${p.toLowerCase()}`, p, { phaseSince: T0 + i * 1000 }));
    const lines = frame(session(nodes), { spinnerFrame: 1, now: T0 + 65_000 });
    expect(lineOf(lines, 'ks-ready')).toMatch(/^✔ Kustomization flux-system\/ks-ready +Ready +1m05s$/);
    expect(lineOf(lines, 'ks-progressing')).toMatch(/^⠙ Kustomization flux-system\/ks-progressing +Progressing +1m04s$/);
    expect(lineOf(lines, 'ks-waiting')).toMatch(/^◷ Kustomization flux-system\/ks-waiting +Waiting +1m03s$/);
    expect(lineOf(lines, 'ks-failed')).toMatch(/^✖ Kustomization flux-system\/ks-failed +Failed +1m02s$/);
    expect(lineOf(lines, 'ks-stalled')).toMatch(/^✖ Kustomization flux-system\/ks-stalled +Stalled +1m01s$/);
    expect(lineOf(lines, 'ks-pending')).toMatch(/^○ Kustomization flux-system\/ks-pending +Pending +1m00s$/);
    expect(lineOf(lines, 'ks-suspended')).toMatch(/^⏸ Kustomization flux-system\/ks-suspended +Suspended +59s$/);
    expect(lineOf(lines, 'ks-superseded')).toMatch(/^↷ Kustomization flux-system\/ks-superseded +Superseded +58s$/);
    // The phase column is aligned.
    const col = (needle: string) => lineOf(lines, needle).search(/(Ready|Progressing|Waiting|Failed|Stalled|Pending|Suspended|Superseded) /);
    expect(new Set(phases.map((p) => col(`ks-${p.toLowerCase()}`))).size).toBe(1);
  });

  it('draws every line as sessionLines spells it: glyphs, ASCII rest and alignment gaps in their columns, with and without colour', () => {
    // Ink draws a tree row as its glyphs and its ASCII rest side by side, and leaves the alignment spaces empty.
    const f = fleet({ apps: 'Failed', hr: 'Progressing' });
    f.state.nodes[f.apps.key] = { ...f.apps, reason: 'BuildFailed', message: 'kustomize build failed: accumulating resources…' };
    const props = { state: f.state, now: T0 + 65_000, verbosity: 'normal' as const, showAll: false, width: 80, height: 40, spinnerFrame: 2 };
    const want = sessionLines(props).map((l) => l.map((g) => g.text).join('').trimEnd());
    expect(want.some((l) => l.includes('└─ ') && l.includes('Failed'))).toBe(true);
    for (const color of [false, true]) {
      const { lastFrame } = render(<SessionView {...props} color={color} />);
      expect(stripAnsi(lastFrame() ?? '').split('\n').map((l) => l.trimEnd())).toEqual(want);
      cleanup();
    }
  });

  it('asciiTail finds where the printable-ASCII rest of a line starts', () => {
    const line = (...texts: string[]): Line => texts.map((text) => ({ text }));
    expect(asciiTail(line('│  ├─ ', '✔', ' Kustomization ', 'apps/web', '   ', 'Ready'))).toBe(2);
    expect(asciiTail(line('3 ready, 0 failed'))).toBe(0);
    expect(asciiTail(line('├─ ', '✔', ' Kustomization ', 'apps/very-long-na…'))).toBe(4);
    expect(asciiTail(line('tab\there'))).toBe(1);
  });

  it('animates progressing objects with the spinner frame', () => {
    const s = session([node('Kustomization', 'apps', 'Progressing')]);
    expect(lineOf(frame(s, { spinnerFrame: 0 }), 'apps').startsWith('⠋')).toBe(true);
    expect(lineOf(frame(s, { spinnerFrame: 2 }), 'apps').startsWith('⠹')).toBe(true);
  });

  it('shows the header: commit, branch → remote, cluster, elapsed, objects, mode', () => {
    const f = fleet();
    const lines = frame({ ...f.state, nodes: { ...f.state.nodes, x: node('Kustomization', 'other', 'Ready', { affected: false }) } });
    expect(lines[0]).toBe('⟳ flux-monitor 3f2a9c1 Bump podinfo to 6.5.0');
    expect(lines[1]).toBe('  main → github.com/acme/fleet on kind-dev · 1m05s · 4 objects · watching');
  });

  it('says in the header when the push is carried through a later commit that includes it', () => {
    const f = fleet();
    const lines = frame({ ...f.state, commit: { ...f.state.commit, through: 'b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0' } }, { width: 120 });
    expect(lines[0]).toBe('⟳ flux-monitor 3f2a9c1 (through b1c2d3e, which includes it) Bump podinfo to 6.5.0');
  });

  it('shows the failure reason and the message line that carries the cause; verbose shows the whole message and blockers', () => {
    const f = fleet({ apps: 'Failed', hr: 'Waiting' });
    f.state.nodes[f.apps.key] = { ...f.apps, reason: 'BuildFailed', message: 'kustomize build failed: accumulating resources\nmissing file podinfo.yaml' };
    f.state.nodes[f.hr.key] = { ...f.hr, reason: 'DependencyNotReady', message: "dependency 'flux-system/apps' is not ready", blockers: ['flux-system/apps'] };
    const normal = frame(f.state);
    const i = normal.findIndex((l) => l.includes('flux-system/apps'));
    // Flux puts the cause last: the last line, not the first, is under the row.
    expect(normal[i + 1]).toBe('      │ BuildFailed: missing file podinfo.yaml');
    expect(normal.join('\n')).not.toContain('accumulating resources');
    expect(normal.join('\n')).not.toContain('waiting for');

    const verbose = frame(f.state, { verbosity: 'verbose' });
    const j = verbose.findIndex((l) => l.includes('flux-system/apps'));
    expect(verbose.slice(j + 1, j + 3)).toEqual(['      │ BuildFailed: kustomize build failed: accumulating resources', '      │ missing file podinfo.yaml']);
    const k = verbose.findIndex((l) => l.includes('podinfo/podinfo'));
    expect(verbose.slice(k + 1, k + 3)).toEqual(['           waiting for: flux-system/apps', "           DependencyNotReady: dependency 'flux-system/apps' is not ready"]);
  });

  it('draws an object reachable twice once, with a reference row', () => {
    const src = node('GitRepository', 'flux-system', 'Ready');
    const a = node('Kustomization', 'crds', 'Ready');
    const b = node('Kustomization', 'infra', 'Ready');
    const apps = node('Kustomization', 'apps', 'Ready');
    const s = session([src, a, b, apps], [edge(a, src, 'source'), edge(b, src, 'source'), edge(apps, a, 'dependsOn'), edge(apps, b, 'dependsOn')]);
    const lines = frame(s);
    expect(lines.filter((l) => /Kustomization flux-system\/apps +Ready/.test(l))).toHaveLength(1);
    expect(lines).toContain('   └─ ↳ see Kustomization flux-system/apps');
  });

  it('collapses ready subtrees into "+N more ready" to stay within the height', () => {
    const src = node('GitRepository', 'flux-system', 'Ready');
    const nodes: NodeState[] = [src];
    const edges = [];
    for (let i = 0; i < 40; i++) {
      const n = node('Kustomization', `app-${String(i).padStart(2, '0')}`, i === 30 ? 'Failed' : 'Ready', { reason: 'HealthCheckFailed', message: 'Deployment/web not ready' });
      nodes.push(n);
      edges.push(edge(n, src, 'source'));
    }
    const lines = frame(session(nodes, edges), { height: 15 });
    expect(lines.length).toBeLessThanOrEqual(15);
    expect(lines.some((l) => /^[├└]─ \+\d+ more ready$/.test(l))).toBe(true);
    expect(lineOf(lines, 'app-30')).toContain('Failed');
    expect(lines).toContain('│    HealthCheckFailed: Deployment/web not ready');
    expect(lines.at(-1)).toBe('40 ready, 0 progressing, 0 waiting, 1 failed, 0 pending');
  });

  it('fitName keeps apart names that differ only at their end, however narrow', () => {
    for (const room of [12, 14, 16, 18, 20]) {
      const crds = fitName('flux-system', 'monitoring-crds', room);
      const mon = fitName('flux-system', 'monitoring', room);
      expect(textWidth(crds)).toBeLessThanOrEqual(room);
      expect(textWidth(mon)).toBeLessThanOrEqual(room);
      expect(crds).not.toBe(mon);
      expect(crds).toMatch(room >= 14 ? /crds$/ : /rds$/);
    }
    expect(fitName('flux-system', 'monitoring', 22)).toBe('flux-system/monitoring');
  });

  it('fits 80 columns: long names are shortened from the middle with …, never wrapped', () => {
    const long = node('Kustomization', 'a-really-long-kustomization-name-that-goes-on-and-on-and-on-forever', 'Failed', {
      namespace: 'team-platform-observability',
      reason: 'HealthCheckFailed',
      message: 'timeout waiting for: [Deployment/team-platform-observability/prometheus-operator status: InProgress, StatefulSet/x status: InProgress]',
    });
    const child = node('HelmRelease', 'kube-prometheus-stack-with-a-long-release-name', 'Progressing', { namespace: 'team-platform-observability' });
    const s = session([long, child], [edge(long, child, 'inventory')], { warnings: ['w'.repeat(200)], commit: { sha: 'abcdef1234567', subject: 's'.repeat(120) } });
    const lines = frame(s, { width: 80 });
    for (const l of lines) expect(textWidth(l)).toBeLessThanOrEqual(80);
    const row = lineOf(lines, 'a-really-');
    // The namespace keeps its start; the name both its ends: what tells objects apart is often at the end.
    expect(row).toMatch(/^✖ Kustomization team-[a-z]*…\/a-really-[a-z-]*…[a-z-]*-forever +Failed +1m05s$/);
    expect(lineOf(lines, 'HealthCheckFailed')).toMatch(/…$/);
    expect(lineOf(lines, 'kube-prom')).toMatch(/^└─ ⠋ HelmRelease team-[a-z]*…\/kube-prom[a-z-]*…[a-z-]*-release-name +Progressing +1m05s$/);
    // One line per row: 2 header + 3 tree + summary + warning.
    expect(lines).toHaveLength(7);
  });

  it('shows the summary, warnings, the cluster error with its hint, and the verdict once finished', () => {
    const f = fleet({ apps: 'Failed' });
    const running: SessionState = {
      ...f.state,
      warnings: ['cannot list Buckets: forbidden'],
      error: { category: 'unreachable', message: 'connect ECONNREFUSED 127.0.0.1:6443', hint: 'Check that the cluster is running (kubectl cluster-info).' },
    };
    const lines = frame(running);
    expect(lines).toContain('2 ready, 0 progressing, 0 waiting, 1 failed, 1 pending');
    expect(lines).toContain('⚠ cannot list Buckets: forbidden');
    expect(lines).toContain('✖ unreachable: connect ECONNREFUSED 127.0.0.1:6443');
    expect(lines).toContain('  hint: Check that the cluster is running (kubectl cluster-info).');
    expect(lines.join('\n')).not.toMatch(/Failed after/);

    const done: SessionState = { ...f.state, status: 'finished', verdict: 'failed', verdictMessage: 'Kustomization flux-system/apps failed', endedAt: T0 + 42_000 };
    const end = frame(done, { now: T0 + 99_000 });
    expect(end.at(-1)).toBe('✖ Failed after 42s: Kustomization flux-system/apps failed');
    expect(end[0]).toBe('✖ flux-monitor 3f2a9c1 Bump podinfo to 6.5.0');
    // Time stops at the end of the session.
    expect(end[1]).toContain('· 42s ·');
  });

  it('a session that never reached the cluster says so, not that there is nothing to follow', () => {
    const f = fleet();
    const error = { category: 'unreachable' as const, message: 'cannot reach https://10.0.0.1:6443 (ECONNREFUSED)', hint: 'Check the cluster is up and reachable.' };
    const base = { ...f.state, nodes: {}, edges: [], matchedSources: [], error, cluster: { context: 'prod', server: 'https://10.0.0.1:6443' } };
    const starting = frame({ ...base, status: 'starting' }, { width: 120 });
    expect(starting.join('\n')).toContain('Cannot read Flux objects yet: https://10.0.0.1:6443 is not answering (see below).');
    const ended = frame({ ...base, status: 'finished', verdict: 'error', verdictMessage: `${error.message}; context prod. ${error.hint}`, endedAt: T0 + 5_000 }, { width: 120 });
    const text = ended.join('\n');
    expect(text).toContain('No Flux object could be read: https://10.0.0.1:6443 was not reached (see below).');
    expect(text).not.toContain('No Flux objects to follow');
    // A server that answered (401) is not "not answering" nor "not reached": the error below says what it said.
    const denied = { category: 'unauthorized' as const, message: 'the API server rejected the credentials (401 Unauthorized)', hint: 'Log in again.' };
    const rejected = frame({ ...base, error: denied, status: 'starting' }, { width: 120 }).join('\n');
    expect(rejected).toContain('Cannot read Flux objects yet (see below).');
    expect(rejected).not.toMatch(/not answering|not reached/);
    // Said once: the error with its hint, and the verdict points at it.
    expect(text.split('cannot reach https://10.0.0.1:6443').length - 1).toBe(1);
  });

  it('wraps a long verdict instead of cutting it', () => {
    const f = fleet();
    const msg = 'Kustomization flux-system/monitoring failed (HealthCheckFailed); 1 object blocked by it and 2 more waiting';
    const end = frame({ ...f.state, status: 'finished', verdict: 'failed', verdictMessage: msg, endedAt: T0 + 81_000 });
    expect(end.slice(-2)).toEqual(['✖ Failed after 1m21s: Kustomization flux-system/monitoring failed', '  (HealthCheckFailed); 1 object blocked by it and 2 more waiting']);
  });

  it('a session ended by a cluster error shows the error and its hint once, not again in the verdict', () => {
    const error = { category: 'config' as const, message: 'no kubeconfig found (looked at /nowhere)', hint: 'Point KUBECONFIG at your cluster config.' };
    const end = frame(session([], [], { status: 'finished', verdict: 'error', verdictMessage: `${error.message}. ${error.hint}`, error, endedAt: T0 }));
    expect(end.slice(-3)).toEqual(['✖ config: no kubeconfig found (looked at /nowhere)', '  hint: Point KUBECONFIG at your cluster config.', '✖ Error after 0ms (see the error above)']);
    expect(end.join('\n').split('no kubeconfig found').length - 1).toBe(1);
    // Any other verdict message is kept.
    const other = frame(session([], [], { status: 'finished', verdict: 'error', verdictMessage: 'the monitor process (pid 7) is dead', error, endedAt: T0 }));
    expect(other.at(-1)).toBe('✖ Error after 0ms: the monitor process (pid 7) is dead');
  });

  it('shows the footer last and explains an empty tree', () => {
    const starting = session([], [], { status: 'starting' });
    expect(frame(starting, { footer: 'q quit' }).slice(-3)).toEqual(['Discovering Flux objects…', '0 ready, 0 progressing, 0 waiting, 0 failed, 0 pending', 'q quit']);
    const unrelated = session([node('Kustomization', 'x', 'Ready', { affected: false })]);
    expect(frame(unrelated)).toContain('No object is affected by this commit (1 unrelated; press a to show them).');
    expect(lineOf(frame(unrelated, { showAll: true }), 'flux-system/x')).toMatch(/^✔ Kustomization flux-system\/x +Ready/);
  });

  it('never lets cluster text inject terminal escapes', () => {
    const bad = node('Kustomization', 'apps', 'Failed', { reason: 'BuildFailed', message: 'boom \u001b[2J\u001b]0;pwned\u0007 done' });
    const lines = frame(session([bad]));
    expect(lines).toContain('  BuildFailed: boom  done');
  });
});
