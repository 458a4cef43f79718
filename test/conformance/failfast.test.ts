// Conformance: fail-fast against the real kustomize- and helm-controller. A health-checked Kustomization and a
// HelmRelease with `wait` deploy a Deployment whose pods cannot run; Flux waits for its timeout, flux-monitor
// reads the pods and decides first. No kubelet (nor kube-controller-manager) runs in the test cluster, so the
// Deployment never becomes ready for Flux, and its pods are written through the API in the shapes the kubelet
// writes (k8s.io/kubernetes v1.34, pkg/kubelet/kubelet_pods.go generateAPIPodStatus and convertToAPIContainerStatuses;
// pod conditions from pkg/kubelet/status/generate.go; the waiting reasons and messages named at each shape below).
// Each case checks that the verdict comes from the rule before Flux's own failure (Flux's Ready condition at the
// verdict is not HealthCheckFailed / UpgradeFailed yet), and, with --no-fail-fast, that it is Flux's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, type MonitorEvent } from '../../src/core/types.js';
import { runMonitor } from '../../src/engine/run.js';
import { DEFAULT_CONFIG } from '../../src/core/types.js';
import { chartFiles, configMap, deployment, gitRepository, helmRelease, kustomization, kustomizationYaml } from './cases.js';
import { fluxSuite, waitUntil, type Case } from './support.js';

const suite = fluxSuite({ beforeAll, afterAll });
const withCase = suite.withCase;

/**
 * Flux's timeout in the fail-fast cases (they end long before it, by design), and in the --no-fail-fast case (it
 * ends at it). FLUX_MONITOR_FAILFAST_BENCH=1 gives that one the fail-fast cases' timeout too, for the
 * docs/performance.md row (about 5 minutes more).
 */
const LONG = '5m';
const SHORT = process.env.FLUX_MONITOR_FAILFAST_BENCH === '1' ? LONG : '60s';
/** The grace period of the cases (the default, 30 s, is what the bench row measures). */
const GRACE = process.env.FLUX_MONITOR_FAILFAST_BENCH === '1' ? 30 : 8;

const IMAGE = (name: string) => `registry.invalid/${name}:1.0.0`;
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** pkg/kubelet/status/generate.go: Ready and ContainersReady False, ContainersNotReady. */
const notReady = (t: string) => [
  { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: t },
  { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: t },
  { type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: t, reason: 'ContainersNotReady', message: 'containers with unready status: [app]' },
  { type: 'ContainersReady', status: 'False', lastProbeTime: null, lastTransitionTime: t, reason: 'ContainersNotReady', message: 'containers with unready status: [app]' },
  { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: t },
];

type PodState =
  | { pull: 'not-found' }
  | { pull: 'running' }
  | { crash: number }
  | { configKey: { cm: string; key: string } };

/** The status the kubelet writes for the container `app` in each state. */
function podStatus(ns: string, pod: string, image: string, s: PodState): Record<string, unknown> {
  const t = now();
  const base = { phase: 'Pending', conditions: notReady(t), hostIP: '10.0.0.2', podIP: '10.244.0.7', startTime: t, qosClass: 'BestEffort' };
  const cs = (state: unknown, o: { restartCount?: number; lastState?: unknown; started?: boolean; imageID?: string } = {}) => [
    { name: 'app', image, imageID: o.imageID ?? '', ready: false, started: o.started ?? false, restartCount: o.restartCount ?? 0, state, lastState: o.lastState ?? {} },
  ];
  if ('pull' in s && s.pull === 'not-found') {
    // images/image_manager.go: while backing off, "Back-off pulling image %q: <the last pull error>" with containerd's NotFound.
    return { ...base, containerStatuses: cs({ waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found` } }) };
  }
  if ('pull' in s) {
    // The pull succeeded (CI pushed the image meanwhile): running, not ready yet.
    return { ...base, phase: 'Running', containerStatuses: cs({ running: { startedAt: t } }, { started: true, imageID: `${image}@sha256:${'e'.repeat(64)}` }) };
  }
  if ('crash' in s) {
    // kuberuntime_manager.go: "back-off %s restarting failed container=%s pod=%s", with the last run's termination.
    return {
      ...base,
      phase: 'Running',
      containerStatuses: cs(
        { waiting: { reason: 'CrashLoopBackOff', message: `back-off 40s restarting failed container=app pod=${pod}_${ns}(3f1c2b7d-8e90-4f7e-9a55-0b5f3c1e1d2a)` } },
        { restartCount: s.crash, imageID: `${image}@sha256:${'e'.repeat(64)}`, lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'panic: missing DATABASE_URL', startedAt: t, finishedAt: t, containerID: `containerd://${'c'.repeat(64)}` } } },
      ),
    };
  }
  // kubelet_pods.go makeEnvironmentVariables: a configMapKeyRef whose key the ConfigMap lacks.
  return { ...base, containerStatuses: cs({ waiting: { reason: 'CreateContainerConfigError', message: `couldn't find key ${s.configKey.key} in ConfigMap ${ns}/${s.configKey.cm}` } }) };
}

/** Creates the pod (labels `app: <app>`, as its ReplicaSet would) or rewrites its status, as the kubelet does. */
async function writePod(c: Case, app: string, pod: string, s: PodState): Promise<void> {
  const cluster = c.env.cluster;
  const path = `/api/v1/namespaces/${c.ns}/pods`;
  let cur = await cluster.request('GET', `${path}/${pod}`);
  if (cur.status === 404) {
    const created = await cluster.request('POST', path, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod, namespace: c.ns, labels: { app, 'pod-template-hash': '7d9f8b6c5' } },
      spec: { containers: [{ name: 'app', image: IMAGE(app) }], nodeName: 'node-1' },
    });
    if (created.status >= 300) throw new Error(`create pod ${pod}: ${created.status} ${created.text}`);
    cur = created;
  }
  const r = await cluster.request('PUT', `${path}/${pod}/status`, { ...cur.body, status: podStatus(c.ns, pod, IMAGE(app), s) });
  if (r.status >= 300) throw new Error(`write pod ${pod} status: ${r.status} ${r.text}`);
}

const reconcilingMessage = (c: Case, kind: string, name: string): string =>
  c.latest(kind, name)?.status?.conditions?.find((x: any) => x.type === 'Reconciling' && x.status === 'True')?.message ?? '';
const readyCondition = (c: Case, kind: string, name: string) => c.latest(kind, name)?.status?.conditions?.find((x: any) => x.type === 'Ready');

type Phase = Extract<MonitorEvent, { type: 'phase' }>;
const phasesOf = (events: MonitorEvent[], key: string) => events.filter((e): e is Phase => e.type === 'phase' && e.key === key);

/** A Kustomization `apps` (health-checked: wait, `timeout`) with a ConfigMap, Ready; the push adds Deployment web. */
async function healthCheckedPush(c: Case, timeout: string): Promise<string> {
  const first = await c.setup(
    { 'apps/kustomization.yaml': kustomizationYaml(['config.yaml']), 'apps/config.yaml': configMap('apps-config', { message: 'one' }) },
    (ns, url) => [gitRepository(ns, url), kustomization(ns, 'apps', './apps', { wait: true, timeout })],
  );
  await c.waitReady([['GitRepository', 'repo'], ['Kustomization', 'apps']], first);
  return c.push('add Deployment web', { 'apps/kustomization.yaml': kustomizationYaml(['config.yaml', 'web.yaml']), 'apps/web.yaml': deployment('web') });
}

describe('real Flux: fail-fast on conclusive workload failures', () => {
  it('a health-checked Kustomization: a pull error that clears inside the grace period does not fail; a crash loop does, before Flux', () =>
    withCase('failfast-kustomization', 'a Deployment whose pod first cannot pull (then can), then crash-loops, under a 5m health check', async (c) => {
      const sha = await healthCheckedPush(c, LONG);
      const key = `Kustomization/${c.ns}/apps`;
      const events: MonitorEvent[] = [];
      const run = c.monitor(sha, { fail_fast: true, fail_fast_grace: GRACE, timeout: 240 }, { onEvent: (e) => events.push(e) });
      await waitUntil(c.env, 'kustomize-controller to run the health checks', () => reconcilingMessage(c, 'Kustomization', 'apps').startsWith('Running health checks'));
      const pod = 'web-7d9f8b6c5-x2x8k';
      // A tag CI has not pushed yet: conclusive-looking, so Failing, but it clears inside the grace period.
      await writePod(c, 'web', pod, { pull: 'not-found' });
      await waitUntil(c.env, 'Failing on the pull error', () => phasesOf(events, key).some((e) => e.phase === 'Failing'), 60_000);
      await writePod(c, 'web', pod, { pull: 'running' });
      await waitUntil(c.env, 'back to Progressing once the pull succeeded', () => phasesOf(events, key).at(-1)?.phase === 'Progressing', 60_000);
      // Then the app crash-loops.
      await writePod(c, 'web', pod, { crash: 4 });
      const r = await run;
      expect(r.summary.verdict).toBe('failed');
      expect(r.summary.exitCode).toBe(EXIT_CODES.failed);
      expect(r.state.timedOut).toBeFalsy();
      // From the rule, before Flux: kustomize-controller is still running the health checks, nothing failed yet.
      expect(r.summary.failFast?.key).toBe(key);
      expect(readyCondition(c, 'Kustomization', 'apps')?.reason).not.toBe('HealthCheckFailed');
      expect(reconcilingMessage(c, 'Kustomization', 'apps')).toMatch(/^Running health checks for revision main@sha1:[0-9a-f]{40} with a timeout of 5m0s$/);
      const apps = c.node(r, 'Kustomization', 'apps');
      expect(apps.phase).toBe('Failing');
      expect(apps.failing!.evidence.map((e) => e.rule)).toEqual(['crash-loop']);
      expect(apps.failing!.evidence[0]!.text).toBe(`pod ${pod}: CrashLoopBackOff: 4 restarts, last run: Error (exit code 1): panic: missing DATABASE_URL`);
      // Flux's own deadline: the Healthy condition's start + 5m, minutes after the verdict.
      const deadline = r.summary.failFast!.fluxDeadline!;
      expect(deadline - r.summary.failFast!.at).toBeGreaterThan(60_000);
      expect(r.summary.message).toMatch(/^commit [0-9a-f]{7} failed \(fail-fast\): Kustomization c-failfast-kustomization\/apps: pod web-7d9f8b6c5-x2x8k: CrashLoopBackOff: .*; Flux has not decided yet \(Flux gives up in \d+m\d*s? ?\(its health checks time out after 5m0s\)\)$/);
      // The verdict waited the grace period from the crash loop, not from the cleared pull error.
      expect(r.summary.failFast!.at - r.summary.failFast!.since).toBeGreaterThanOrEqual(GRACE * 1000);
      const failing = phasesOf(events, key).filter((e) => e.phase === 'Failing');
      expect(failing.map((e) => e.failing?.evidence[0]?.rule)).toEqual(['image-unavailable', 'crash-loop']);
      expect(failing[0]!.failing!.flux).toMatchObject({ action: 'health checks', timeout: '5m0s' });
    }));

  it('a HelmRelease with wait: a missing ConfigMap key fails it before helm-controller does', () =>
    withCase('failfast-helm', 'a chart whose Deployment reads a ConfigMap key that does not exist, under a 5m Helm wait', async (c) => {
      const first = await c.setup(chartFiles('charts/web'), (ns, url) => [gitRepository(ns, url), helmRelease(ns, 'web', { wait: true, timeout: LONG })]);
      await c.waitReady([['GitRepository', 'repo'], ['HelmRelease', 'web']], first);
      const withDeployment = {
        ...chartFiles('charts/web'),
        'charts/web/templates/deployment.yaml':
          'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: { app: {{ .Release.Name }} }\n' +
          '  template:\n    metadata:\n      labels: { app: {{ .Release.Name }} }\n    spec:\n      containers:\n        - name: app\n' +
          `          image: ${IMAGE('web')}\n          env:\n            - name: LOG_LEVEL\n              valueFrom:\n                configMapKeyRef: { name: '{{ .Release.Name }}-config', key: LOG_LEVEL }\n`,
      };
      const sha = await c.push('add a Deployment that reads LOG_LEVEL', withDeployment);
      const key = `HelmRelease/${c.ns}/web`;
      const events: MonitorEvent[] = [];
      const run = c.monitor(sha, { fail_fast: true, fail_fast_grace: GRACE, timeout: 240 }, { onEvent: (e) => events.push(e) });
      await waitUntil(c.env, "helm-controller to run the upgrade (Helm waits for the Deployment)", () => reconcilingMessage(c, 'HelmRelease', 'web').startsWith("Running 'upgrade' action"));
      await writePod(c, 'web', 'web-7d9f8b6c5-q4wz8', { configKey: { cm: 'web-config', key: 'LOG_LEVEL' } });
      const r = await run;
      expect(r.summary.verdict).toBe('failed');
      expect(r.summary.failFast?.key).toBe(key);
      // helm-controller has not decided: the upgrade still runs, Ready is Unknown, not UpgradeFailed.
      expect(readyCondition(c, 'HelmRelease', 'web')?.reason).not.toBe('UpgradeFailed');
      expect(reconcilingMessage(c, 'HelmRelease', 'web')).toBe("Running 'upgrade' action with timeout of 5m0s");
      const hr = c.node(r, 'HelmRelease', 'web');
      expect(hr.phase).toBe('Failing');
      expect(hr.failing!.evidence[0]).toMatchObject({ rule: 'container-config', reason: 'CreateContainerConfigError', text: `pod web-7d9f8b6c5-q4wz8: CreateContainerConfigError: couldn't find key LOG_LEVEL in ConfigMap ${c.ns}/web-config` });
      expect(hr.failing!.flux).toMatchObject({ action: 'upgrade', timeout: '5m0s' });
      expect(r.summary.failFast!.fluxDeadline! - r.summary.failFast!.at).toBeGreaterThan(60_000);
      expect(r.summary.message).toContain("its Helm upgrade times out after 5m0s");
    }));

  it('--no-fail-fast: Failing while Flux waits, then Flux\'s own HealthCheckFailed is the verdict (and the time both take)', () =>
    withCase('failfast-off', `an image that does not exist under a ${SHORT} health check, without fail-fast`, async (c) => {
      const sha = await healthCheckedPush(c, SHORT);
      const key = `Kustomization/${c.ns}/apps`;
      const pushedAt = c.pushes.at(-1)!.t;
      const t0 = Date.now() - (c.recorder.now() - pushedAt);
      const events: MonitorEvent[] = [];
      // The same push, with fail-fast (default grace) alongside: the docs/performance.md row compares the two.
      const fast: MonitorEvent[] = [];
      const withFailFast = runMonitor({
        pushed: { sha, branch: 'main' },
        repoUrl: c.repo.url,
        branch: 'main',
        kubeconfig: c.env.kubeconfig,
        config: { ...DEFAULT_CONFIG, timeout: 600, auto_reconcile: true, fail_fast: true, fail_fast_grace: GRACE },
        onEvent: (e) => fast.push(e),
      });
      const run = c.monitor(sha, { fail_fast: false, timeout: 600 }, { onEvent: (e) => events.push(e) });
      await waitUntil(c.env, 'kustomize-controller to run the health checks', () => reconcilingMessage(c, 'Kustomization', 'apps').startsWith('Running health checks'));
      await writePod(c, 'web', 'web-7d9f8b6c5-x2x8k', { pull: 'not-found' });
      const [r, f] = await Promise.all([run, withFailFast]);
      // Flux's verdict: HealthCheckFailed, the Failing phase before it.
      expect(r.summary.verdict).toBe('failed');
      expect(r.summary.failFast).toBeUndefined();
      const apps = c.node(r, 'Kustomization', 'apps');
      expect(apps.phase).toBe('Failed');
      expect(apps.reason).toBe('HealthCheckFailed');
      expect(readyCondition(c, 'Kustomization', 'apps')?.reason).toBe('HealthCheckFailed');
      const seq = phasesOf(events, key).map((e) => e.phase);
      expect(seq.indexOf('Failing')).toBeGreaterThanOrEqual(0);
      expect(seq.indexOf('Failing')).toBeLessThan(seq.lastIndexOf('Failed'));
      // The fail-fast session on the same push ended first, on the rule.
      const fs = f.verdict;
      expect(fs).toBe('failed');
      expect(f.failFast?.key).toBe(key);
      expect(f.endedAt!).toBeLessThan(r.state.endedAt!);
      const secs = (ms: number) => Math.round(ms / 100) / 10;
      console.log(
        `[failfast bench] health check timeout ${SHORT}, grace ${GRACE}s: push → fail-fast verdict ${secs(f.endedAt! - t0)} s; ` +
          `push → Flux's HealthCheckFailed verdict ${secs(r.state.endedAt! - t0)} s; ratio ${(Math.round(((f.endedAt! - t0) / (r.state.endedAt! - t0)) * 100) / 100).toFixed(2)}`,
      );
    }));
});
