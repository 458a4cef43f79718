// (h) Requests of a diagnosis: a Kustomization whose health check fails, with `healthy` ready Deployments (two
// ready pods each) in its inventory beside `failing` Deployments whose pods cannot pull their image. The
// diagnosis must read only what fails: its requests (and the session's LIST/WATCH requests) must not grow with
// the healthy objects, and the failing ones are bounded (DEFAULT_DIAGNOSIS_LIMITS). Against the API simulator,
// which counts every request by verb; the client's own count of the diagnosis (`diagnose`) is reported too.
//
//   npm run build && node dist/bench/diagnosis.js            # prints a table, writes .bench-out/diagnosis.json
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiSimulator } from '../src/sim/server.js';
import { runMonitor } from '../src/engine/run.js';
import { DEFAULT_CONFIG, type KubeObject, type MonitorEvent } from '../src/core/types.js';
import type { ClientStats } from '../src/cluster/client.js';
import { formatTable, ROOT, waitFor, type Row } from './lib.js';

const URL_ = 'https://github.com/acme/fleet.git';
const OLD = '1111111111111111111111111111111111111111';
const NEW = 'abcdef0123456789abcdef0123456789abcdef01';
const T = '2026-11-23T08:00:00Z';
const IMAGE = 'ghcr.io/acme/app:2.0.0';

export interface DiagnosisBenchResult {
  healthy: number;
  failing: number;
  /**
   * `failed`: HealthCheckFailed naming what it waits for (kstatus names every object still in progress): only
   * those are read. `slow`: a Kustomization running its health checks for longer than 5 s names nothing yet: the
   * Deployments of its inventory are read, one LIST per namespace and kind (owner labels).
   */
  mode: 'failed' | 'slow';
  /** Requests the diagnosis made (the client's count, verb `diagnose`). */
  diagnosisRequests: number;
  /** Requests the simulator counted from the push to the verdict, by verb (list, watch, get…). */
  simRequestsByVerb: Record<string, number>;
  workloadsShown: number;
  moreWorkloads: number;
  readyWorkloads: number;
  /** Every request the session made (startup included), by the client's verb. */
  clientByVerb: Record<string, number>;
}

function seed(sim: ApiSimulator, healthy: number, failing: number): void {
  const rev = (sha: string) => `main@sha1:${sha}`;
  const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, observedGeneration: 1, lastTransitionTime: T });
  sim.apply({
    apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system' },
    spec: { interval: '1m', url: URL_, ref: { branch: 'main' } },
    status: { observedGeneration: 1, conditions: [cond('Ready', 'True', 'Succeeded', `stored artifact for revision '${rev(OLD)}'`)], artifact: { revision: rev(OLD) } },
  });
  const owner = { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' };
  const inventory: Array<{ id: string; v: string }> = [];
  const add = (name: string, ok: boolean) => {
    inventory.push({ id: `team_${name}_apps_Deployment`, v: 'v1' }, { id: `team_${name}__Service`, v: 'v1' });
    sim.apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'team', labels: { ...owner, app: name } },
      spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: IMAGE }] } } },
      status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: ok ? 2 : 0, availableReplicas: ok ? 2 : 0 },
    });
    for (const suffix of ['a1b2c', 'd3e4f']) {
      const cs = ok
        ? { name: 'app', image: IMAGE, ready: true, started: true, restartCount: 0, state: { running: { startedAt: T } } }
        : { name: 'app', image: IMAGE, ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${IMAGE}": ErrImagePull: not found` } } };
      sim.apply({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-7c9f8d6b5-${suffix}`, namespace: 'team', labels: { app: name } },
        spec: { containers: [{ name: 'app', image: IMAGE }] },
        status: { phase: ok ? 'Running' : 'Pending', conditions: [{ type: 'Ready', status: ok ? 'True' : 'False' }], containerStatuses: [cs] },
      } as KubeObject);
    }
  };
  for (let i = 0; i < failing; i++) add(`broken-${i}`, false);
  for (let i = 0; i < healthy; i++) add(`ok-${i}`, true);
  sim.apply({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'apps', namespace: 'flux-system' },
    spec: { interval: '10m', path: './apps', prune: true, wait: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
    status: { observedGeneration: 1, lastAttemptedRevision: rev(OLD), lastAppliedRevision: rev(OLD), inventory: { entries: inventory }, conditions: [cond('Ready', 'True', 'ReconciliationSucceeded', `Applied revision: ${rev(OLD)}`)] },
  });
}

export async function benchDiagnosis(cases: Array<{ healthy: number; failing: number; mode: DiagnosisBenchResult['mode'] }>): Promise<DiagnosisBenchResult[]> {
  const out: DiagnosisBenchResult[] = [];
  for (const c of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'fm-bench-h-'));
    const sim = new ApiSimulator();
    await sim.start();
    try {
      const kubeconfig = await sim.writeKubeconfig(join(dir, 'kubeconfig'));
      seed(sim, c.healthy, c.failing);
      const events: MonitorEvent[] = [];
      let stats: ClientStats | undefined;
      const ac = new AbortController();
      const done = runMonitor({
        signal: ac.signal,
        tuning: { healthSlowMs: 200, diagnoseEveryMs: 100 },
        pushed: { sha: NEW, branch: 'main' },
        repoUrl: URL_,
        branch: 'main',
        config: { ...DEFAULT_CONFIG, timeout: 60 },
        kubeconfig,
        onClient: (cl) => (stats = cl.stats),
        onEvent: (e) => events.push(e),
      });
      await waitFor(() => events.some((e) => e.type === 'session'), 30_000, 'the session to start');
      const before = sim.stats().requestsByVerb;
      const rev = `main@sha1:${NEW}`;
      sim.setStatus({ kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' }, {
        observedGeneration: 1, artifact: { revision: rev },
        conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: `stored artifact for revision '${rev}'`, observedGeneration: 1, lastTransitionTime: T }],
      });
      // kustomize-controller's Warning Event of the failure, annotated with the revision (recorded with the status).
      sim.apply({
        apiVersion: 'v1', kind: 'Event', metadata: { name: 'apps.1', namespace: 'flux-system', annotations: { 'kustomize.toolkit.fluxcd.io/revision': rev } },
        involvedObject: { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'apps', namespace: 'flux-system' },
        reason: 'HealthCheckFailed', message: 'health check failed after 5m0s', type: 'Warning', lastTimestamp: new Date().toISOString(), count: 1,
      } as KubeObject);
      // kstatus names every object the health check still waits for.
      const named = Array.from({ length: c.failing }, (_, i) => `Deployment/team/broken-${i} status: 'InProgress'`).join(', ');
      const ks = sim.get({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' })!;
      sim.setStatus({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' }, {
        ...ks.status,
        lastAttemptedRevision: rev,
        conditions:
          c.mode === 'failed'
            ? [
                { type: 'Ready', status: 'False', reason: 'HealthCheckFailed', message: `health check failed after 5m0s: timeout waiting for: [${named}]`, observedGeneration: 1, lastTransitionTime: T },
                { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry', message: `Running health checks for revision ${rev} with a timeout of 5m0s`, observedGeneration: 1, lastTransitionTime: T },
              ]
            : [
                { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Reconciliation in progress', observedGeneration: 1, lastTransitionTime: T },
                { type: 'Reconciling', status: 'True', reason: 'Progressing', message: `Running health checks for revision ${rev} with a timeout of 5m0s`, observedGeneration: 1, lastTransitionTime: T },
              ],
      });
      if (c.mode === 'slow') {
        await waitFor(() => events.some((e) => e.type === 'diagnosis'), 30_000, 'the diagnosis of the slow health check');
        ac.abort('bench done');
      }
      const final = await done;
      const after = sim.stats().requestsByVerb;
      const d = final.nodes['Kustomization/flux-system/apps']?.diagnosis;
      if (final.verdict !== (c.mode === 'failed' ? 'failed' : 'stopped') || !d) throw new Error(`bench (h): expected a diagnosis and verdict ${c.mode === 'failed' ? 'failed' : 'stopped'}, got ${final.verdict}`);
      const simRequestsByVerb: Record<string, number> = {};
      for (const [v, n] of Object.entries(after)) if (n - (before[v] ?? 0)) simRequestsByVerb[v] = n - (before[v] ?? 0);
      out.push({
        ...c,
        diagnosisRequests: stats!.byVerb.diagnose ?? 0,
        simRequestsByVerb,
        workloadsShown: d.workloads.length,
        moreWorkloads: d.moreWorkloads ?? 0,
        readyWorkloads: d.readyWorkloads,
        clientByVerb: { ...stats!.byVerb },
      });
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export function diagnosisRows(results: DiagnosisBenchResult[]): Row[] {
  // Flat: the same count for every size of the healthy part, per mode and number of failing workloads.
  const flat = (r: DiagnosisBenchResult) => new Set(results.filter((x) => x.mode === r.mode && x.failing === r.failing).map((x) => x.diagnosisRequests)).size === 1;
  return results.map((r) => ({
    bench: '(h) diagnosis',
    case: `${r.mode === 'failed' ? 'HealthCheckFailed' : 'slow health check'}: ${r.healthy} healthy + ${r.failing} failing Deployments (${2 * (r.healthy + r.failing)} pods)`,
    value: `${r.diagnosisRequests} requests (session, push → ${r.mode === 'failed' ? 'verdict' : 'diagnosis'}: ${Object.entries(r.simRequestsByVerb).map(([v, n]) => `${v} ${n}`).join(', ')}); ${r.workloadsShown} shown${r.moreWorkloads ? ` +${r.moreWorkloads} more` : ''}, ${r.readyWorkloads} ready`,
    target: 'flat in healthy objects',
    pass: flat(r) && r.workloadsShown <= 5,
  }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await benchDiagnosis([
    { healthy: 10, failing: 1, mode: 'failed' },
    { healthy: 1000, failing: 1, mode: 'failed' },
    { healthy: 10, failing: 20, mode: 'failed' },
    { healthy: 1000, failing: 20, mode: 'failed' },
    { healthy: 10, failing: 1, mode: 'slow' },
    { healthy: 1000, failing: 1, mode: 'slow' },
  ]);
  const table = formatTable(diagnosisRows(results));
  process.stdout.write(table + '\n');
  mkdirSync(join(ROOT, '.bench-out'), { recursive: true });
  writeFileSync(join(ROOT, '.bench-out', 'diagnosis.json'), JSON.stringify(results, null, 2) + '\n');
}
