// The fail-fast rules (src/core/failfast.ts) and Flux's own wait (src/core/flux-wait.ts), on the shapes the
// kubelet, the scheduler, the workload controllers and the Flux controllers write. Each rule: it matches its shape,
// not the near-miss shapes, and it holds for its duration; evidence that clears is gone.
// Sources: k8s.io/kubernetes v1.34 (pkg/kubelet/images image_manager.go and types.go, pkg/kubelet/kuberuntime,
// pkg/kubelet/kubelet_pods.go, pkg/scheduler/schedule_one.go, pkg/controller/job, pkg/controller/deployment);
// fluxcd/kustomize-controller internal/controller/kustomization_controller.go (checkHealth), fluxcd/helm-controller
// internal/reconcile/atomic_release.go.
import { describe, expect, it } from 'vitest';
import type { KubeObject, NodeState } from '../../src/core/types.js';
import { countKey, countPhases } from '../../src/core/types.js';
import {
  conclusive,
  CRASH_LOOP_RESTARTS,
  FAIL_FAST_RULES,
  failFastVerdictMessage,
  failingInfo,
  failingLines,
  findEvidence,
  holdEvidence,
  UNSCHEDULABLE_HOLD_MS,
  type HeldEvidence,
} from '../../src/core/failfast.js';
import { fluxGivesUpText, fluxWait, parseDurationString, shortDuration } from '../../src/core/flux-wait.js';

const NS = 'team';
const IMAGE = 'registry.example/web:1.2.99';
const T0 = Date.parse('2026-06-02T10:00:00Z');

function pod(containerStatuses: unknown[], extra: { conditions?: unknown[]; deleting?: boolean; name?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: extra.name ?? 'web-7d9f8b6c5-x2x8k', namespace: NS, ...(extra.deleting ? { deletionTimestamp: '2026-06-02T10:00:00Z' } : {}) },
    spec: { containers: [{ name: 'web', image: IMAGE }] },
    status: { phase: 'Pending', conditions: extra.conditions ?? [{ type: 'PodScheduled', status: 'True' }], containerStatuses },
  };
}

const waitingCs = (reason: string, message: string | undefined, o: { restarts?: number; last?: unknown } = {}) => ({
  name: 'web',
  image: IMAGE,
  ready: false,
  started: false,
  restartCount: o.restarts ?? 0,
  state: { waiting: { reason, ...(message !== undefined ? { message } : {}) } },
  ...(o.last ? { lastState: { terminated: o.last } } : {}),
});

const rulesOf = (objs: { workload?: KubeObject; pods?: KubeObject[] }) => findEvidence(objs.workload, objs.pods).map((e) => e.rule);

describe('fail-fast rules: each matches its shape and not the near misses', () => {
  const cases: Array<{ what: string; pods?: KubeObject[]; workload?: KubeObject; rules: string[]; text?: RegExp }> = [
    // images/image_manager.go: while backing off, "Back-off pulling image %q: <the last pull error>"; containerd's
    // error for a missing tag.
    {
      what: 'ImagePullBackOff, tag not found (containerd)',
      pods: [pod([waitingCs('ImagePullBackOff', `Back-off pulling image "${IMAGE}": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found`)])],
      rules: ['image-unavailable'],
      text: /^pod web-7d9f8b6c5-x2x8k: ImagePullBackOff: registry\.example\/web:1\.2\.99 \(not found\)$/,
    },
    {
      what: 'ErrImagePull, access denied (401 from the registry)',
      pods: [pod([waitingCs('ErrImagePull', `rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": unexpected status from HEAD request to https://registry.example/v2/web/manifests/1.2.99: 401 Unauthorized`)])],
      rules: ['image-unavailable'],
    },
    {
      what: 'ErrImagePull, docker "pull access denied"',
      pods: [pod([waitingCs('ErrImagePull', 'Error response from daemon: pull access denied for web, repository does not exist or may require \'docker login\': denied: requested access to the resource is denied')])],
      rules: ['image-unavailable'],
    },
    {
      what: 'near miss: ErrImagePull on a registry timeout (the next pull may work)',
      pods: [pod([waitingCs('ErrImagePull', `rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.example/v2/web/manifests/1.2.99": dial tcp 10.0.0.5:443: i/o timeout`)])],
      rules: [],
    },
    {
      what: 'near miss: ErrImagePull rate-limited (429 toomanyrequests)',
      pods: [pod([waitingCs('ErrImagePull', `rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry.example/v2/web/manifests/sha256:abc: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit`)])],
      rules: [],
    },
    {
      what: 'near miss: a back-off message without the pull error (older kubelets): the cause is unknown',
      pods: [pod([waitingCs('ImagePullBackOff', `Back-off pulling image "${IMAGE}"`)])],
      rules: [],
    },
    {
      what: 'InvalidImageName (images/types.go ErrInvalidImageName)',
      pods: [pod([waitingCs('InvalidImageName', 'Failed to apply default image tag "registry.example/Web:1.2": couldn\'t parse image name "registry.example/Web:1.2": invalid reference format: repository name must be lowercase')])],
      rules: ['invalid-image-name'],
    },
    {
      // kubelet_pods.go makeEnvironmentVariables: a configMapKeyRef whose key is missing.
      what: 'CreateContainerConfigError, a missing ConfigMap key',
      pods: [pod([waitingCs('CreateContainerConfigError', "couldn't find key LOG_LEVEL in ConfigMap team/web-config")])],
      rules: ['container-config'],
      text: /CreateContainerConfigError: couldn't find key LOG_LEVEL in ConfigMap team\/web-config/,
    },
    {
      what: 'CreateContainerConfigError, a missing Secret',
      pods: [pod([waitingCs('CreateContainerConfigError', 'secret "web-db" not found')])],
      rules: ['container-config'],
    },
    {
      what: 'near miss: CreateContainerError (a runtime error that may pass)',
      pods: [pod([waitingCs('CreateContainerError', 'context deadline exceeded')])],
      rules: [],
    },
    {
      // kuberuntime_manager.go: "back-off %s restarting failed container=%s pod=%s".
      what: `CrashLoopBackOff at ${CRASH_LOOP_RESTARTS} restarts`,
      pods: [pod([waitingCs('CrashLoopBackOff', 'back-off 40s restarting failed container=web pod=web-7d9f8b6c5-x2x8k_team(0b5f)', { restarts: CRASH_LOOP_RESTARTS, last: { exitCode: 1, reason: 'Error', message: 'panic: missing DATABASE_URL' } })])],
      rules: ['crash-loop'],
      text: /CrashLoopBackOff: 3 restarts, last run: Error \(exit code 1\): panic: missing DATABASE_URL/,
    },
    {
      what: 'near miss: CrashLoopBackOff after one restart (an app that needs a moment)',
      pods: [pod([waitingCs('CrashLoopBackOff', 'back-off 10s restarting failed container=web pod=web-7d9f8b6c5-x2x8k_team(0b5f)', { restarts: CRASH_LOOP_RESTARTS - 2, last: { exitCode: 1, reason: 'Error' } })])],
      rules: [],
    },
    {
      // The runtime reports an OOM kill as terminated.reason OOMKilled, exit code 137 (kuberuntime helpers.go).
      what: 'OOMKilled in a loop (before the crash-loop rule: it says why)',
      pods: [pod([waitingCs('CrashLoopBackOff', 'back-off 20s restarting failed container=web pod=web-7d9f8b6c5-x2x8k_team(0b5f)', { restarts: 3, last: { exitCode: 137, reason: 'OOMKilled' } })])],
      rules: ['oom-loop'],
    },
    {
      what: 'near miss: one OOM kill, running again',
      pods: [pod([{ name: 'web', image: IMAGE, ready: true, started: true, restartCount: 1, state: { running: { startedAt: '2026-06-02T09:59:00Z' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }])],
      rules: [],
    },
    {
      // schedule_one.go: PodScheduled=False reason Unschedulable, the FitError's message.
      what: 'Unschedulable (held or not: the hold is checked by holdEvidence)',
      pods: [pod([], { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.', lastTransitionTime: '2026-06-02T09:58:00Z' }] })],
      rules: ['unschedulable'],
    },
    {
      what: 'near miss: PodScheduled=False SchedulingGated (waits for a gate, not for capacity)',
      pods: [pod([], { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' }] })],
      rules: [],
    },
    {
      what: 'near miss: a pod being deleted (the old ReplicaSet\'s) says nothing about the new one',
      pods: [pod([waitingCs('CreateContainerConfigError', 'secret "web-db" not found')], { deleting: true })],
      rules: [],
    },
    {
      what: 'near miss: a container that is merely being created',
      pods: [pod([waitingCs('ContainerCreating', undefined)])],
      rules: [],
    },
    {
      // job_controller.go: Failed=True BackoffLimitExceeded "Job has reached the specified backoff limit".
      what: 'a Job over its backoffLimit',
      workload: {
        apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'migrate', namespace: NS }, spec: { backoffLimit: 2 },
        status: { failed: 3, conditions: [{ type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }, { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] },
      },
      rules: ['job-backoff-limit'],
    },
    {
      what: 'near miss: a Job with failed pods under its limit (FailureTarget not reached)',
      workload: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'migrate', namespace: NS }, spec: { backoffLimit: 6 }, status: { failed: 2, active: 1 } },
      rules: [],
    },
    {
      // deployment/progress.go: Progressing=False ProgressDeadlineExceeded, 'ReplicaSet "x" has timed out progressing.'
      what: 'a Deployment past its progress deadline',
      workload: {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS },
        status: { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-7d9f8b6c5" has timed out progressing.' }] },
      },
      rules: ['progress-deadline'],
    },
    {
      what: 'near miss: a Deployment still progressing (ReplicaSetUpdated)',
      workload: {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS },
        status: { conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: 'ReplicaSet "web-7d9f8b6c5" is progressing.' }] },
      },
      rules: [],
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const ev = findEvidence(c.workload, c.pods);
      expect(ev.map((e) => e.rule)).toEqual(c.rules);
      if (c.text) expect(ev[0]!.text).toMatch(c.text);
    });
  }

  it('every rule of the table is exercised above, and says what it reads', () => {
    const hit = new Set(cases.flatMap((c) => c.rules));
    for (const r of FAIL_FAST_RULES) {
      expect(hit.has(r.id), r.id).toBe(true);
      expect(r.reads.length).toBeGreaterThan(40);
    }
  });

  it('one piece of evidence per container; each container of a pod on its own', () => {
    const p = pod([
      waitingCs('CrashLoopBackOff', 'back-off', { restarts: 5, last: { exitCode: 137, reason: 'OOMKilled' } }),
      { ...waitingCs('CreateContainerConfigError', 'configmap "side" not found'), name: 'sidecar' },
    ]);
    expect(findEvidence(undefined, [p]).map((e) => `${e.rule}:${e.container}`)).toEqual(['container-config:sidecar', 'oom-loop:web']);
  });

  it('cluster text is sanitised: no escape sequence reaches the evidence', () => {
    const ev = findEvidence(undefined, [pod([waitingCs('CreateContainerConfigError', 'secret "x\u001b[31mred" not found\nsecond line')])]);
    expect(ev[0]!.text).not.toMatch(/\u001b/);
    expect(ev[0]!.text).not.toMatch(/\n/);
  });

  it('keeps its reads bounded: a huge pull message is not scanned whole', () => {
    const huge = `Back-off pulling image "x": ${'a'.repeat(100_000)}: not found`;
    expect(rulesOf({ pods: [pod([waitingCs('ImagePullBackOff', huge)])] })).toEqual([]);
  });
});

describe('holdEvidence: evidence holds, clears, and counts after its rule\'s hold', () => {
  const pull = pod([waitingCs('ImagePullBackOff', `Back-off pulling image "${IMAGE}": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found`)]);
  const running = pod([{ name: 'web', image: IMAGE, ready: true, started: true, restartCount: 0, state: { running: { startedAt: '2026-06-02T10:00:20Z' } } }]);

  it('keeps the first time it was seen while it holds; a rule without hold is conclusive at once', () => {
    let held = holdEvidence(new Map(), findEvidence(undefined, [pull]), T0);
    held = holdEvidence(held, findEvidence(undefined, [pull]), T0 + 3000);
    const [e] = [...held.values()];
    expect(e!.firstSeen).toBe(T0);
    expect(e!.conclusiveAt).toBe(T0);
    expect(conclusive(held.values(), T0 + 3000)).toHaveLength(1);
  });

  it('a transient pull failure that clears is gone (an image CI pushed meanwhile)', () => {
    let held = holdEvidence(new Map(), findEvidence(undefined, [pull]), T0);
    held = holdEvidence(held, findEvidence(undefined, [running]), T0 + 12_000);
    expect(held.size).toBe(0);
    // It comes back: it starts again from then, not from the first time.
    held = holdEvidence(held, findEvidence(undefined, [pull]), T0 + 15_000);
    expect([...held.values()][0]!.firstSeen).toBe(T0 + 15_000);
  });

  it('Unschedulable counts only once held for its hold, from the condition\'s own time', () => {
    const unsched = (since: string) => pod([], { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.', lastTransitionTime: since }] });
    // Since 30 s: not conclusive before its hold is over.
    const fresh = holdEvidence(new Map(), findEvidence(undefined, [unsched(new Date(T0 - 30_000).toISOString())]), T0);
    expect(conclusive(fresh.values(), T0)).toHaveLength(0);
    expect([...fresh.values()][0]!.conclusiveAt).toBe(T0 - 30_000 + UNSCHEDULABLE_HOLD_MS);
    expect(conclusive(fresh.values(), T0 - 30_000 + UNSCHEDULABLE_HOLD_MS)).toHaveLength(1);
    // Held for longer than the hold already when first seen: conclusive at once (never before it was seen).
    const old = holdEvidence(new Map(), findEvidence(undefined, [unsched(new Date(T0 - 10 * 60_000).toISOString())]), T0);
    expect([...old.values()][0]!.conclusiveAt).toBe(T0);
    // A condition time in the future (a skewed clock) counts from when it was seen.
    const skew = holdEvidence(new Map(), findEvidence(undefined, [unsched(new Date(T0 + 60_000).toISOString())]), T0);
    expect([...skew.values()][0]!.conclusiveAt).toBe(T0 + UNSCHEDULABLE_HOLD_MS);
  });
});

describe('fluxWait: what Flux waits for, and until when', () => {
  const ks = (conds: unknown[], spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'apps', namespace: 'flux-system' }, spec, status: { conditions: conds } });
  const hr = (conds: unknown[], spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'web', namespace: 'team' }, spec, status: { conditions: conds } });
  const REV = 'main@sha1:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b';
  const healthMsg = `Running health checks for revision ${REV} with a timeout of 5m0s`;

  it('a Kustomization running its health checks: the timeout it wrote, from the Healthy condition it set at the start', () => {
    // checkHealth: MarkReconciling(Progressing, msg) and MarkUnknown(Healthy, Progressing, msg).
    const w = fluxWait(ks([
      { type: 'Reconciling', status: 'True', reason: 'Progressing', message: healthMsg, lastTransitionTime: '2026-06-02T09:59:50Z' },
      { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Reconciliation in progress', lastTransitionTime: '2026-06-02T09:59:50Z' },
      { type: 'Healthy', status: 'Unknown', reason: 'Progressing', message: healthMsg, lastTransitionTime: '2026-06-02T10:00:00Z' },
    ]));
    expect(w).toEqual({ action: 'health checks', revision: REV, timeout: '5m0s', timeoutMs: 300_000, startedAt: T0, deadline: T0 + 300_000 });
    expect(fluxGivesUpText(w, T0 + 48_000)).toBe('Flux gives up in 4m12s (its health checks time out after 5m0s)');
  });

  it('a HelmRelease install: the action\'s timeout, from Ready=Unknown set at the action\'s start', () => {
    const msg = "Running 'install' action with timeout of 10m0s";
    const w = fluxWait(hr([
      { type: 'Reconciling', status: 'True', reason: 'Progressing', message: msg, lastTransitionTime: '2026-06-02T09:59:58Z' },
      { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: msg, lastTransitionTime: '2026-06-02T10:00:00Z' },
    ]));
    expect(w).toMatchObject({ action: 'install', timeout: '10m0s', timeoutMs: 600_000, deadline: T0 + 600_000 });
  });

  it('is not a wait: other steps, Helm actions that do not wait for workloads, wait disabled, no Reconciling', () => {
    expect(fluxWait(ks([{ type: 'Reconciling', status: 'True', reason: 'Progressing', message: `Building manifests for revision ${REV} with a timeout of 5m0s` }]))).toBeUndefined();
    expect(fluxWait(hr([{ type: 'Reconciling', status: 'True', reason: 'Progressing', message: "Running 'test' action with timeout of 5m0s" }]))).toBeUndefined();
    expect(fluxWait(hr([{ type: 'Reconciling', status: 'True', reason: 'Progressing', message: "Running 'upgrade' action with timeout of 5m0s" }], { upgrade: { disableWait: true } }))).toBeUndefined();
    expect(fluxWait(ks([{ type: 'Ready', status: 'Unknown', reason: 'Progressing', message: healthMsg }]))).toBeUndefined();
    expect(fluxWait(hr([{ type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry', message: 'retrying after 5m0s' }]))).toBeUndefined();
  });

  it('parses Go durations and says short ones', () => {
    expect(parseDurationString('5m0s')).toBe(300_000);
    expect(parseDurationString('1h0m0s')).toBe(3_600_000);
    expect(parseDurationString('1m30.5s')).toBe(90_500);
    expect(parseDurationString('500ms')).toBe(500);
    expect(parseDurationString('5 minutes')).toBeUndefined();
    expect(shortDuration(252_000)).toBe('4m12s');
    expect(shortDuration(45_200)).toBe('46s');
    expect(shortDuration(3_780_000)).toBe('1h3m');
  });
});

describe('Failing: its counts, its lines and the fail-fast verdict message', () => {
  const ev: HeldEvidence = { rule: 'image-unavailable', reason: 'ImagePullBackOff', subject: 'pod team/web-1', container: 'web', text: `pod web-1: ImagePullBackOff: ${IMAGE} (not found)`, firstSeen: T0, conclusiveAt: T0 };
  const info = failingInfo([ev], { action: 'health checks', timeout: '5m0s', timeoutMs: 300_000, startedAt: T0 - 10_000, deadline: T0 + 290_000 }, 30_000);

  it('Failing is counted apart, never as failed nor progressing', () => {
    const n = { phase: 'Failing', settled: false, affected: true } as NodeState;
    expect(countKey(n)).toBe('failing');
    expect(countPhases([n])).toMatchObject({ failing: 1, failed: 0, progressing: 0 });
  });

  it('the lines say the evidence, when Flux gives up and when fail-fast ends the session', () => {
    expect(info).toMatchObject({ since: T0, failFastAt: T0 + 30_000, flux: { action: 'health checks', timeout: '5m0s', deadline: T0 + 290_000 } });
    expect(failingLines(info, T0 + 10_000).map((l) => l.text)).toEqual([
      `pod web-1: ImagePullBackOff: ${IMAGE} (not found)`,
      'Flux gives up in 4m40s (its health checks time out after 5m0s); fail-fast verdict in 20s if this holds',
    ]);
  });

  it('the verdict message says Flux has not decided yet, and when it will', () => {
    expect(failFastVerdictMessage('1a2b3c4d5e6f', { kind: 'Kustomization', namespace: 'flux-system', name: 'apps' }, info, T0 + 30_000)).toBe(
      `commit 1a2b3c4 failed (fail-fast): Kustomization flux-system/apps: pod web-1: ImagePullBackOff: ${IMAGE} (not found), held 30s; ` +
        'Flux has not decided yet (Flux gives up in 4m20s (its health checks time out after 5m0s))',
    );
  });
});
