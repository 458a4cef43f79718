// The pure interpreter of workloads and pods behind a failing health check (src/core/workloads.ts), on the
// status shapes the Kubernetes controllers, the kubelet and the scheduler write. The source of each shape
// (k8s.io/kubernetes v1.34.4, the version the kube suite runs) is named next to it.
import { describe, expect, it } from 'vitest';
import type { Diagnosis, KubeObject, WorkloadKind } from '../../src/core/types.js';
import {
  diagnoseWorkload,
  diagnosisHeadline,
  diagnosisLines,
  eventRevision,
  eventsOfAttempt,
  healthCheckWorkloads,
  inventoryWorkloads,
  labelSelectorString,
  podProblems,
  podProblemText,
  pullErrorGist,
  workloadsInMessage,
  workloadState,
} from '../../src/core/workloads.js';

const NS = 'team';
const IMAGE = 'ghcr.io/acme/web:1.2.4';

function workload(kind: WorkloadKind, spec: Record<string, unknown>, status: Record<string, unknown> | undefined, generation = 1): KubeObject {
  return {
    apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1',
    kind,
    metadata: { name: 'web', namespace: NS, generation },
    spec: { selector: { matchLabels: { app: 'web' } }, ...spec },
    ...(status ? { status } : {}),
  };
}

function pod(name: string, status: Record<string, unknown>, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: 'web' } },
    spec: { containers: [{ name: 'web', image: IMAGE }], restartPolicy: 'Always', ...spec },
    status,
  };
}

/** pkg/kubelet/status/generate.go: Ready and ContainersReady False with reason ContainersNotReady. */
const notReadyConds = (containers = '[web]') => [
  { type: 'PodReadyToStartContainers', status: 'True' },
  { type: 'Initialized', status: 'True' },
  { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: ${containers}` },
  { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: ${containers}` },
  { type: 'PodScheduled', status: 'True' },
];
const readyConds = [
  { type: 'Initialized', status: 'True' },
  { type: 'Ready', status: 'True' },
  { type: 'ContainersReady', status: 'True' },
  { type: 'PodScheduled', status: 'True' },
];

describe('workloadState: rollout state against the desired count (kstatus readiness)', () => {
  const cases: Array<{ what: string; kind: WorkloadKind; obj: KubeObject; ready: boolean; summary: string | RegExp; problems?: string[] }> = [
    {
      // No kube-controller-manager (the kube and flux suites): the Deployment keeps the empty status the
      // apiserver gives it on create.
      what: 'a Deployment no controller has acted on',
      kind: 'Deployment',
      obj: workload('Deployment', { replicas: 1 }, undefined),
      ready: false,
      summary: '0/1 updated, 0/1 ready, 0/1 available; generation 1 not observed: no Deployment controller has acted on it (is kube-controller-manager running?)',
    },
    {
      // pkg/controller/deployment/progress.go: Progressing=False ProgressDeadlineExceeded, "ReplicaSet %q has
      // timed out progressing."; util.go: Available=True MinimumReplicasAvailable.
      what: 'a Deployment whose rollout exceeded its progress deadline, old replicas left',
      kind: 'Deployment',
      obj: workload('Deployment', { replicas: 2 }, {
        observedGeneration: 3, replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-7d4b9c6f5" has timed out progressing.' },
        ],
      }, 3),
      ready: false,
      summary: '1/2 updated, 2/2 ready, 2/2 available, 2 old replicas; generation 3 observed',
      problems: ['ProgressDeadlineExceeded: ReplicaSet "web-7d4b9c6f5" has timed out progressing.'],
    },
    {
      // pkg/controller/deployment/sync.go: ReplicaFailure=True FailedCreate with the ReplicaSet controller's error.
      what: 'a Deployment whose pods cannot be created (quota)',
      kind: 'Deployment',
      obj: workload('Deployment', { replicas: 1 }, {
        observedGeneration: 2, replicas: 0, updatedReplicas: 0,
        conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "web-5d9c7b7f9-" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8' }],
      }, 2),
      ready: false,
      summary: '0/1 updated, 0/1 ready, 0/1 available; generation 2 observed',
      problems: ['FailedCreate: pods "web-5d9c7b7f9-" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8'],
    },
    {
      what: 'a Deployment one generation behind',
      kind: 'Deployment',
      obj: workload('Deployment', { replicas: 1 }, { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }, 2),
      ready: false,
      summary: '1/1 updated, 1/1 ready, 1/1 available; generation 2 not observed yet (observed 1)',
    },
    {
      what: 'a Deployment rolled out',
      kind: 'Deployment',
      obj: workload('Deployment', { replicas: 3 }, { observedGeneration: 4, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 }, 4),
      ready: true,
      summary: '3/3 updated, 3/3 ready, 3/3 available; generation 4 observed',
    },
    {
      // pkg/controller/statefulset: currentRevision stays on the old ControllerRevision until every pod is updated.
      what: 'a StatefulSet still on its old revision',
      kind: 'StatefulSet',
      obj: workload('StatefulSet', { replicas: 2 }, {
        observedGeneration: 2, replicas: 2, readyReplicas: 2, currentReplicas: 1, updatedReplicas: 2, availableReplicas: 2,
        currentRevision: 'web-6b8f9c7d5', updateRevision: 'web-7c9d8e6f4',
      }, 2),
      ready: false,
      summary: '2/2 updated, 2/2 ready, 2/2 available; generation 2 observed',
    },
    {
      // pkg/controller/daemon: desiredNumberScheduled, numberReady, updatedNumberScheduled, numberAvailable.
      what: 'a DaemonSet with unavailable pods',
      kind: 'DaemonSet',
      obj: workload('DaemonSet', {}, { observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 1, updatedNumberScheduled: 3, numberAvailable: 1, numberUnavailable: 2, numberMisscheduled: 0 }),
      ready: false,
      summary: '3/3 updated, 1/3 ready, 1/3 available; generation 1 observed',
    },
    {
      // pkg/controller/job/job_controller.go: Failed=True BackoffLimitExceeded "Job has reached the specified backoff limit".
      what: 'a Job that reached its backoff limit',
      kind: 'Job',
      obj: workload('Job', { backoffLimit: 2, completions: 1 }, {
        failed: 3, active: 0, startTime: '2025-06-02T09:14:03Z',
        conditions: [
          { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
          { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
        ],
      }),
      ready: false,
      summary: '0/1 succeeded, 0 active, 3 failed',
      problems: ['BackoffLimitExceeded: Job has reached the specified backoff limit'],
    },
    {
      what: 'a Job that completed',
      kind: 'Job',
      obj: workload('Job', { completions: 1 }, { succeeded: 1, startTime: '2025-06-02T09:14:03Z', conditions: [{ type: 'SuccessCriteriaMet', status: 'True' }, { type: 'Complete', status: 'True' }] }),
      ready: true,
      summary: '1/1 succeeded, 0 active, 0 failed',
    },
  ];
  it.each(cases)('$what', ({ kind, obj, ready, summary, problems }) => {
    const s = workloadState(kind, obj);
    expect(s.ready).toBe(ready);
    if (typeof summary === 'string') expect(s.summary).toBe(summary);
    else expect(s.summary).toMatch(summary);
    expect(s.problems).toEqual(problems ?? []);
  });
});

describe('podProblems: what the kubelet and the scheduler say about a pod', () => {
  const cases: Array<{ what: string; pod: KubeObject; expected: Array<Record<string, unknown>> }> = [
    {
      // pkg/kubelet/images/types.go ErrImagePullBackOff; image_manager.go: "Back-off pulling image %q: <previous
      // pull error>"; containerStatuses[].image is the spec image while waiting.
      what: 'ImagePullBackOff with the image',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Pending',
        conditions: notReadyConds(),
        containerStatuses: [{
          name: 'web', image: IMAGE, imageID: '', ready: false, started: false, restartCount: 0,
          state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${IMAGE}": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found` } },
        }],
      }),
      expected: [{ reason: 'ImagePullBackOff', container: 'web', image: IMAGE, message: expect.stringContaining('Back-off pulling image') }],
    },
    {
      // A long registry path: the registry's answer at the end of the message is kept (and said in one line).
      what: 'ImagePullBackOff of a long image reference',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Pending',
        containerStatuses: [{
          name: 'web', image: `registry.example.com/platform/team-a/services/${'x'.repeat(60)}:1.0.0`, ready: false, restartCount: 0,
          state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "registry.example.com/platform/team-a/services/${'x'.repeat(60)}:1.0.0": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/platform/team-a/services/${'x'.repeat(60)}:1.0.0": failed to resolve reference "registry.example.com/platform/team-a/services/${'x'.repeat(60)}:1.0.0": registry.example.com/platform/team-a/services/${'x'.repeat(60)}:1.0.0: not found` } },
        }],
      }),
      expected: [{ reason: 'ImagePullBackOff', container: 'web', image: expect.any(String), message: expect.stringMatching(/: not found$/) }],
    },
    {
      // image_manager.go evalCRIPullErr: ErrImagePull with the runtime's error as the message.
      what: 'ErrImagePull with the registry error',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Pending',
        conditions: notReadyConds(),
        containerStatuses: [{
          name: 'web', image: IMAGE, ready: false, started: false, restartCount: 0,
          state: { waiting: { reason: 'ErrImagePull', message: `rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": unexpected status from HEAD request: 401 Unauthorized` } },
        }],
      }),
      expected: [{ reason: 'ErrImagePull', container: 'web', image: IMAGE, message: expect.stringContaining('401 Unauthorized') }],
    },
    {
      // pkg/kubelet/container/sync_result.go ErrCrashLoopBackOff; kuberuntime_manager.go: "back-off %s
      // restarting failed container=%s pod=%s"; lastState.terminated from the runtime (reason Error, exitCode,
      // the container's termination message).
      what: 'CrashLoopBackOff with the last termination',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Running',
        conditions: notReadyConds(),
        containerStatuses: [{
          name: 'web', image: IMAGE, ready: false, started: false, restartCount: 4,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=web pod=web-5d9c7b7f9-x2x8k_team(0b5f3c1e-1d2a-4f7e-9a55-3f1c2b7d8e90)' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'panic: config: DATABASE_URL postgres://app:s3cret@db:5432/app unreachable\n', startedAt: '2025-06-02T09:14:03Z', finishedAt: '2025-06-02T09:14:04Z' } },
        }],
      }),
      expected: [{
        reason: 'CrashLoopBackOff', container: 'web', restarts: 4,
        lastTermination: { reason: 'Error', exitCode: 1, message: 'panic: config: DATABASE_URL postgres://***@db:5432/app unreachable' },
        message: expect.stringContaining('back-off 40s'),
      }],
    },
    {
      // The runtime reports the OOM kill as terminated.reason OOMKilled, exit code 137 (kuberuntime helpers.go).
      what: 'CrashLoopBackOff after an OOM kill',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Running',
        conditions: notReadyConds(),
        containerStatuses: [{
          name: 'web', image: IMAGE, ready: false, started: false, restartCount: 2,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s restarting failed container=web pod=web-5d9c7b7f9-x2x8k_team(0b5f)' } },
          lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
        }],
      }),
      expected: [{ reason: 'CrashLoopBackOff', container: 'web', restarts: 2, lastTermination: { reason: 'OOMKilled', exitCode: 137 }, message: expect.any(String) }],
    },
    {
      what: 'OOMKilled, running again',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Running',
        conditions: readyConds,
        containerStatuses: [{ name: 'web', image: IMAGE, ready: true, started: true, restartCount: 1, state: { running: { startedAt: '2025-06-02T09:15:00Z' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }],
      }),
      expected: [{ reason: 'OOMKilled', container: 'web', restarts: 1, lastTermination: { reason: 'OOMKilled', exitCode: 137 } }],
    },
    {
      // pkg/scheduler/schedule_one.go: PodScheduled=False reason Unschedulable with FitError.Error():
      // "0/%v nodes are available: <filter reasons>. preemption: …" (framework/types.go).
      what: 'Unschedulable with the scheduler message',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.' }],
      }),
      expected: [{ reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.' }],
    },
    {
      // status/generate.go: Ready=False ContainersNotReady while the container runs (started, not ready): the
      // readiness probe has not passed.
      what: 'a failing readiness probe',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Running',
        conditions: notReadyConds(),
        containerStatuses: [{ name: 'web', image: IMAGE, ready: false, started: true, restartCount: 0, state: { running: { startedAt: '2025-06-02T09:15:00Z' } } }],
      }, { containers: [{ name: 'web', image: IMAGE, readinessProbe: { httpGet: { path: '/healthz', port: 8080 } } }] }),
      expected: [{ reason: 'Unready', container: 'web', message: 'running, readiness probe failing' }],
    },
    {
      // kuberuntime_container.go ErrCreateContainerConfig with the kubelet's reason.
      what: 'CreateContainerConfigError (a missing Secret)',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Pending',
        conditions: notReadyConds(),
        containerStatuses: [{ name: 'web', image: IMAGE, ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "web-db" not found' } } }],
      }),
      expected: [{ reason: 'CreateContainerConfigError', container: 'web', message: 'secret "web-db" not found' }],
    },
    {
      // A Job's pod (restartPolicy Never) whose container exited with an error: terminated, not restarted.
      what: 'a container that exited with an error and is not restarted',
      pod: pod('migrate-7xk2p', {
        phase: 'Failed',
        containerStatuses: [{ name: 'web', image: IMAGE, ready: false, started: false, restartCount: 0, state: { terminated: { exitCode: 2, reason: 'Error', message: 'migration 0042 failed' } } }],
      }, { restartPolicy: 'Never' }),
      expected: [{ reason: 'Terminated', container: 'web', lastTermination: { reason: 'Error', exitCode: 2, message: 'migration 0042 failed' } }],
    },
    {
      // pkg/kubelet/eviction: phase Failed, reason Evicted, message "The node was low on resource: …".
      what: 'an evicted pod',
      pod: pod('web-5d9c7b7f9-x2x8k', { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi. ' }),
      expected: [{ reason: 'Evicted', message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi.' }],
    },
    {
      what: 'a pod still creating its container (a step, not a problem)',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Pending',
        conditions: notReadyConds(),
        containerStatuses: [{ name: 'web', image: IMAGE, ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }],
      }),
      expected: [],
    },
    {
      what: 'a healthy pod',
      pod: pod('web-5d9c7b7f9-x2x8k', {
        phase: 'Running',
        conditions: readyConds,
        containerStatuses: [{ name: 'web', image: IMAGE, ready: true, started: true, restartCount: 0, state: { running: { startedAt: '2025-06-02T09:15:00Z' } } }],
      }),
      expected: [],
    },
  ];
  it.each(cases)('$what', ({ pod: p, expected }) => {
    expect(podProblems(p)).toEqual(expected);
  });

  it('strips terminal escapes and credentials from what the cluster says', () => {
    const p = pod('x', {
      phase: 'Pending',
      containerStatuses: [{ name: 'web', image: 'https://user:tok@registry.example.com/web:1', state: { waiting: { reason: 'ErrImagePull', message: '\u001b[31mpull from https://robot:hunter2@registry.example.com failed\u001b[0m, Bearer abcdefghijklmnop' } } }],
    });
    const [problem] = podProblems(p);
    expect(problem!.message).toBe('pull from https://***@registry.example.com failed, Bearer ***');
    expect(problem!.image).toBe('https://***@registry.example.com/web:1');
  });

  it('says each problem in one line a person reads', () => {
    const backOff = `Back-off pulling image "${IMAGE}": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found`;
    // The gist of the registry's answer; verbose (full) gives the kubelet's message.
    expect(podProblemText({ reason: 'ImagePullBackOff', container: 'web', image: IMAGE, message: backOff })).toBe(`ImagePullBackOff: ${IMAGE} (not found), container web`);
    expect(podProblemText({ reason: 'ImagePullBackOff', container: 'web', image: IMAGE, message: backOff }, { full: true })).toBe(`ImagePullBackOff: ${IMAGE}, container web — ${backOff}`);
    expect(pullErrorGist(`rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": unexpected status from HEAD request to https://ghcr.io/v2/acme/web/manifests/1.2.4: 401 Unauthorized`)).toBe('401 Unauthorized');
    expect(pullErrorGist('Back-off pulling image "x": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "x": failed to resolve reference "registry.…')).toBe('NotFound');
    expect(pullErrorGist('rpc error: code = DeadlineExceeded desc = context deadline exceeded: dial tcp 10.0.0.1:443: i/o timeout')).toBe('i/o timeout (DeadlineExceeded)');
    expect(podProblemText({ reason: 'CrashLoopBackOff', container: 'web', restarts: 4, lastTermination: { reason: 'Error', exitCode: 1, message: 'panic: boom\nstack' }, message: 'back-off 40s …' })).toBe(
      'CrashLoopBackOff: container web, last run: Error (exit code 1): panic: boom, 4 restarts',
    );
    expect(podProblemText({ reason: 'OOMKilled', container: 'web', restarts: 1, lastTermination: { reason: 'OOMKilled', exitCode: 137 } })).toBe('OOMKilled: container web (exit code 137), 1 restart');
    expect(podProblemText({ reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' })).toBe('Unschedulable — 0/3 nodes are available: 3 Insufficient memory.');
  });
});

describe('diagnoseWorkload: the workload with its pods', () => {
  it('lists the pods with problems, most telling first, up to the limit', () => {
    const d = workload('Deployment', { replicas: 4 }, { observedGeneration: 1, replicas: 4, updatedReplicas: 4, readyReplicas: 0, availableReplicas: 0 });
    const pods = [
      pod('web-a', { phase: 'Running', conditions: notReadyConds(), containerStatuses: [{ name: 'web', ready: false, started: true, state: { running: {} } }] }),
      pod('web-b', { phase: 'Pending', conditions: notReadyConds(), containerStatuses: [{ name: 'web', image: IMAGE, ready: false, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }] }),
      pod('web-c', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' }] }),
      pod('web-d', { phase: 'Pending', conditions: notReadyConds(), containerStatuses: [{ name: 'web', image: IMAGE, ready: false, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }] }),
    ];
    const w = diagnoseWorkload('Deployment', d, pods, { workloads: 5, pods: 2, events: 5, lists: 8, podPage: 50, messageLength: 300 });
    expect(w.ready).toBe(false);
    expect(w.summary).toBe('4/4 updated, 0/4 ready, 0/4 available; generation 1 observed');
    expect(w.pods.map((p) => `${p.name} ${p.problems[0]!.reason}`)).toEqual(['web-b ImagePullBackOff', 'web-d ImagePullBackOff']);
    expect(w.morePods).toBe(2);
  });

  it('says there are no pods, and why, when no controller created them', () => {
    const w = diagnoseWorkload('Deployment', workload('Deployment', { replicas: 1 }, undefined), []);
    expect(w.podsNote).toBe('no pods: nothing has created them (no controller acts on the workload)');
    expect(diagnosisHeadline(diag([w]))).toBe('Deployment team/web: 0/1 ready, no pods');
  });
});

function diag(workloads: Diagnosis['workloads'], extra: Partial<Diagnosis> = {}): Diagnosis {
  return { at: 0, workloads, readyWorkloads: 0, events: [], notes: [], requests: 0, ...extra };
}

describe('references: inventory, health-check messages, selectors', () => {
  it('takes the workloads of an inventory', () => {
    expect(
      inventoryWorkloads([
        { id: 'team_web_apps_Deployment', v: 'v1' },
        { id: 'team_db_apps_StatefulSet', v: 'v1' },
        { id: 'team_migrate_batch_Job', v: 'v1' },
        { id: 'kube-system_agent_apps_DaemonSet', v: 'v1' },
        { id: 'team_web__Service', v: 'v1' },
        { id: 'team_web_extensions_Deployment', v: 'v1beta1' },
        { id: '_team__Namespace', v: 'v1' },
        { id: 'flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization', v: 'v1' },
      ]),
    ).toEqual([
      { kind: 'Deployment', namespace: 'team', name: 'web' },
      { kind: 'StatefulSet', namespace: 'team', name: 'db' },
      { kind: 'Job', namespace: 'team', name: 'migrate' },
      { kind: 'DaemonSet', namespace: 'kube-system', name: 'agent' },
    ]);
  });

  it("reads the objects a kstatus health check names (fluxcd/pkg ssa WaitForSet's message)", () => {
    expect(
      workloadsInMessage("health check failed after 15s: timeout waiting for: [Deployment/c-health-check/web status: 'InProgress', StatefulSet/data/db status: 'Failed': x, ConfigMap/a/b status: 'InProgress']"),
    ).toEqual([
      { kind: 'Deployment', namespace: 'c-health-check', name: 'web' },
      { kind: 'StatefulSet', namespace: 'data', name: 'db' },
    ]);
    // helm v4's wait (pkg/kube/statuswait.go) names them too.
    expect(workloadsInMessage('resource Deployment/team/web not ready. status: InProgress, message: …')).toEqual([{ kind: 'Deployment', namespace: 'team', name: 'web' }]);
    expect(healthCheckWorkloads({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'apps', namespace: 'flux-system' }, spec: { healthChecks: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'team' }, { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'x' }] } })).toEqual([
      { kind: 'Deployment', namespace: 'team', name: 'web' },
    ]);
  });

  it('writes a LabelSelector as a query', () => {
    expect(labelSelectorString({ matchLabels: { app: 'web', tier: 'fe' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['a', 'b'] }, { key: 'canary', operator: 'DoesNotExist' }] })).toBe(
      'app=web,tier=fe,env in (a,b),!canary',
    );
    expect(labelSelectorString({})).toBeUndefined();
  });
});

describe("eventsOfAttempt: the Flux object's Events of the pushed revision", () => {
  const sha = 'abcdef0123456789abcdef0123456789abcdef01';
  const old = '1111111111111111111111111111111111111111';
  const since = Date.parse('2025-06-02T09:14:00Z');
  // kustomize-controller's event(): metadata[kustomize.toolkit.fluxcd.io/revision] = revision, recorded with
  // AnnotatedEventf (fluxcd/pkg/runtime/events): a core/v1 Event with the annotations.
  const ev = (reason: string, at: string, revision?: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'v1', kind: 'Event',
    metadata: { name: `apps.${reason}`, namespace: 'flux-system', ...(revision ? { annotations: { 'kustomize.toolkit.fluxcd.io/revision': revision } } : {}) },
    involvedObject: { kind: 'Kustomization', name: 'apps', namespace: 'flux-system' },
    reason, message: `${reason} message`, type: reason === 'ReconciliationSucceeded' ? 'Normal' : 'Warning', lastTimestamp: at, count: 1, ...extra,
  });

  it('keeps those annotated with the pushed revision and recent unannotated ones, newest first', () => {
    const out = eventsOfAttempt(
      [
        ev('ReconciliationSucceeded', '2025-06-02T09:00:00Z', `main@sha1:${old}`),
        ev('HealthCheckFailed', '2025-06-02T09:15:10Z', `main@sha1:${sha}`, { count: 3 }),
        ev('Progressing', '2025-06-02T09:14:30Z'),
        ev('DependencyNotReady', '2025-06-02T08:00:00Z'),
      ],
      { pushed: { sha, branch: 'main' }, since },
    );
    expect(out).toEqual([
      { type: 'Warning', reason: 'HealthCheckFailed', message: 'HealthCheckFailed message', count: 3, time: '2025-06-02T09:15:10Z', revision: `main@sha1:${sha}` },
      { type: 'Warning', reason: 'Progressing', message: 'Progressing message', time: '2025-06-02T09:14:30Z' },
    ]);
  });

  it("matches a HelmRelease's chart version, and is bounded", () => {
    const hr = (i: number) => ({
      metadata: { name: `e${i}`, annotations: { 'helm.toolkit.fluxcd.io/revision': '6.5.1', 'helm.toolkit.fluxcd.io/token': 't' } },
      reason: 'UpgradeFailed', message: 'm', type: 'Warning', lastTimestamp: new Date(since + i * 1000).toISOString(),
    });
    expect(eventRevision(hr(0))).toBe('6.5.1');
    const out = eventsOfAttempt(Array.from({ length: 20 }, (_, i) => hr(i)), { pushed: { sha }, revision: '6.5.1', since, limits: { events: 4, messageLength: 100 } });
    expect(out).toHaveLength(4);
    expect(out[0]!.time).toBe(new Date(since + 19_000).toISOString());
  });
});

describe('diagnosisLines and diagnosisHeadline', () => {
  const w = diagnoseWorkload('Deployment', workload('Deployment', { replicas: 2 }, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 0, availableReplicas: 0 }), [
    pod('web-b', { phase: 'Pending', conditions: notReadyConds(), containerStatuses: [{ name: 'web', image: IMAGE, ready: false, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }] }),
  ]);
  const d = diag([w], { notes: ['cannot read pods in other (forbidden)'], events: [{ type: 'Warning', reason: 'HealthCheckFailed', message: 'health check failed after 15s', count: 2 }] });

  it('says the workload, its rollout state, its pods, notes; events when verbose', () => {
    expect(diagnosisLines(d).map((l) => `${l.indent}${l.tone[0]} ${l.text}`)).toEqual([
      '0p Deployment team/web: 2/2 updated, 0/2 ready, 0/2 available; generation 1 observed',
      `1p pod …b: ImagePullBackOff: ${IMAGE} (Back-off pulling image), container web`,
      '0i note: cannot read pods in other (forbidden)',
    ]);
    expect(diagnosisLines(d, { verbose: true }).at(-1)!.text).toBe('event Warning HealthCheckFailed (×2): health check failed after 15s');
  });

  it('puts the first problem on one line for history', () => {
    expect(diagnosisHeadline(d)).toBe(`Deployment team/web: ImagePullBackOff (${IMAGE})`);
    expect(diagnosisHeadline(diag([]))).toBeUndefined();
  });
});
