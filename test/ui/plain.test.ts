import { describe, expect, it } from 'vitest';
import type { NodeState, SessionState, Verbosity } from '../../src/core/types.js';
import { createPlainPrinter, type PlainPrinterOptions } from '../../src/ui/plain.js';
import { fleet, node, sampleSession, T0 } from './factory.js';

function capture(opts: Partial<PlainPrinterOptions> & { verbosity?: Verbosity } = {}) {
  let text = '';
  const printer = createPlainPrinter({ write: (s: string) => (text += s) }, { verbosity: 'normal', ...opts });
  return { printer, lines: () => text.split('\n').slice(0, -1), raw: () => text };
}

/** A push that goes: sources ready, apps progressing → failed (then a new error on retry), hr waits on apps. */
function sequence(): SessionState[] {
  const f = fleet({ apps: 'Pending', hr: 'Pending' });
  const at = (s: SessionState, ms: number, changes: Record<string, Partial<NodeState>>, extra: Partial<SessionState> = {}): SessionState => ({
    ...s,
    ...extra,
    updatedAt: T0 + ms,
    nodes: Object.fromEntries(Object.entries(s.nodes).map(([k, n]) => [k, { ...n, ...(changes[k] ?? {}) }])),
  });
  const s0 = { ...f.state, status: 'starting' as const, nodes: {} };
  const s1 = at(f.state, 400, {});
  const s2 = at(s1, 3_000, { [f.apps.key]: { phase: 'Progressing', reason: 'Progressing', message: 'Building manifests…', phaseSince: T0 + 3_000 } });
  const s3 = at(s2, 9_000, {}, { warnings: ['cannot watch HelmCharts: forbidden; polling instead'], mode: 'poll' });
  const s4 = at(
    s3,
    12_000,
    {
      [f.apps.key]: { phase: 'Failed', reason: 'BuildFailed', message: 'kustomize build failed: accumulating resources\nmissing podinfo.yaml', phaseSince: T0 + 12_000 },
      // Settled by the failure of what it depends on: blocked (what the summary counts it as).
      [f.hr.key]: { phase: 'Waiting', reason: 'DependencyNotReady', message: "dependency 'flux-system/apps' is not ready", blockers: ['flux-system/apps'], phaseSince: T0 + 12_500, settled: true, blockedBy: f.apps.key },
    },
    { error: { category: 'unreachable', message: 'connect ECONNREFUSED 127.0.0.1:6443', hint: 'Check that the cluster is running.' } },
  );
  const s5 = at(s4, 20_000, { [f.apps.key]: { reason: 'HealthCheckFailed', message: 'timeout waiting for Deployment/podinfo', phaseSince: T0 + 20_000 } }, { error: undefined });
  const s6: SessionState = { ...at(s5, 21_000, {}), status: 'finished', verdict: 'failed', verdictMessage: 'Kustomization flux-system/apps failed', endedAt: T0 + 21_000 };
  return [s0, s1, s2, s3, s3, s4, s5, s6];
}

function run(opts: Partial<PlainPrinterOptions> = {}) {
  const c = capture(opts);
  const states = sequence();
  for (const s of states.slice(0, -1)) c.printer.onState(s);
  c.printer.finish(states.at(-1)!);
  return c;
}

describe('plain printer', () => {
  it('prints a header once, one line per phase change, warnings and errors once, then summary and verdict', () => {
    expect(run().lines()).toEqual([
      'flux-monitor: following 3f2a9c1 "Bump podinfo to 6.5.0"',
      '  main → github.com/acme/fleet on kind-dev · 4 objects · timeout 5m00s',
      '   +0ms ✔ GitRepository flux-system/flux-system  Ready  Succeeded: stored artifact for revision main@sha1:3f2a9c1d',
      '   +0ms ○ Kustomization flux-system/apps  Pending',
      '   +0ms ✔ Kustomization flux-system/infra  Ready',
      '   +0ms ○ HelmRelease podinfo/podinfo  Pending',
      '    +3s ⟳ Kustomization flux-system/apps  Progressing  Progressing: Building manifests…',
      '    +9s ⚠ warning: cannot watch HelmCharts: forbidden; polling instead',
      // The line of the message that carries the cause (the last); a blocked object says it is, and by what.
      '   +12s ✖ Kustomization flux-system/apps  Failed  BuildFailed: missing podinfo.yaml',
      '   +12s ⊘ HelmRelease podinfo/podinfo  Blocked  by Kustomization flux-system/apps (Failed)',
      '   +12s ✖ error (unreachable): connect ECONNREFUSED 127.0.0.1:6443',
      '        hint: Check that the cluster is running.',
      '   +20s ✖ Kustomization flux-system/apps  Failed  HealthCheckFailed: timeout waiting for Deployment/podinfo',
      '   +20s ✔ cluster reachable again',
      'summary: 2 ready, 0 progressing, 0 waiting, 1 failed, 0 pending, 1 blocked',
      '✖ Failed after 21s: Kustomization flux-system/apps failed',
      '  cause: timeout waiting for Deployment/podinfo',
    ]);
  });

  it('prints its lines in time order: a line printed again carries the time it is about, and says since when the phase lasts', () => {
    // As the engine keeps them (src/engine/recompute.ts): phaseSince moves only when the phase does; becoming
    // blocked (settled by its dependency's failure) or a new error on retry leaves it where it was.
    const f = fleet({ apps: 'Progressing', hr: 'Pending' });
    const at = (s: SessionState, ms: number, changes: Record<string, Partial<NodeState>>, extra: Partial<SessionState> = {}): SessionState => ({
      ...s,
      ...extra,
      updatedAt: T0 + ms,
      nodes: { ...Object.fromEntries(Object.entries(s.nodes).map(([k, n]) => [k, { ...n, ...(changes[k] ?? {}) }])), ...(extra.nodes ?? {}) },
    });
    const waiting = { phase: 'Waiting' as const, reason: 'DependencyNotReady', message: "dependency 'flux-system/apps' is not ready", blockers: ['flux-system/apps'], phaseSince: T0 + 5_000 };
    const s1 = at(f.state, 400, {});
    const s2 = at(s1, 5_200, { [f.hr.key]: waiting });
    const s3 = at(s2, 12_300, {
      [f.apps.key]: { phase: 'Failed', reason: 'BuildFailed', message: 'missing podinfo.yaml', phaseSince: T0 + 12_000 },
      [f.hr.key]: { settled: true, blockedBy: f.apps.key },
    });
    const s4 = at(s3, 20_000, { [f.apps.key]: { reason: 'HealthCheckFailed', message: 'timeout waiting for Deployment/podinfo' } });
    // An object first seen now, Ready since its condition's time (to the second, before the last line printed).
    const redis = node('HelmRelease', 'redis', 'Ready', { namespace: 'podinfo', reason: 'UpgradeSucceeded', phaseSince: T0 + 19_000 });
    const s5 = at(s4, 21_000, {}, { nodes: { [redis.key]: redis } });
    const c = capture();
    for (const s of [s1, s2, s3, s4, s5]) c.printer.onState(s);
    expect(c.lines().slice(2)).toEqual([
      '   +0ms ✔ GitRepository flux-system/flux-system  Ready  Succeeded: stored artifact for revision main@sha1:3f2a9c1d',
      '   +0ms ⟳ Kustomization flux-system/apps  Progressing',
      '   +0ms ✔ Kustomization flux-system/infra  Ready',
      '   +0ms ○ HelmRelease podinfo/podinfo  Pending',
      "    +5s ◷ HelmRelease podinfo/podinfo  Waiting  DependencyNotReady: dependency 'flux-system/apps' is not ready",
      '   +12s ✖ Kustomization flux-system/apps  Failed  BuildFailed: missing podinfo.yaml',
      // Blocked when what it waits for failed, not when it began to wait.
      '   +12s ⊘ HelmRelease podinfo/podinfo  Blocked  by Kustomization flux-system/apps (Failed) · waiting since +5s',
      // A new error on retry: seen at +20s, failed since +12s.
      '   +20s ✖ Kustomization flux-system/apps  Failed  HealthCheckFailed: timeout waiting for Deployment/podinfo · failed since +12s',
      '   +21s ✔ HelmRelease podinfo/redis  Ready  UpgradeSucceeded · ready since +19s',
    ]);
    // A session seen once, already over (`status`): the blocked object after the failure that blocks it.
    const past = capture();
    past.printer.onState(sampleSession());
    const lines = past.lines();
    const failed = lines.findIndex((l) => l.includes('Kustomization flux-system/monitoring  Failed'));
    expect(failed).toBeGreaterThan(0);
    expect(lines.slice(failed + 1).find((l) => l.includes('tenants'))).toBe('   +47s ⊘ Kustomization flux-system/tenants  Blocked  by Kustomization flux-system/monitoring (Failed) · waiting since +15s');
    // Whatever the states, the times never go back.
    for (const out of [c.lines(), lines, run().lines()]) {
      const times = out.map((l) => /^ *\+(\d+)(ms|s)? /.exec(l)).filter((m) => m).map((m) => (m![2] === 'ms' ? Number(m![1]) : Number(m![1]) * 1000));
      expect(times.length).toBeGreaterThan(3);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
  });

  it('minimal verbosity prints only failures, errors and the verdict', () => {
    expect(run({ verbosity: 'minimal' }).lines()).toEqual([
      '   +12s ✖ Kustomization flux-system/apps  Failed  BuildFailed: missing podinfo.yaml',
      '   +12s ✖ error (unreachable): connect ECONNREFUSED 127.0.0.1:6443',
      '        hint: Check that the cluster is running.',
      '   +20s ✖ Kustomization flux-system/apps  Failed  HealthCheckFailed: timeout waiting for Deployment/podinfo',
      '✖ Failed after 21s: Kustomization flux-system/apps failed',
      '  cause: timeout waiting for Deployment/podinfo',
    ]);
  });

  it('verbose prints whole messages, blockers and revisions', () => {
    const lines = run({ verbosity: 'verbose' }).lines();
    const i = lines.indexOf('   +12s ✖ Kustomization flux-system/apps  Failed  BuildFailed: missing podinfo.yaml');
    // The whole message under the line that showed its cause line.
    expect(lines.slice(i + 1, i + 3)).toEqual(['        kustomize build failed: accumulating resources', '        missing podinfo.yaml']);
    const j = lines.findIndex((l) => l.includes('HelmRelease podinfo/podinfo  Blocked'));
    expect(lines.slice(j + 1, j + 3)).toEqual(['        waiting for: flux-system/apps', "        dependency 'flux-system/apps' is not ready"]);
    const k = lines.findIndex((l) => l.includes('GitRepository flux-system/flux-system'));
    expect(lines[k + 1]).toBe('        revision: main@sha1:3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b');
    // Normal verbosity keeps to one line per change.
    expect(run().raw()).not.toContain('revision: main@sha1');
    // show_dependencies: false leaves the blockers out.
    expect(run({ verbosity: 'verbose', showDependencies: false }).raw()).not.toContain('waiting for:');
  });

  it('can print ASCII tags and ANSI colours', () => {
    const ascii = run({ ascii: true }).lines();
    expect(ascii).toContain('   +12s [FAIL] Kustomization flux-system/apps  Failed  BuildFailed: missing podinfo.yaml');
    expect(ascii).toContain('   +12s [BLKD] HelmRelease podinfo/podinfo  Blocked  by Kustomization flux-system/apps (Failed)');
    expect(ascii.at(-2)).toBe('[FAIL] Failed after 21s: Kustomization flux-system/apps failed');
    expect(run().raw()).not.toContain('\u001b[');
    expect(run({ color: true }).raw()).toContain('\u001b[31mFailed\u001b[39m');
  });

  it('prints nothing more after finish, and finish is idempotent', () => {
    const c = capture();
    const states = sequence();
    c.printer.finish(states.at(-1)!);
    const before = c.raw();
    c.printer.finish(states.at(-1)!);
    c.printer.onState(states[2]!);
    expect(c.raw()).toBe(before);
    // A session seen only at its end still gets header, objects, summary and verdict.
    expect(c.lines()[0]).toBe('flux-monitor: following 3f2a9c1 "Bump podinfo to 6.5.0"');
    expect(c.lines().slice(-2)).toEqual(['✖ Failed after 21s: Kustomization flux-system/apps failed', '  cause: timeout waiting for Deployment/podinfo']);
  });

  it('a session that ends with a cluster error says the error once: the error line, not again in the verdict', () => {
    const c = capture();
    const f = fleet();
    const error = { category: 'unreachable' as const, message: 'cannot reach the Kubernetes API (ECONNREFUSED)', hint: 'Check the cluster is up.' };
    // The error comes before discovery is done; the monitor gives up 5 s later with it as its verdict.
    c.printer.onState({ ...f.state, status: 'starting', nodes: {}, error, updatedAt: T0 + 50 });
    c.printer.finish({ ...f.state, nodes: {}, status: 'finished', verdict: 'error', verdictMessage: `${error.message}. ${error.hint}`, error, endedAt: T0 + 5000, updatedAt: T0 + 5000 });
    expect(c.lines()).toEqual([
      'flux-monitor: following 3f2a9c1 "Bump podinfo to 6.5.0"',
      '  main → github.com/acme/fleet on kind-dev · 0 objects · timeout 5m00s',
      '  +50ms ✖ error (unreachable): cannot reach the Kubernetes API (ECONNREFUSED)',
      '        hint: Check the cluster is up.',
      // No "summary: 0 ready, …": nothing was read, which the error says.
      '✖ Error after 5s (see the error above)',
    ]);
  });

  it('a session seen only once it is over: the header gives its duration, not the timeout', () => {
    const c = capture();
    const f = fleet({ apps: 'Failed' });
    c.printer.finish({ ...f.state, status: 'finished', verdict: 'failed', verdictMessage: 'apps failed', endedAt: T0 + 3000 });
    expect(c.lines()[1]).toBe('  main → github.com/acme/fleet on kind-dev · 4 objects · finished after 3s');
    expect(c.raw()).not.toContain('timeout');
  });

  it('sanitises text from the cluster', () => {
    const c = capture();
    const f = fleet({ apps: 'Failed' });
    f.state.nodes[f.apps.key] = { ...f.apps, reason: 'BuildFailed', message: 'bad \u001b[2Jthing\u0007' };
    c.printer.onState(f.state);
    expect(c.raw()).not.toContain('\u001b');
    expect(c.raw()).toContain('BuildFailed: bad thing');
  });
  it('prints the line of a message that carries the cause, on the phase line and under the verdict', () => {
    // helm-controller's values schema error: the cause on the last line, after a wrapper and a chart heading.
    const f = fleet({ apps: 'Ready', hr: 'Stalled' });
    const message =
      "Failed to upgrade after 1 attempt(s): Helm upgrade failed for release podinfo/podinfo with chart podinfo@6.5.0: values don't meet the specifications of the schema(s) in the following chart(s):\npodinfo:\n- replicaCount: Invalid type. Expected: integer, given: string";
    f.state.nodes[f.hr.key] = { ...f.hr, reason: 'RetriesExceeded', message, phaseSince: T0 + 5_000 };
    const end: SessionState = { ...f.state, status: 'finished', verdict: 'failed', verdictMessage: 'commit 3f2a9c1 failed: 1 failed, 3 ready (HelmRelease podinfo/podinfo: RetriesExceeded)', endedAt: T0 + 6_000 };
    const c = capture();
    c.printer.finish(end);
    expect(c.lines()).toContain('    +5s ✖ HelmRelease podinfo/podinfo  Stalled  RetriesExceeded: Helm upgrade failed: replicaCount: Invalid type. Expected: integer, given: string');
    expect(c.lines().slice(-2)).toEqual([
      '✖ Failed after 6s: commit 3f2a9c1 failed: 1 failed, 3 ready (HelmRelease podinfo/podinfo: RetriesExceeded)',
      '  cause: Helm upgrade failed: replicaCount: Invalid type. Expected: integer, given: string',
    ]);
    // Verbose adds the whole message under the phase line.
    const v = capture({ verbosity: 'verbose' });
    v.printer.finish(end);
    expect(v.lines()).toContain('        - replicaCount: Invalid type. Expected: integer, given: string');
    expect(v.lines().some((l) => l.startsWith('        Failed to upgrade after 1 attempt(s): Helm upgrade failed for release podinfo/podinfo'))).toBe(true);
  });
});
