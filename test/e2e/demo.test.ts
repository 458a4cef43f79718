// `flux-monitor demo --json` end to end: the built CLI, the embedded simulator, the real engine.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MonitorEvent } from '../../src/core/types.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

function demo(args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const r = spawnSync(process.execPath, [CLI, 'demo', '--json', '--speed', '4', ...args], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, CI: 'true' } });
  const events = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as MonitorEvent);
  return { status: r.status, events, stderr: r.stderr };
}

describe('flux-monitor demo --json', () => {
  it('ends with a correct summary of the scripted fleet: the redis upgrade and the monitoring CRDs fail', () => {
    const { status, events, stderr } = demo([]);
    expect(stderr).toBe('');
    expect(status).toBe(0); // the demo ended with the verdict its scenario scripts
    expect(events[0]!.type).toBe('session');
    const summary = events.at(-1)!;
    if (summary.type !== 'summary') throw new Error(`last event is ${summary.type}`);
    expect(summary.verdict).toBe('failed');
    // The summary's exitCode is the code the process exits with: the demo ended as scripted.
    expect(summary.exitCode).toBe(0);
    const phase = Object.fromEntries(summary.objects.map((o) => [o.key, o.phase]));
    expect(phase['GitRepository/flux-system/flux-system']).toBe('Ready');
    expect(phase['HelmRelease/apps/podinfo']).toBe('Ready');
    // The values schema error comes before Helm makes a release: helm-controller reports UpgradeFailed without
    // stalling (Reconciling stays True), which flux-monitor reports as Failed.
    expect(phase['HelmRelease/apps/redis']).toBe('Failed');
    expect(phase['Kustomization/flux-system/monitoring-crds']).toBe('Failed');
    expect(phase['Kustomization/flux-system/monitoring']).toBe('Waiting');
    // Another repository's objects are not part of this push.
    expect(Object.keys(phase).some((k) => k.includes('platform'))).toBe(false);
    expect(summary.counts.failed).toBe(2);
    const sumOf = (c: typeof summary.counts) => Object.values(c).reduce((a, b) => a + b, 0);
    expect(sumOf(summary.counts)).toBe(summary.objects.length);
    // Every phase change was reported on the way, starting from Pending for the pushed commit.
    const gitPhases = events.filter((e) => e.type === 'phase' && e.key === 'GitRepository/flux-system/flux-system').map((e) => (e as { phase: string }).phase);
    expect(gitPhases[0]).toBe('Pending');
    expect(gitPhases.at(-1)).toBe('Ready');
  });

  it('happy scenario: success and exit code 0 also with --exit-code', () => {
    const { status, events } = demo(['--scenario', 'happy', '--exit-code']);
    const summary = events.at(-1)!;
    expect(summary.type === 'summary' && summary.verdict).toBe('success');
    expect(summary.type === 'summary' && summary.exitCode).toBe(0);
    expect(status).toBe(0);
  });

  it('health-check-failure: a diagnosis event names the Deployment behind the failing health check and its pod', () => {
    const { status, events } = demo(['--scenario', 'health-check-failure']);
    expect(status).toBe(0);
    const d = events.filter((e): e is Extract<MonitorEvent, { type: 'diagnosis' }> => e.type === 'diagnosis').at(-1);
    expect(d?.key).toBe('Kustomization/flux-system/infra-controllers');
    const w = d!.diagnosis.workloads[0]!;
    expect(`${w.kind} ${w.namespace}/${w.name}`).toBe('Deployment ingress-nginx/ingress-nginx-controller');
    expect(w.rollout).toMatchObject({ desired: 2, updated: 1, ready: 2, available: 2 });
    expect(w.pods[0]!.problems[0]).toMatchObject({ reason: 'ImagePullBackOff', image: 'registry.k8s.io/ingress-nginx/controller:v1.12.99' });
    expect(d!.diagnosis.events.map((e) => e.reason)).toContain('HealthCheckFailed');
    // Before the summary, which carries it too.
    const summary = events.at(-1)!;
    if (summary.type !== 'summary') throw new Error(`last event is ${summary.type}`);
    expect(summary.objects.find((o) => o.key === d!.key)!.diagnosis).toEqual(d!.diagnosis);
  });

  it('fail-fast: infra-controllers is Failing on the pull error at once, and the session ends failed after the grace period, before Flux', () => {
    // The health checks run to kustomize-controller's timeout (5m, 75 s at --speed 4); fail-fast decides after
    // the default grace period (30 s of real time).
    const { status, events, stderr } = demo(['--scenario', 'fail-fast']);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const key = 'Kustomization/flux-system/infra-controllers';
    const phases = events.filter((e): e is Extract<MonitorEvent, { type: 'phase' }> => e.type === 'phase' && e.key === key);
    const failing = phases.find((e) => e.phase === 'Failing');
    expect(failing?.previous).toBe('Progressing');
    expect(failing!.failing!.evidence[0]).toMatchObject({ rule: 'image-unavailable', reason: 'ImagePullBackOff', text: 'pod ingress-nginx-controller-5c8d7f9b4-x2x8k: ImagePullBackOff: registry.k8s.io/ingress-nginx/controller:v1.12.99 (not found)' });
    expect(failing!.failing!.flux).toMatchObject({ action: 'health checks', timeout: '5m0s' });
    // Flux has not decided: no HealthCheckFailed came, the object is still Failing at the verdict.
    expect(phases.some((e) => e.phase === 'Failed')).toBe(false);
    const summary = events.at(-1)!;
    if (summary.type !== 'summary') throw new Error(`last event is ${summary.type}`);
    expect(summary.verdict).toBe('failed');
    expect(summary.failFast?.key).toBe(key);
    expect(summary.failFast!.at - summary.failFast!.since).toBeGreaterThanOrEqual(30_000);
    expect(summary.counts.failing).toBe(1);
    expect(summary.objects.find((o) => o.key === key)).toMatchObject({ phase: 'Failing', failing: { since: summary.failFast!.since } });
    expect(summary.message).toMatch(/^commit [0-9a-f]{7} failed \(fail-fast\): Kustomization flux-system\/infra-controllers: pod ingress-nginx-controller-5c8d7f9b4-x2x8k: ImagePullBackOff: .*; Flux has not decided yet \(Flux gives up in .*\(its health checks time out after 5m0s\)\)$/);
  }, 90_000);

  it('--exit-code: the failed verdict exits 1, and the summary says 1', () => {
    const { status, events } = demo(['--exit-code']);
    const summary = events.at(-1)!;
    expect(summary.type === 'summary' && [summary.verdict, summary.exitCode]).toEqual(['failed', 1]);
    expect(status).toBe(1);
  });

  it('pipelines: the PipelineRuns of the pushed commit are followed with Flux, and the failed one fails the verdict', () => {
    const { status, events, stderr } = demo(['--scenario', 'pipelines']);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const summary = events.at(-1)!;
    if (summary.type !== 'summary') throw new Error(`last event is ${summary.type}`);
    expect(summary.verdict).toBe('failed');
    const session = events[0] as Extract<MonitorEvent, { type: 'session' }>;
    const runs = summary.objects.filter((o) => o.key.startsWith('PipelineRun/ci/'));
    const short = session.commit.slice(0, 5);
    expect(runs.map((o) => [o.key, o.phase, o.reason])).toEqual([
      [`PipelineRun/ci/fleet-build-${short}`, 'Ready', 'Succeeded'],
      [`PipelineRun/ci/fleet-e2e-${short}`, 'Failed', 'Failed'],
    ]);
    expect(summary.message).toContain(`(PipelineRun ci/fleet-e2e-${short}: Failed)`);
    // Flux itself applied everything.
    expect(summary.counts.failed).toBe(1);
    expect(summary.objects.filter((o) => !o.key.startsWith('PipelineRun/')).every((o) => o.phase === 'Ready')).toBe(true);
  });

  it('rejects an unknown scenario with a usage error', () => {
    const { status, stderr } = demo(['--scenario', 'nope']);
    expect(status).toBe(64);
    expect(stderr).toContain('unknown scenario "nope"');
  });
});
