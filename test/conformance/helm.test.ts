// Conformance: flux-monitor against the real helm-controller (with source- and kustomize-controller): charts
// from the pushed repository (HelmChart with reconcileStrategy Revision) and from a HelmRepository served on
// loopback, applied directly or by a Kustomization. Failures must be reported as failures as soon as
// helm-controller says so, and an old failure must never be blamed on a new commit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/core/types.js';
import { chartFiles, gitRepository, helmRelease, helmReleaseYaml, helmRepository, kustomization, kustomizationYaml } from './cases.js';
import { decidedByFlux, fluxSuite, publishCharts, waitUntil, type Case } from './support.js';

const suite = fluxSuite({ beforeAll, afterAll });
const withCase = suite.withCase;

const BAD_TEMPLATE = '{{ fail "the chart refuses these values" }}\n';
/** A ConfigMap whose name the apiserver rejects: Helm makes a release, then the apply fails. */
const REJECTED_TEMPLATE = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-Bad_Name\ndata:\n  a: b\n';

const hrCondition = (c: Case, type: string) => c.latest('HelmRelease', 'web')?.status?.conditions?.find((x: any) => x.type === type);

describe('real Flux: HelmReleases', () => {
  it('an upgrade that fails before any release is made (template error) fails at once', () =>
    withCase('helm-template-error', 'a push that makes the chart template fail, without remediation', async (c) => {
      const first = await c.setup(chartFiles('charts/web'), (ns, url) => [gitRepository(ns, url), helmRelease(ns, 'web')]);
      await c.waitReady([['GitRepository', 'repo'], ['HelmRelease', 'web']], first);
      const sha = await c.push('break the template', chartFiles('charts/web', { template: BAD_TEMPLATE }));
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('failed');
      expect(run.summary.exitCode).toBe(EXIT_CODES.failed);
      const hr = c.node(run, 'HelmRelease', 'web');
      expect(hr.phase).toBe('Failed');
      expect(hr.reason).toBe('UpgradeFailed');
      expect(hr.message).toContain('the chart refuses these values');
      // What helm-controller wrote: Ready=False UpgradeFailed while Reconciling stays True (reason Progressing).
      expect(hrCondition(c, 'Ready')).toMatchObject({ status: 'False', reason: 'UpgradeFailed' });
      expect(hrCondition(c, 'Stalled')).toBeUndefined();
      expect(c.node(run, 'HelmChart', `${c.ns}-web`).phase).toBe('Ready');
    }));

  it('an upgrade that fails after a release is made is reported failed, with the rollback', () =>
    withCase('helm-remediated', 'a push whose release the apiserver rejects; remediation rolls it back', async (c) => {
      const first = await c.setup(chartFiles('charts/web'), (ns, url) => [gitRepository(ns, url), helmRelease(ns, 'web', { retries: 1 })]);
      await c.waitReady([['HelmRelease', 'web']], first);
      const sha = await c.push('add a ConfigMap the apiserver rejects', chartFiles('charts/web', { template: REJECTED_TEMPLATE }));
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('failed');
      const hr = c.node(run, 'HelmRelease', 'web');
      expect(['Failed', 'Stalled']).toContain(hr.phase);
      expect(hr.message).toMatch(/Bad_Name|invalid/i);
    }));

  it('Stalled on an older chart, then fixed by the next push: the old failure is never reported for the fix', () =>
    withCase('helm-stalled-then-fixed', 'remediation retries run out on a broken chart; the next push fixes it', async (c) => {
      const first = await c.setup(chartFiles('charts/web'), (ns, url) => [gitRepository(ns, url), helmRelease(ns, 'web', { retries: 1 })]);
      await c.waitReady([['HelmRelease', 'web']], first);
      await c.push('add a ConfigMap the apiserver rejects', chartFiles('charts/web', { template: REJECTED_TEMPLATE }));
      await waitUntil(suite.env(), 'the HelmRelease to stall (RetriesExceeded)', () => hrCondition(c, 'Stalled')?.status === 'True', 180_000);
      const fix = await c.push('fix the chart', chartFiles('charts/web', { values: 'message: fixed\n' }));
      const run = await c.monitor(fix);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('success');
      const phases = run.events.filter((e) => e.type === 'phase' && e.kind === 'HelmRelease').map((e) => (e as { phase: string }).phase);
      expect(phases).not.toContain('Stalled');
      expect(phases).not.toContain('Failed');
      expect(phases.at(-1)).toBe('Ready');
    }));

  it('a HelmRepository chart applied by a Kustomization: values, a new version, and a version that does not exist', () =>
    withCase('helm-repository', 'a HelmRelease in the pushed repository with its chart from a HelmRepository on loopback', async (c) => {
      const url = await publishCharts(suite.env(), 'charts-helm-repository', [
        { version: '1.0.0', files: chartFiles('web', { version: '1.0.0' }) },
        { version: '1.1.0', files: chartFiles('web', { version: '1.1.0' }) },
      ]);
      const files = (version: string, message: string) => ({
        'releases/kustomization.yaml': kustomizationYaml(['web.yaml']),
        'releases/web.yaml': helmReleaseYaml(helmRelease('x', 'web', { source: { kind: 'HelmRepository', name: 'charts' }, version, values: { message } })),
      });
      const first = await c.setup(files('1.0.0', 'one'), (ns, gitUrl) => [gitRepository(ns, gitUrl), helmRepository(ns, url), kustomization(ns, 'releases', './releases')]);
      await c.waitReady([['Kustomization', 'releases']], first);
      await c.waitReady([['HelmRelease', 'web']]);

      const values = await c.push('change the values', files('1.0.0', 'two'));
      const r1 = await c.monitor(values);
      decidedByFlux(r1);
      expect(r1.summary.verdict).toBe('success');
      expect(c.node(r1, 'HelmRelease', 'web').phase).toBe('Ready');

      const bump = await c.push('chart 1.1.0', files('1.1.0', 'two'));
      const r2 = await c.monitor(bump);
      decidedByFlux(r2);
      expect(r2.summary.verdict).toBe('success');
      await waitUntil(suite.env(), 'the release at 1.1.0', () => c.latest('HelmRelease', 'web')?.status?.history?.[0]?.chartVersion === '1.1.0');

      const missing = await c.push('chart 9.9.9', files('9.9.9', 'two'));
      const r3 = await c.monitor(missing);
      decidedByFlux(r3);
      expect(r3.summary.verdict).toBe('failed');
      const chart = c.node(r3, 'HelmChart', `${c.ns}-web`);
      expect(chart.phase).toBe('Stalled');
      expect(chart.reason).toBe('InvalidChartReference');
      expect(chart.message).toContain('9.9.9');
      const hr = c.node(r3, 'HelmRelease', 'web');
      expect(hr.settled).toBe(true);
      expect(hr.blockedBy).toBe(chart.key);
    }));
});
