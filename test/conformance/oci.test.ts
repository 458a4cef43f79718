// Conformance: flux-monitor when Flux deploys from OCI artifacts that CI builds from each commit (issue 18).
// A real OCI registry runs on loopback (go-containerregistry's registry, in test/flux/bin/oci-tool); "CI" is the
// test itself, pushing the commit's manifests as `flux push artifact --source=<repo> --revision=main@sha1:<sha>`
// does (fluxcd/pkg/oci). The real source-controller pulls the artifact into an OCIRepository and copies its
// annotations into status.artifact.metadata; the real kustomize-controller applies it. No GitRepository follows
// the repository: flux-monitor must find the OCIRepository by the artifact's source annotation.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, type MonitorEvent } from '../../src/core/types.js';
import { startOciRegistry, type OciRegistry } from '../harness/oci-registry.js';
import { chartFiles, configMap, kustomization, kustomizationYaml } from './cases.js';
import { apply } from './env.js';
import { decidedByFlux, fluxSuite, waitUntil, type Case } from './support.js';

const suite = fluxSuite({ beforeAll, afterAll });
let registry: OciRegistry | undefined;
beforeAll(async () => {
  registry = await startOciRegistry();
});
afterAll(async () => {
  await registry?.stop();
});
const reg = (): OciRegistry => {
  if (!registry) throw new Error('the OCI registry is not started');
  return registry;
};

/** The manifests CI packs into the artifact: deploy/ of the repository. */
function files(message: string): Record<string, string> {
  return {
    'deploy/kustomization.yaml': kustomizationYaml(['config.yaml']),
    'deploy/config.yaml': configMap('app-config', { message }),
  };
}

/** An OCIRepository on the case's artifact (tag latest) and a Kustomization that applies it. */
function objects(ns: string, host: string, interval = '10s') {
  return [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'OCIRepository',
      metadata: { name: 'app', namespace: ns },
      // A short interval: nothing tells source-controller that CI pushed a new tag, it polls the registry.
      spec: { interval, timeout: '20s', url: `oci://${host}/${ns}/app`, ref: { tag: 'latest' }, insecure: true },
    },
    kustomization(ns, 'app', './', { source: { kind: 'OCIRepository', name: 'app' } }),
  ];
}

/** CI: packs deploy/ of the working tree (which must be at `sha`) and pushes it as `flux push artifact` does. */
async function publish(c: Case, sha: string, opts: { withRevision?: boolean } = {}): Promise<void> {
  await reg().push({
    repository: `${c.ns}/app`,
    tag: 'latest',
    dir: path.join(c.repo.dir, 'deploy'),
    source: c.repo.url,
    revision: opts.withRevision === false ? undefined : `main@sha1:${sha}`,
  });
}

/** Sets the case up with its first commit built and applied; returns that commit. */
async function start(c: Case, interval?: string): Promise<string> {
  c.registry = reg().host;
  const first = await c.setup(files('one'), () => []);
  await publish(c, first);
  await apply(suite.env().cluster, objects(c.ns, reg().host, interval));
  await waitUntil(suite.env(), `Kustomization app applied ${first.slice(0, 7)} from the OCI artifact in ${c.ns}`, () => {
    const ks = c.latest('Kustomization', 'app');
    return c.ready('Kustomization', 'app') && String(ks?.status?.lastAppliedOriginRevision ?? '').includes(first);
  });
  return first;
}

/** Waits for the AwaitingArtifact report; a session that ends before it fails the case instead of hanging it. */
async function untilCiPhase(ciPhase: Promise<void>, running: Promise<{ summary: { message: string } }>): Promise<void> {
  await Promise.race([
    ciPhase,
    running.then((r) => {
      throw new Error(`the session ended before reporting AwaitingArtifact: ${r.summary.message}`);
    }),
  ]);
}

const phaseEvents = (events: MonitorEvent[], kind: string) =>
  events.filter((e): e is Extract<MonitorEvent, { type: 'phase' }> => e.type === 'phase' && e.kind === kind);

describe('real Flux: OCI artifacts built by CI', () => {
  it('success: the artifact of the pushed commit arrives after CI, the Kustomization applies it', () =>
    suite.withCase('oci-success', 'a push whose artifact CI publishes a moment later; no GitRepository follows the repository', async (c) => {
      const first = await start(c);
      const sha = await c.push('change the config', { 'deploy/config.yaml': configMap('app-config', { message: 'two' }) });
      let awaiting: Extract<MonitorEvent, { type: 'phase' }> | undefined;
      let sawCi!: () => void;
      const ciPhase = new Promise<void>((r) => (sawCi = r));
      const running = c.monitor(sha, {}, {
        onEvent: (e) => {
          if (e.type === 'phase' && e.kind === 'OCIRepository' && e.reason === 'AwaitingArtifact') {
            awaiting = e;
            sawCi();
          }
        },
      });
      // CI publishes once flux-monitor has said it waits for it.
      await untilCiPhase(ciPhase, running);
      await publish(c, sha);
      const run = await running;
      decidedByFlux(run);
      expect(awaiting!.phase).toBe('Pending');
      expect(awaiting!.message).toBe(`waiting for an artifact built from ${sha.slice(0, 7)}; the artifact is at main@sha1:${first}`);
      expect(run.summary.verdict).toBe('success');
      expect(run.summary.exitCode).toBe(EXIT_CODES.success);
      expect(run.state.matchedSources).toEqual([`OCIRepository/${c.ns}/app`]);
      const oci = c.node(run, 'OCIRepository', 'app');
      expect(oci.phase).toBe('Ready');
      expect(oci.revision).toBe(`main@sha1:${sha}`);
      const ks = c.node(run, 'Kustomization', 'app');
      expect(ks.phase).toBe('Ready');
      expect(ks.revision).toContain(sha);
      // What the controllers wrote: the annotations in the artifact metadata, the origin on the Kustomization.
      const meta = c.latest('OCIRepository', 'app').status.artifact.metadata;
      expect(meta['org.opencontainers.image.revision']).toBe(`main@sha1:${sha}`);
      expect(meta['org.opencontainers.image.source']).toBe(`http://git.conformance.test/git/${c.name}.git`);
      expect(c.latest('Kustomization', 'app').status.lastAppliedOriginRevision).toBe(`main@sha1:${sha}`);
      // CI's part and Flux's part: `timeout` counts from the artifact's arrival.
      expect(run.state.ci?.artifactAt).toBeGreaterThan(run.state.startedAt);
    }));

  it('a broken manifest in the artifact fails the Kustomization for the pushed commit', () =>
    suite.withCase('oci-build-error', 'a push whose artifact holds a kustomization.yaml naming a missing file', async (c) => {
      await start(c);
      const sha = await c.push('break the build', { 'deploy/kustomization.yaml': kustomizationYaml(['config.yaml', 'missing.yaml']) });
      await publish(c, sha);
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('failed');
      expect(run.summary.exitCode).toBe(EXIT_CODES.failed);
      expect(c.node(run, 'OCIRepository', 'app').phase).toBe('Ready');
      const ks = c.node(run, 'Kustomization', 'app');
      expect(ks.phase).toBe('Failed');
      expect(ks.reason).toBe('BuildFailed');
      expect(ks.message).toContain('missing.yaml');
      expect(ks.revision).toContain(sha);
      const ready = c.latest('Kustomization', 'app').status.conditions.find((x: any) => x.type === 'Ready');
      expect(ready.reason).toBe('BuildFailed');
    }));

  it('CI never publishes: the CI timeout ends the session and says what it waited for', () =>
    suite.withCase('oci-ci-timeout', 'a push for which CI never publishes an artifact; ci_timeout 15s', async (c) => {
      const first = await start(c);
      const sha = await c.push('change the config', { 'deploy/config.yaml': configMap('app-config', { message: 'two' }) });
      const run = await c.monitor(sha, { ci_timeout: 15, timeout: 180 });
      expect(run.summary.verdict).toBe('timeout');
      expect(run.summary.exitCode).toBe(EXIT_CODES.timeout);
      expect(run.state.timedOut).toBe(true);
      // The session's deadline was the CI timeout, not `timeout`.
      expect(run.state.timeoutMs).toBe(15_000);
      expect(run.state.ci).toEqual({ timeoutMs: 15_000 });
      const oci = c.node(run, 'OCIRepository', 'app');
      expect(oci.phase).toBe('Pending');
      expect(oci.reason).toBe('AwaitingArtifact');
      expect(oci.message).toBe(`waiting for an artifact built from ${sha.slice(0, 7)}; the artifact is at main@sha1:${first}`);
      expect(run.summary.message).toBe(`timed out after 15s waiting for CI (ci_timeout): OCIRepository ${c.ns}/app: ${oci.message}`);
      const ks = c.node(run, 'Kustomization', 'app');
      expect(ks.phase).toBe('Pending');
      // Flux did nothing: the Kustomization is still on the first commit.
      expect(c.latest('Kustomization', 'app').status.lastAppliedOriginRevision).toBe(`main@sha1:${first}`);
    }));

  it('two pushes, CI publishes only the newer one: the older push is applied through it', () =>
    suite.withCase('oci-superseded', 'two pushes in a row; CI (cancelling the older pipeline) publishes only the newer commit', async (c) => {
      await start(c);
      const older = await c.push('r1', { 'deploy/config.yaml': configMap('app-config', { message: 'r1' }) });
      const running = c.monitor(older);
      const newer = await c.push('r2', { 'deploy/config.yaml': configMap('app-config', { message: 'r2' }) });
      await publish(c, newer);
      const run = await running;
      decidedByFlux(run);
      // r2 is built on r1: r1's change reached the cluster inside r2's artifact.
      expect(run.summary.verdict).toBe('success');
      expect(run.summary.exitCode).toBe(EXIT_CODES.success);
      expect(run.summary).toMatchObject({ commit: older, through: newer });
      const oci = c.node(run, 'OCIRepository', 'app');
      expect(oci.phase).toBe('Ready');
      expect(oci.revision).toBe(`main@sha1:${newer}`);
      expect(c.node(run, 'Kustomization', 'app').phase).toBe('Ready');
      expect(c.ready('Kustomization', 'app')).toBe(true);
      expect(phaseEvents(run.events, 'OCIRepository').some((e) => e.phase === 'Pending' && e.reason === 'AwaitingArtifact')).toBe(true);
    }));

  it('a HelmRelease with chartRef to an OCIRepository follows the commit through the artifact digest helm-controller records', () =>
    suite.withCase('oci-helm-chartref', 'a values change in a chart CI pushes as an OCI artifact; a HelmRelease takes it through chartRef', async (c) => {
      c.registry = reg().host;
      const chart = (message: string) => chartFiles('chart/web', { values: `message: ${message}\n` });
      const first = await c.setup(chart('one'), () => []);
      // CI packs chart/ (holding web/Chart.yaml…): the layer is a chart archive; `copy` stores it as it is.
      const publishChart = (sha: string) =>
        reg().push({ repository: `${c.ns}/chart`, tag: 'latest', dir: path.join(c.repo.dir, 'chart'), source: c.repo.url, revision: `main@sha1:${sha}` });
      await publishChart(first);
      await apply(suite.env().cluster, [
        {
          apiVersion: 'source.toolkit.fluxcd.io/v1',
          kind: 'OCIRepository',
          metadata: { name: 'chart', namespace: c.ns },
          spec: {
            interval: '10s',
            timeout: '20s',
            url: `oci://${reg().host}/${c.ns}/chart`,
            ref: { tag: 'latest' },
            insecure: true,
            layerSelector: { mediaType: 'application/vnd.cncf.flux.content.v1.tar+gzip', operation: 'copy' },
          },
        },
        {
          apiVersion: 'helm.toolkit.fluxcd.io/v2',
          kind: 'HelmRelease',
          metadata: { name: 'web', namespace: c.ns },
          spec: { interval: '10m', timeout: '30s', chartRef: { kind: 'OCIRepository', name: 'chart' }, install: { disableWait: true }, upgrade: { disableWait: true } },
        },
      ]);
      await c.waitReady([['OCIRepository', 'chart'], ['HelmRelease', 'web']]);
      const sha = await c.push('new values', chart('two'));
      let sawCi!: () => void;
      const ciPhase = new Promise<void>((r) => (sawCi = r));
      const running = c.monitor(sha, {}, { onEvent: (e) => e.type === 'phase' && e.kind === 'OCIRepository' && e.reason === 'AwaitingArtifact' && sawCi() });
      await untilCiPhase(ciPhase, running);
      await publishChart(sha);
      const run = await running;
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('success');
      expect(c.node(run, 'OCIRepository', 'chart')).toMatchObject({ phase: 'Ready', revision: `main@sha1:${sha}` });
      // Before CI published, the HelmRelease was on the previous commit's chart: not Ready for this push.
      expect(phaseEvents(run.events, 'HelmRelease')[0]).toMatchObject({ phase: 'Pending', reason: 'NotApplied' });
      const hr = c.node(run, 'HelmRelease', 'web');
      expect(hr.phase).toBe('Ready');
      expect(hr.revision).toBe(`main@sha1:${sha}`);
      // What helm-controller wrote: only the artifact's digest, which flux-monitor mapped to the commit.
      const st = c.latest('HelmRelease', 'web').status;
      const artifact = c.latest('OCIRepository', 'chart').status.artifact.revision as string;
      expect(st.lastAttemptedRevisionDigest).toBe(artifact);
      expect(st.history[0].ociDigest).toBe(artifact);
      expect(st.lastAttemptedRevision).toMatch(/^1\.0\.0\+[0-9a-f]{12}$/);
    }));

  it('an artifact without a revision annotation is reported as such, with the --revision hint', () =>
    suite.withCase('oci-no-revision', 'CI pushes the artifact without --revision; ci_timeout 15s', async (c) => {
      await start(c);
      const sha = await c.push('change the config', { 'deploy/config.yaml': configMap('app-config', { message: 'two' }) });
      await publish(c, sha, { withRevision: false });
      // Flux applies it (it needs no revision): then the OCIRepository's artifact carries no commit.
      await waitUntil(suite.env(), 'the OCIRepository to pull the artifact without a revision', () => {
        const meta = c.latest('OCIRepository', 'app')?.status?.artifact?.metadata ?? {};
        return !!meta['org.opencontainers.image.source'] && !meta['org.opencontainers.image.revision'];
      });
      const run = await c.monitor(sha, { ci_timeout: 15, timeout: 180 });
      expect(run.summary.verdict).toBe('timeout');
      const oci = c.node(run, 'OCIRepository', 'app');
      expect(oci.phase).toBe('Pending');
      expect(oci.reason).toBe('NoOriginRevision');
      expect(oci.message).toContain('has no org.opencontainers.image.revision annotation');
      expect(oci.message).toContain('--revision');
      expect(run.summary.message).toContain('waiting for CI');
      // Kustomize-controller applied the artifact and says Ready, but what it applied names no commit: the view
      // must not call that "Ready with the push".
      const ks = c.node(run, 'Kustomization', 'app');
      expect(ks).toMatchObject({ phase: 'Pending', reason: 'RevisionUnknown' });
      expect(c.ready('Kustomization', 'app')).toBe(true);
    }));

  it('auto_reconcile asks an OCIRepository with a long interval to look again until CI has published', () =>
    suite.withCase('oci-poll', 'an OCIRepository polling the registry every 10 minutes; CI publishes after the session started', async (c) => {
      // Applied with a first artifact, then source-controller would not look at the registry for 10 minutes.
      await start(c, '10m');
      const sha = await c.push('change the config', { 'deploy/config.yaml': configMap('app-config', { message: 'polled' }) });
      let sawCi!: () => void;
      const ciPhase = new Promise<void>((r) => (sawCi = r));
      const running = c.monitor(sha, { auto_reconcile: true }, {
        onEvent: (e) => {
          if (e.type === 'phase' && e.kind === 'OCIRepository' && e.reason === 'AwaitingArtifact') sawCi();
        },
      });
      // The request made at the start has been handled (the old artifact): only a later one can see the new tag.
      await untilCiPhase(ciPhase, running);
      await waitUntil(suite.env(), 'source-controller handled the first reconcile request', () => {
        const st = c.latest('OCIRepository', 'app');
        const asked = st?.metadata?.annotations?.['reconcile.fluxcd.io/requestedAt'];
        return !!asked && st?.status?.lastHandledReconcileAt === asked;
      });
      const firstRequest = c.latest('OCIRepository', 'app').metadata.annotations['reconcile.fluxcd.io/requestedAt'];
      await publish(c, sha);
      const run = await running;
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('success');
      expect(c.node(run, 'OCIRepository', 'app').revision).toBe(`main@sha1:${sha}`);
      expect(c.node(run, 'Kustomization', 'app').phase).toBe('Ready');
      // The artifact came through a later request of flux-monitor's, not through the 10-minute interval.
      const handled = c.latest('OCIRepository', 'app').status.lastHandledReconcileAt;
      expect(handled).not.toBe(firstRequest);
      expect(Date.parse(handled)).toBeGreaterThan(Date.parse(firstRequest));
    }));
});
