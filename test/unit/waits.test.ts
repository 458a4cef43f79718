// When Flux looks again (src/core/waits.ts), on objects with the condition shapes the real controllers write:
// kustomize-controller v1.9.6, helm-controller v1.6.2, source-controller v1.9.6 (the versions test/flux builds).
// Each case cites where the shape comes from.
import { describe, expect, it } from 'vitest';
import { computeStatus } from '../../src/core/status.js';
import type { Condition, KubeObject } from '../../src/core/types.js';
import {
  computeWait,
  controllerFlagsFromDeployment,
  parseControllerArgs,
  parseGoDuration,
  waitDue,
  type WaitFacts,
} from '../../src/core/waits.js';

const SHA = '0d950d6b8f1946edbee53b368fb9e2f9da40ffbe';
const OLD = 'a8c246e0ca811f6dedc150d2be673074e7a1280b';
const T0 = '2026-05-04T10:00:00Z';
const t0 = Date.parse(T0);
const s = (n: number) => n * 1000;

const cond = (type: string, status: string, reason: string, message: string, lastTransitionTime = T0): Condition => ({ type, status, reason, message, lastTransitionTime, observedGeneration: 1 });

function ks(conditions: Condition[], extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'apps', namespace: 'flux-system', generation: 1, ...extra.metadata },
    spec: { interval: '10m', dependsOn: [{ name: 'infra' }], sourceRef: { kind: 'GitRepository', name: 'repo' } },
    status: { observedGeneration: 1, lastAttemptedRevision: `main@sha1:${OLD}`, lastAppliedRevision: `main@sha1:${OLD}`, conditions, ...extra.status },
  };
}

function hr(conditions: Condition[]): KubeObject {
  return {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: 'web', namespace: 'apps', generation: 2 },
    spec: { interval: '5m', dependsOn: [{ name: 'db' }], chart: { spec: { chart: 'web', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } },
    status: { observedGeneration: 1, lastAttemptedGeneration: 2, conditions },
  };
}

// kustomize-controller Reconcile(): conditions.MarkFalse(obj, Ready, DependencyNotReady, "%s", err) with err from
// checkDependencies: "dependency '<ns>/<name>' is not ready".
const ksWaiting = (t = T0) => ks([cond('Ready', 'False', 'DependencyNotReady', "dependency 'flux-system/infra' is not ready", t)]);

const read = (flags: Record<string, unknown> = {}): WaitFacts => ({
  controllers: { 'kustomize-controller': { read: true, ...flags }, 'helm-controller': { read: true, ...flags }, 'source-controller': { read: true, ...flags } },
});

const pushed = { sha: SHA, branch: 'main' };
const waitOf = (o: KubeObject, facts: WaitFacts = {}) => computeWait(o, computeStatus(o, pushed), facts);

describe('dependency retries', () => {
  it('a Kustomization waiting on a dependency retries every --requeue-dependency from its first attempt', () => {
    const o = ksWaiting();
    expect(computeStatus(o, pushed).phase).toBe('Waiting');
    const w = waitOf(o, read({ requeueDependencyMs: s(5) }))!;
    expect(w).toMatchObject({ kind: 'retry', ms: s(5), basis: 'flag', from: t0, controller: 'kustomize-controller' });
    expect(w.jitter).toBeUndefined();
    // The first retry: 5 s after the attempt (known to the second), plus the allowance for the controller's work.
    expect(waitDue(w, t0 + s(2))).toEqual({ at: t0 + s(7), bound: 'by' });
  });

  it('the documented default (30 s) when the Deployment was read without the flag, or could not be read', () => {
    expect(waitOf(ksWaiting(), read())).toMatchObject({ ms: s(30), basis: 'default' });
    expect(waitOf(ksWaiting(), {})).toMatchObject({ ms: s(30), basis: 'assumed' });
    expect(waitOf(ksWaiting(), { controllers: { 'kustomize-controller': { read: false } } })).toMatchObject({ ms: s(30), basis: 'assumed' });
  });

  it('later retries are inferred: the bound counts down to each, and never lies past one period from now', () => {
    const w = waitOf(ksWaiting(), read())!;
    // Just after the first attempt: by t0 + 1 s (truncation) + 30 s + 1 s.
    expect(waitDue(w, t0 + s(8)).at).toBe(t0 + s(32));
    // Counting down: the same bound a few seconds later.
    expect(waitDue(w, t0 + s(20)).at).toBe(t0 + s(32));
    // Past the first retry (which changed nothing, so wrote nothing): the second one, by its window's end
    // (t0 + 1 s + 2 × 31 s) or one period from now, whichever comes first.
    expect(waitDue(w, t0 + s(31)).at).toBe(t0 + s(62));
    expect(waitDue(w, t0 + s(45)).at).toBe(t0 + s(63));
    // Far on, the inferred windows are wider than a period: one period from now bounds it.
    const now = t0 + s(3000);
    const due = waitDue(w, now);
    expect(due.at).toBeLessThanOrEqual(now + s(31));
    expect(due.at).toBeGreaterThan(now);
  });

  it('a HelmRelease waiting on a dependency: same, from helm-controller\'s flag', () => {
    // helm-controller Reconcile(): conditions.MarkFalse(obj, Ready, DependencyNotReady, "%s", err); RequeueAfter: DependencyRequeueInterval.
    const o = hr([cond('Ready', 'False', 'DependencyNotReady', "dependency 'apps/db' is not ready")]);
    const w = waitOf(o, { controllers: { 'helm-controller': { read: true, requeueDependencyMs: s(10) }, 'kustomize-controller': { read: true, requeueDependencyMs: s(99) } } })!;
    expect(w).toMatchObject({ kind: 'retry', ms: s(10), basis: 'flag', controller: 'helm-controller' });
  });

  it('a HelmRelease whose chart source is not ready: the same interval, jittered', () => {
    // helm-controller: conditions.MarkFalse(obj, Ready, "SourceNotReady", msg); jitter.JitteredRequeueInterval(RequeueAfter: DependencyRequeueInterval).
    const o = hr([cond('Ready', 'False', 'SourceNotReady', "HelmChart 'flux-system/apps-web' is not ready: latest generation of object has not been reconciled")]);
    const w = waitOf(o)!;
    expect(w).toMatchObject({ kind: 'retry', ms: s(30), jitter: 0.05 });
    expect(waitDue(w, t0 + s(5)).at).toBe(t0 + s(1) + s(31.5) + s(1));
  });

  it('no announced retry while a reconcile request is pending (the controller acts on it at once), nor for other NotReady reasons', () => {
    const o = ksWaiting();
    o.metadata.annotations = { 'reconcile.fluxcd.io/requestedAt': '2026-05-04T10:00:05.123456789Z' };
    expect(waitOf(o)).toBeUndefined();
    o.status.lastHandledReconcileAt = '2026-05-04T10:00:05.123456789Z';
    expect(waitOf(o)).toMatchObject({ kind: 'retry' });
    // Older helm-controllers' HelmChartNotReady: how they requeue is not known here, so nothing is announced.
    expect(waitOf(hr([cond('Ready', 'False', 'HelmChartNotReady', 'HelmChart is not ready')]))).toBeUndefined();
  });

  it('without a lastTransitionTime only the period is known', () => {
    const o = ks([{ type: 'Ready', status: 'False', reason: 'DependencyNotReady', message: "dependency 'flux-system/infra' is not ready" }]);
    const w = waitOf(o)!;
    expect(w.from).toBeUndefined();
    expect(waitDue(w, t0)).toEqual({ bound: 'by' });
  });
});

describe('timeouts', () => {
  it('a Kustomization health check times out at its start + the timeout the controller wrote', () => {
    // checkHealth(): MarkReconciling(Progressing, msg) and MarkUnknown(Healthy, Progressing, msg) with
    // msg = "Running health checks for revision <rev> with a timeout of <obj.GetTimeout()>".
    const msg = `Running health checks for revision main@sha1:${SHA} with a timeout of 9m30s`;
    const o = ks(
      [cond('Ready', 'Unknown', 'Progressing', 'Reconciliation in progress'), cond('Reconciling', 'True', 'Progressing', msg), cond('Healthy', 'Unknown', 'Progressing', msg)],
      { status: { lastAttemptedRevision: `main@sha1:${SHA}` } },
    );
    expect(computeStatus(o, pushed).phase).toBe('Progressing');
    const w = waitOf(o)!;
    expect(w).toEqual({ kind: 'timeout', ms: s(570), basis: 'status', from: t0 });
    expect(waitDue(w, t0 + s(60))).toEqual({ at: t0 + s(571), bound: 'at' });
    expect(waitDue(w, t0 + s(600))).toEqual({ at: t0 + s(571), bound: 'at', overdue: true });
  });

  it('a HelmRelease action times out at its start + the action timeout', () => {
    // atomic_release.go: MarkReconciling(Progressing, "Running '%s' action with timeout of %s") before the action.
    const msg = "Running 'upgrade' action with timeout of 5m0s";
    const o = hr([cond('Ready', 'Unknown', 'Progressing', msg), cond('Reconciling', 'True', 'Progressing', msg)]);
    expect(computeStatus(o, pushed).phase).toBe('Progressing');
    expect(waitOf(o)).toEqual({ kind: 'timeout', ms: s(300), basis: 'status', from: t0 });
  });

  it('no timeout from other progress messages, nor from a message that only looks like one', () => {
    const o = ks([cond('Ready', 'Unknown', 'Progressing', 'Reconciliation in progress'), cond('Reconciling', 'True', 'Progressing', `Building manifests for revision main@sha1:${SHA} with a timeout of 30s`)]);
    expect(waitOf(o)).toBeUndefined();
    const fake = hr([cond('Ready', 'Unknown', 'Progressing', 'x'), cond('Reconciling', 'True', 'Progressing', "Running 'upgrade' action with timeout of soon")]);
    expect(waitOf(fake)).toBeUndefined();
  });

  it('reads the messages through the one parser fail-fast uses (core/flux-wait.ts parseWaitMessage)', () => {
    // Every Helm action helm-controller announces gives its timeout, `correct cluster drift` (a space) included.
    for (const action of ['install', 'upgrade', 'test', 'rollback', 'uninstall', 'unlock', 'correct cluster drift']) {
      const msg = `Running '${action}' action with timeout of 2m30s`;
      expect(waitOf(hr([cond('Ready', 'Unknown', 'Progressing', msg), cond('Reconciling', 'True', 'Progressing', msg)])), action).toEqual({ kind: 'timeout', ms: s(150), basis: 'status', from: t0 });
    }
    const health = (rev: string, d: string) => {
      const msg = `Running health checks for revision ${rev} with a timeout of ${d}`;
      return ks([cond('Ready', 'Unknown', 'Progressing', 'Reconciliation in progress'), cond('Reconciling', 'True', 'Progressing', msg), cond('Healthy', 'Unknown', 'Progressing', msg)], { status: { lastAttemptedRevision: `main@sha1:${SHA}` } });
    };
    expect(waitOf(health(`main@sha1:${SHA}`, '1h0m0s'))).toEqual({ kind: 'timeout', ms: s(3600), basis: 'status', from: t0 });
    // What no controller writes: a typed duration, a hostile revision, an over-long one.
    for (const o of [health(`main@sha1:${SHA}`, '1h30m'), health(`main\u001b[2J@sha1:${SHA}`, '5m0s'), health('r'.repeat(600), '5m0s'), health(`main@sha1:${SHA}`, '5us')]) {
      expect(waitOf(o)).toBeUndefined();
    }
  });
});

describe('source fetches', () => {
  // source-controller: Ready=True Succeeded "stored artifact for revision 'main@sha1:<old>'"; artifact.lastUpdateTime
  // set only when a new artifact is stored (fluxcd/pkg/artifact storage); requeue after the jittered interval.
  function git(interval: string | undefined, lastUpdateTime = T0, readyTime = '2026-05-04T09:00:00Z'): KubeObject {
    return {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'repo', namespace: 'flux-system', generation: 1 },
      spec: { url: 'https://example.com/repo.git', ...(interval ? { interval } : {}) },
      status: {
        observedGeneration: 1,
        artifact: { revision: `main@sha1:${OLD}`, lastUpdateTime },
        conditions: [cond('Ready', 'True', 'Succeeded', `stored artifact for revision 'main@sha1:${OLD}'`, readyTime), cond('ArtifactInStorage', 'True', 'Succeeded', `stored artifact for revision 'main@sha1:${OLD}'`, readyTime)],
      },
    };
  }

  it('a source that has not fetched the push: next fetch by the last fetch + interval (±jitter)', () => {
    const o = git('1m0s');
    expect(computeStatus(o, pushed)).toMatchObject({ phase: 'Pending', reason: 'NotFetched' });
    const w = waitOf(o, read({ jitterPercent: 10 }))!;
    expect(w).toMatchObject({ kind: 'fetch', ms: s(60), basis: 'spec', jitter: 0.1, from: t0 });
    expect(waitDue(w, t0 + s(10)).at).toBe(t0 + s(1) + s(66) + s(1));
  });

  it('the newest of the artifact time and the conditions is the last fetch known', () => {
    const w = waitOf(git('1m', T0, '2026-05-04T10:00:20Z'))!;
    expect(w.from).toBe(t0 + s(20));
  });

  it('no fetch announced without an interval, or once the source has the push', () => {
    expect(waitOf(git(undefined))).toBeUndefined();
    const o = git('1m');
    o.status.artifact.revision = `main@sha1:${SHA}`;
    expect(waitOf(o)).toBeUndefined();
  });
});

describe('hostile times', () => {
  it('a lastTransitionTime far in the future or the past never puts a retry or fetch more than one period from now', () => {
    const now = t0;
    for (const t of ['2099-01-01T00:00:00Z', '1970-01-01T00:00:00Z']) {
      const w = waitOf(ksWaiting(t), read())!;
      const due = waitDue(w, now);
      expect(due.at).toBeGreaterThan(now);
      expect(due.at).toBeLessThanOrEqual(now + s(31));
    }
    // Not a time at all: only the period.
    expect(waitOf(ksWaiting('yesterday'))?.from).toBeUndefined();
  });
});

describe('controller flags', () => {
  it('reads --requeue-dependency and --interval-jitter-percentage as pflag does', () => {
    expect(parseControllerArgs(['--watch-all-namespaces=true', '--requeue-dependency=5s', '--interval-jitter-percentage', '10'])).toEqual({ requeueDependencyMs: 5000, jitterPercent: 10 });
    expect(parseControllerArgs(['--requeue-dependency', '1m30s', '--requeue-dependency=10s'])).toEqual({ requeueDependencyMs: 10_000 });
    // Not a flag of these (single dash, a value that is not a duration, out of range): ignored.
    expect(parseControllerArgs(['-requeue-dependency=5s', '--requeue-dependency=soon', '--interval-jitter-percentage=100'])).toEqual({});
    expect(parseControllerArgs('--requeue-dependency=5s')).toEqual({});
  });

  it('takes the manager container of a Deployment', () => {
    const dep = { spec: { template: { spec: { containers: [{ name: 'sidecar', args: ['--requeue-dependency=1s'] }, { name: 'manager', args: ['--requeue-dependency=15s'] }] } } } };
    expect(controllerFlagsFromDeployment(dep)).toEqual({ read: true, requeueDependencyMs: 15_000 });
    expect(controllerFlagsFromDeployment({})).toEqual({ read: true });
  });

  it('parses Go durations', () => {
    expect(parseGoDuration('30s')).toBe(30_000);
    expect(parseGoDuration('1m0s')).toBe(60_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('500ms')).toBe(500);
    for (const bad of ['', '5', 's', '5x', '1m 0s', '9999999h', 5]) expect(parseGoDuration(bad)).toBeUndefined();
  });
});
