// The diagnosis of a failing health check in every output: the live tree (under the failing node, folded last),
// the plain printer (under the phase line, or later with its own time), `status` of a finished session (the
// stored state), and `history` (the first workload problem on its own line).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionState } from '../../src/core/types.js';
import { buildTree } from '../../src/ui/layout.js';
import { createPlainPrinter } from '../../src/ui/plain.js';
import { sessionLines } from '../../src/ui/view.js';
import { statePaths } from '../../src/session/paths.js';
import { appendHistory, historyEntry, sessionFile, writeJsonAtomic } from '../../src/session/store.js';
import history from '../../src/commands/history.js';
import status from '../../src/commands/status.js';
import { fleet, node, sampleDiagnosis, session, T0 } from './factory.js';

function failing(): SessionState {
  const f = fleet({ apps: 'Failed', hr: 'Pending' });
  f.apps.reason = 'HealthCheckFailed';
  f.apps.message = "health check failed after 30s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']";
  f.apps.phaseSince = T0 + 47_000;
  f.apps.diagnosis = sampleDiagnosis();
  return f.state;
}

const texts = (s: SessionState, o: Partial<Parameters<typeof buildTree>[1]> = {}) =>
  buildTree(s, { showAll: false, verbosity: 'normal', ...o }).filter((r) => r.type === 'detail').map((r) => (r as { text: string }).text);

describe('the live tree', () => {
  it('shows the workloads behind the failure under the failing node', () => {
    expect(texts(failing())).toEqual([
      // The cause line of the health check's message: what timed out (src/core/cause.ts).
      "HealthCheckFailed: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress'] (after 30s)",
      '▸ Deployment monitoring/kube-state-metrics: 1/1 updated, 0/1 ready, 0/1 available, 1 old replica; generation 2 observed',
      '    pod …x2x8k: ImagePullBackOff: registry.k8s.io/kube-state-metrics/kube-state-metrics:v9.9.9 (not found), container kube-state-metrics',
      '▸ note: cannot read pods in monitoring-extra (forbidden)',
    ]);
  });

  it('adds the Events of the pushed revision when verbose, none in minimal', () => {
    const v = texts(failing(), { verbosity: 'verbose' });
    expect(v).toContain("▸ event Warning HealthCheckFailed (×2): health check failed after 30s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']");
    expect(v.some((t) => t.includes('Back-off pulling image'))).toBe(true);
    expect(texts(failing(), { verbosity: 'minimal' }).some((t) => t.includes('▸'))).toBe(false);
  });

  it('keeps the first workload line when the tree is folded to fit', () => {
    const s = failing();
    const all = buildTree(s, { showAll: false, verbosity: 'normal' }).length;
    const rows = buildTree(s, { showAll: false, verbosity: 'normal', maxRows: all - 2 });
    const details = rows.filter((r) => r.type === 'detail').map((r) => (r as { text: string }).text);
    expect(details).toHaveLength(2);
    expect(details[0]).toMatch(/^HealthCheckFailed/);
    expect(details[1]).toMatch(/^▸ Deployment monitoring\/kube-state-metrics: .* …$/);
  });

  it('draws the lines within the width, in red under a failure', () => {
    const lines = sessionLines({ state: failing(), now: T0 + 60_000, verbosity: 'normal', showAll: false, width: 80, height: 40, spinnerFrame: 0, color: false });
    const pod = lines.find((l) => l.map((g) => g.text).join('').includes('ImagePullBackOff'))!;
    expect(pod.map((g) => g.text).join('').length).toBeLessThanOrEqual(80);
    expect(pod.find((g) => g.text.includes('ImagePullBackOff'))!.color).toBe('red');
  });

  it('shows a slow health check’s diagnosis in gray, and none once the object is Ready', () => {
    const s = session([node('Kustomization', 'apps', 'Progressing', { reason: 'Progressing', message: 'Running health checks for revision main@sha1:3f2a9c1d', diagnosis: sampleDiagnosis() })]);
    const rows = buildTree(s, { showAll: false, verbosity: 'normal' }).filter((r) => r.type === 'detail');
    expect(rows.map((r) => (r as { tone: string }).tone)).toEqual(['info', 'info', 'info']);
    const ready = session([node('Kustomization', 'apps', 'Ready', { diagnosis: sampleDiagnosis() })]);
    expect(texts(ready)).toEqual([]);
  });
});

describe('the plain printer', () => {
  function capture(verbosity: 'minimal' | 'normal' | 'verbose' = 'normal') {
    let text = '';
    const p = createPlainPrinter({ write: (s: string) => (text += s) }, { verbosity });
    return { p, lines: () => text.split('\n').slice(0, -1) };
  }

  it('prints the diagnosis under the phase line, once', () => {
    const c = capture();
    const s = failing();
    c.p.onState(s);
    c.p.onState({ ...s, updatedAt: s.updatedAt + 1000 });
    const lines = c.lines();
    const at = lines.findIndex((l) => l.includes('Kustomization flux-system/apps  Failed'));
    expect(lines.slice(at + 1, at + 4)).toEqual([
      '        ▸ Deployment monitoring/kube-state-metrics: 1/1 updated, 0/1 ready, 0/1 available, 1 old replica; generation 2 observed',
      '            pod …x2x8k: ImagePullBackOff: registry.k8s.io/kube-state-metrics/kube-state-metrics:v9.9.9 (not found), container kube-state-metrics',
      '        ▸ note: cannot read pods in monitoring-extra (forbidden)',
    ]);
    expect(lines.filter((l) => l.includes('▸ Deployment'))).toHaveLength(1);
  });

  it('prints a diagnosis that comes after the phase line with its own time, and a changed one again', () => {
    const c = capture();
    const s = failing();
    const apps = Object.values(s.nodes).find((n) => n.name === 'apps')!;
    const without = { ...s, nodes: { ...s.nodes, [apps.key]: { ...apps, diagnosis: undefined } } };
    c.p.onState(without);
    c.p.onState(s);
    const d2 = sampleDiagnosis({ at: T0 + 61_000, notes: [] });
    c.p.onState({ ...s, nodes: { ...s.nodes, [apps.key]: { ...apps, diagnosis: d2 } } });
    const lines = c.lines();
    expect(lines.filter((l) => /^ +\+48s +diagnosis of Kustomization flux-system\/apps:$/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /^ +\+1m01s +diagnosis of Kustomization flux-system\/apps:$/.test(l))).toHaveLength(1);
  });

  it('minimal prints no diagnosis; verbose adds the events', () => {
    const m = capture('minimal');
    m.p.finish({ ...failing(), status: 'finished', verdict: 'failed', endedAt: T0 + 60_000 });
    expect(m.lines().some((l) => l.includes('▸'))).toBe(false);
    const v = capture('verbose');
    v.p.onState(failing());
    expect(v.lines()).toContain("        ▸ event Warning HealthCheckFailed (×2): health check failed after 30s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']");
  });
});

describe('status and history of a finished session', () => {
  let home: string | undefined;
  afterEach(() => {
    if (home) rmSync(home, { recursive: true, force: true });
    home = undefined;
  });

  function io(env: NodeJS.ProcessEnv) {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    out.on('data', (c) => (stdout += String(c)));
    err.resume();
    return {
      io: { stdout: out as unknown as NodeJS.WriteStream, stderr: err as unknown as NodeJS.WriteStream, stdin: new PassThrough() as unknown as NodeJS.ReadStream, env, cwd: home! },
      stdout: () => stdout,
    };
  }

  function finished(): SessionState {
    return { ...failing(), id: '20261103-090000-aaaa', status: 'finished', verdict: 'failed', verdictMessage: 'commit 3f2a9c1 failed', endedAt: T0 + 60_000 };
  }

  it('history keeps the first workload problem and shows it under the session', async () => {
    home = mkdtempSync(join(tmpdir(), 'fm-diag-'));
    const env = { XDG_STATE_HOME: home, HOME: home, NO_COLOR: '1' };
    const paths = statePaths(env);
    const entry = historyEntry(finished());
    expect(entry.diagnosis).toBe('Deployment monitoring/kube-state-metrics: ImagePullBackOff (registry.k8s.io/kube-state-metrics/kube-state-metrics:v9.9.9)');
    appendHistory(paths, entry);
    const h = io(env);
    expect(await history.run(['--all'], h.io)).toBe(0);
    const lines = h.stdout().split('\n');
    const row = lines.findIndex((l) => l.includes('20261103-090000-aaaa'));
    expect(lines[row + 1]).toBe('  ↳ Deployment monitoring/kube-state-metrics: ImagePullBackOff (registry.k8s.io/kube-state-metrics/kube-state-metrics:v9.9.9)');
    const j = io(env);
    await history.run(['--all', '--json'], j.io);
    expect(JSON.parse(j.stdout())[0].diagnosis).toBe(entry.diagnosis);
  });

  it('status ID prints the whole diagnosis of the stored session', async () => {
    home = mkdtempSync(join(tmpdir(), 'fm-diag-'));
    const env = { XDG_STATE_HOME: home, HOME: home, NO_COLOR: '1' };
    const s = finished();
    writeJsonAtomic(sessionFile(statePaths(env), s.id), s);
    const h = io(env);
    await status.run([s.id], h.io);
    expect(h.stdout()).toContain('▸ Deployment monitoring/kube-state-metrics: 1/1 updated, 0/1 ready');
    expect(h.stdout()).toContain('ImagePullBackOff: registry.k8s.io/kube-state-metrics/kube-state-metrics:v9.9.9 (not found)');
    const j = io(env);
    await status.run([s.id, '--json'], j.io);
    expect(JSON.parse(j.stdout()).nodes['Kustomization/flux-system/apps'].diagnosis.workloads[0].name).toBe('kube-state-metrics');
  });
});
