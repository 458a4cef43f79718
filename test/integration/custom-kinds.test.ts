// Custom kinds (config.custom_kinds) on a real kube-apiserver with Tekton's real PipelineRun CRD
// (tektoncd/pipeline v1.3.0, copied from its Go module by test/tekton/crds.sh): PipelineRuns of the pushed
// commit found through a server-side label selector on one watch, followed with the Flux objects to the verdict;
// another commit's PipelineRun ignored; a kind whose CRD is not installed and a kind RBAC forbids reported once.
//
// The Tekton controller does not run here: statuses are written through the status subresource with the shapes
// it writes (tektoncd/pipeline v1.3.0):
// - InitializeConditions (pkg/apis/pipeline/v1/pipelinerun_types.go): Succeeded Unknown, reason Started, startTime;
// - GetPipelineConditionStatus (pkg/reconciler/pipelinerun/resources/pipelinerunstate.go): Unknown Running
//   "Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 2, Skipped: 0"; True Succeeded "Tasks Completed: 3
//   (Failed: 0, Cancelled 0), Skipped: 0"; False Failed "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1";
// - Knative's PostProcessReconcile (knative.dev/pkg reconciler/reconcile_common.go) sets status.observedGeneration.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CUSTOM_KIND_PRESETS } from '../../src/core/custom.js';
import { DEFAULT_CONFIG, type CustomKindConfig, type MonitorConfig } from '../../src/core/types.js';
import { applyNew, fetchNew, keyOf, seedFleet, type Fleet } from './fleet.js';
import {
  KINDS,
  errorsOf,
  FluxObjects,
  installCrd,
  phasesOf,
  SHA_NEW,
  SHA_OLD,
  startCluster,
  startEngine,
  stopEngines,
  summaryOf,
  tektonPipelineRunCrd,
  waitFor,
  type EngineRun,
  type KubeCluster,
} from './support.js';

let cluster: KubeCluster;
let objs: FluxObjects;

beforeAll(async () => {
  cluster = await startCluster();
  objs = FluxObjects.forCluster(cluster);
  await installCrd(cluster, await tektonPipelineRunCrd());
});
afterEach(stopEngines);
afterAll(async () => {
  objs?.admin.close();
  await cluster?.stop();
});

const SHA_LABEL = 'pipelinesascode.tekton.dev/sha';
const TEKTON = CUSTOM_KIND_PRESETS['tekton-pipelineruns']!;
/** Konflux's Release: its CRD is not installed on this cluster. */
const RELEASE: CustomKindConfig = {
  apiVersion: 'appstudio.redhat.com/v1alpha1',
  kind: 'Release',
  labelSelector: 'pac.test.appstudio.openshift.io/sha={sha}',
  condition: 'Released',
  progressingReasons: ['Progressing'],
  wait: 60,
  namespaces: [],
};
const config = (...custom_kinds: CustomKindConfig[]): MonitorConfig => ({ ...DEFAULT_CONFIG, timeout: 90, custom_kinds });

const runsPath = (ns: string, name?: string) => `/apis/tekton.dev/v1/namespaces/${ns}/pipelineruns${name ? `/${name}` : ''}`;

/** Creates a PipelineRun as Pipelines-as-Code does for a push of `sha` (labelled with it). */
async function createRun(ns: string, name: string, sha: string): Promise<void> {
  await objs.admin.create(runsPath(ns), {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name, namespace: ns, labels: { [SHA_LABEL]: sha, 'pipelinesascode.tekton.dev/event-type': 'push' } },
    spec: { pipelineRef: { name: 'build' } },
  });
}

/** Writes the Succeeded condition through the status subresource, as Tekton's controller does. */
async function setRun(ns: string, name: string, status: 'Unknown' | 'True' | 'False', reason: string, message: string): Promise<void> {
  const cur = await objs.admin.get<any>(runsPath(ns, name));
  const now = new Date().toISOString();
  await objs.admin.replaceStatus(runsPath(ns, name), {
    ...cur,
    status: {
      observedGeneration: cur.metadata.generation,
      startTime: now,
      ...(status === 'Unknown' ? {} : { completionTime: now }),
      conditions: [{ type: 'Succeeded', status, reason, message, lastTransitionTime: now }],
    },
  });
}

const started = (ns: string, name: string) => setRun(ns, name, 'Unknown', 'Started', '');
const running = (ns: string, name: string) => setRun(ns, name, 'Unknown', 'Running', 'Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 2, Skipped: 0');
const succeeded = (ns: string, name: string) => setRun(ns, name, 'True', 'Succeeded', 'Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0');
const failed = (ns: string, name: string) => setRun(ns, name, 'False', 'Failed', 'Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1');

/** Waits until the engine reports every Flux object of the fleet Ready with the commit. */
const fluxReady = (run: EngineRun, f: Fleet) =>
  waitFor('the Flux objects Ready', () => f.affected.every((k) => run.states.at(-1)?.nodes[k]?.phase === 'Ready'));

const warningsOf = (run: EngineRun) => run.events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));

describe('custom kinds against a real kube-apiserver with Tekton’s PipelineRun CRD', () => {
  it('follows the PipelineRun of the pushed sha, found by label through its watch, Running → Succeeded with the Flux objects', async () => {
    const f = await seedFleet(objs, 'ci-ok');
    // A PipelineRun of another commit, failed: not the pushed commit's, never followed.
    await createRun('ci-ok', 'build-old', SHA_OLD);
    await failed('ci-ok', 'build-old');

    const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: f.url, config: config(TEKTON, RELEASE) });
    const session = await run.session();
    expect(session.objects.map((o) => o.key).sort()).toEqual(f.affected);

    // Pipelines-as-Code creates the push's PipelineRun after the session started: its watch brings it.
    const pr = 'PipelineRun/ci-ok/build-new';
    await createRun('ci-ok', 'build-new', SHA_NEW);
    await run.phase(pr, 'Pending');
    await started('ci-ok', 'build-new');
    await run.phase(pr, 'Progressing');
    await fetchNew(objs, f);
    await applyNew(objs, f);
    await fluxReady(run, f);
    // Flux is done; the pipeline still runs, so the session does too.
    await running('ci-ok', 'build-new');
    await succeeded('ci-ok', 'build-new');

    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(phasesOf(run.events, pr)).toEqual(['Pending', 'Progressing', 'Ready']);
    expect(final.nodes[pr]).toMatchObject({ kind: 'PipelineRun', apiVersion: 'tekton.dev/v1', phase: 'Ready', reason: 'Succeeded', affected: true });
    expect(final.nodes[pr]!.message).toBe('Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0');
    expect(Object.keys(final.nodes).sort()).toEqual([...f.affected, pr].sort());
    const summary = summaryOf(run.events);
    expect(summary.counts.ready).toBe(5);
    expect(summary.objects.map((o) => o.key)).toContain(pr);
    // The verdict came after the pipeline succeeded, not when Flux was done.
    const readyAt = run.events.findIndex((e) => e.type === 'phase' && e.key === pr && e.phase === 'Ready');
    expect(readyAt).toBeGreaterThan(-1);
    expect(run.events.indexOf(summary)).toBeGreaterThan(readyAt);

    // The Release CRD is not installed: said once, and the session went on.
    expect(warningsOf(run).filter((w) => w.includes('Release'))).toEqual([
      'Release (appstudio.redhat.com/v1alpha1) is not followed: the cluster does not serve appstudio.redhat.com/v1alpha1 (is the CRD of Release installed?)',
    ]);
    expect(errorsOf(run.events)).toEqual([]);
    // One watch per kind: the Flux kinds and PipelineRuns (none for the kind that is not served).
    expect(run.client().stats.watchesStarted).toBe(KINDS + 1);
  });

  it('ends failed naming the failed PipelineRun and its reason', async () => {
    const f = await seedFleet(objs, 'ci-fail');
    await createRun('ci-fail', 'build-new', SHA_NEW);
    await running('ci-fail', 'build-new');

    const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: f.url, config: config({ ...TEKTON, namespaces: ['ci-fail'] }) });
    const session = await run.session();
    const pr = 'PipelineRun/ci-fail/build-new';
    // Already there: found by the first LIST.
    expect(session.objects.map((o) => o.key)).toContain(pr);
    await fetchNew(objs, f);
    await applyNew(objs, f);
    await fluxReady(run, f);
    await failed('ci-fail', 'build-new');

    const final = await run.p;
    expect(final.verdict).toBe('failed');
    expect(final.nodes[pr]).toMatchObject({ phase: 'Failed', reason: 'Failed', message: 'Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1' });
    expect(final.verdictMessage).toBe(`commit ${SHA_NEW.slice(0, 7)} failed: 1 failed, 4 ready (PipelineRun ci-fail/build-new: Failed)`);
    expect(summaryOf(run.events).exitCode).toBe(1);
    expect(phasesOf(run.events, pr)).toEqual(['Progressing', 'Failed']);
  });

  it('waits for a PipelineRun CI has not created yet, then includes it', async () => {
    const f = await seedFleet(objs, 'ci-wait');
    const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: f.url, config: config({ ...TEKTON, namespaces: ['ci-wait'], wait: 600 }) });
    await run.session();
    await fetchNew(objs, f);
    await applyNew(objs, f);
    await fluxReady(run, f);
    await waitFor('the wait to be announced', () => warningsOf(run).includes(`waiting up to 10m after the push for a PipelineRun of ${SHA_NEW.slice(0, 7)} (label pipelinesascode.tekton.dev/sha={sha}) before the verdict`));
    expect(run.events.some((e) => e.type === 'summary')).toBe(false);

    await createRun('ci-wait', 'build-late', SHA_NEW);
    await succeeded('ci-wait', 'build-late');
    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(final.nodes['PipelineRun/ci-wait/build-late']).toMatchObject({ phase: 'Ready', reason: 'Succeeded' });
  });

  it('gives the Flux verdict once the wait for a PipelineRun that never comes is over', async () => {
    const f = await seedFleet(objs, 'ci-none');
    const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: f.url, config: config({ ...TEKTON, namespaces: ['ci-none'], wait: 2 }) });
    await run.session();
    await fetchNew(objs, f);
    await applyNew(objs, f);
    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(Object.keys(final.nodes).sort()).toEqual(f.affected);
    expect(final.warnings).toContain(`no PipelineRun of ${SHA_NEW.slice(0, 7)} appeared within 2s (label pipelinesascode.tekton.dev/sha={sha}): the verdict does not include PipelineRuns`);
  });

  it('wait: true holds the verdict until the session timeout, which then says what never came', async () => {
    const f = await seedFleet(objs, 'ci-required');
    const run = startEngine({
      kubeconfig: cluster.adminKubeconfigPath,
      repoUrl: f.url,
      config: { ...config({ ...TEKTON, namespaces: ['ci-required'], wait: Infinity }), timeout: 3 },
    });
    await run.session();
    await fetchNew(objs, f);
    await applyNew(objs, f);
    const final = await run.p;
    expect(final.verdict).toBe('timeout');
    expect(final.verdictMessage).toMatch(new RegExp(`^timed out after 3s: 4 ready, .*; no PipelineRun of ${SHA_NEW.slice(0, 7)} appeared$`));
    expect(warningsOf(run)).toContain(`waiting until the session timeout for a PipelineRun of ${SHA_NEW.slice(0, 7)} (label pipelinesascode.tekton.dev/sha={sha}) before the verdict`);
  });

  it('a kind RBAC does not let the user list is reported once; Flux is followed as usual', async () => {
    const f = await seedFleet(objs, 'team-a', 'ci-rbac');
    const run = startEngine({ kubeconfig: cluster.limitedKubeconfigPath, repoUrl: f.url, config: config(TEKTON) });
    await run.session();
    await fetchNew(objs, f);
    await applyNew(objs, f);
    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(warningsOf(run).filter((w) => w.includes('PipelineRun'))).toEqual([
      'PipelineRun (tekton.dev/v1) is not followed cluster-wide: RBAC forbids listing pipelineruns.tekton.dev (grant get, list and watch)',
    ]);
    // A warning, not an error event (the Flux kinds' own 403s before their per-namespace fallback are another story).
    expect(errorsOf(run.events).filter((e) => e.message.includes('tekton'))).toEqual([]);
  });

  it('cluster-wide list forbidden: falls back to config.namespaces, like the Flux kinds, and follows the PipelineRun there', async () => {
    // limited-user may read PipelineRuns in team-a only.
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pipelinerun-viewer', namespace: 'team-a' },
      rules: [{ apiGroups: ['tekton.dev'], resources: ['pipelineruns'], verbs: ['get', 'list', 'watch'] }],
    };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'limited-user-pipelinerun-viewer', namespace: 'team-a' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pipelinerun-viewer' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'limited-user' }],
    };
    for (const [path, obj] of [['/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles', role], ['/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings', binding]] as const) {
      const r = await cluster.request('POST', path, obj);
      expect([201, 409]).toContain(r.status);
    }
    const f = await seedFleet(objs, 'team-a', 'ci-fallback');
    await createRun('team-a', 'build-fallback', SHA_NEW);
    await running('team-a', 'build-fallback');
    const run = startEngine({ kubeconfig: cluster.limitedKubeconfigPath, repoUrl: f.url, config: { ...config(TEKTON), namespaces: ['team-a', 'team-b'] } });
    const session = await run.session();
    expect(session.objects.map((o) => o.key)).toContain('PipelineRun/team-a/build-fallback');
    await fetchNew(objs, f);
    await applyNew(objs, f);
    await fluxReady(run, f);
    await succeeded('team-a', 'build-fallback');
    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(final.nodes['PipelineRun/team-a/build-fallback']).toMatchObject({ phase: 'Ready', reason: 'Succeeded' });
    expect(warningsOf(run).filter((w) => w.includes('PipelineRun'))).toEqual([
      'PipelineRun (tekton.dev/v1) is not followed cluster-wide: RBAC forbids listing pipelineruns.tekton.dev (grant get, list and watch); ' +
        'in namespace team-b: RBAC forbids listing pipelineruns.tekton.dev (grant get, list and watch); followed in team-a',
    ]);
  });

  // Last: it removes the CRD the other tests use.
  it('a CRD deleted during the session: said once, its objects gone, the session goes on to the Flux verdict', async () => {
    const f = await seedFleet(objs, 'ci-gone');
    await createRun('ci-gone', 'build-new', SHA_NEW);
    await running('ci-gone', 'build-new');
    const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: f.url, config: config({ ...TEKTON, namespaces: ['ci-gone'] }) });
    await run.session();
    const pr = 'PipelineRun/ci-gone/build-new';
    await run.phase(pr, 'Progressing');

    const del = await cluster.request('DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/pipelineruns.tekton.dev');
    expect([200, 202]).toContain(del.status);
    // The PipelineRuns go with their CRD, then the watch is refused (404): the kind is dropped, once.
    await waitFor('the kind to be dropped', () => warningsOf(run).some((w) => w.startsWith('PipelineRun (tekton.dev/v1) is no longer followed in ci-gone')), 60_000);
    await fetchNew(objs, f);
    await applyNew(objs, f);
    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(final.nodes[pr]).toMatchObject({ deleted: true });
    expect(warningsOf(run).filter((w) => w.startsWith('PipelineRun (tekton.dev/v1) is no longer followed in ci-gone'))).toHaveLength(1);
    expect(errorsOf(run.events).filter((e) => e.message.includes('tekton'))).toEqual([]);
  });
});
