// The real monitor engine against a real kube-apiserver: discovery, a push followed to its verdict through real
// watches, auto_reconcile's patch, RBAC fallback for a namespace-limited user, bad credentials and TLS trust.
import { readFile, writeFile } from 'node:fs/promises';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { DEFAULT_CONFIG } from '../../src/core/types.js';
import { gitReady } from '../helpers/flux.js';
import { applyNew, fetchNew, keyOf, ksBuilding, seedFleet } from './fleet.js';
import {
  KINDS,
  errorsOf,
  FluxObjects,
  phasesOf,
  SHA_NEW,
  startCluster,
  startEngine,
  stopEngines,
  summaryOf,
  waitFor,
  type KubeCluster,
} from './support.js';

const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

let cluster: KubeCluster;
let objs: FluxObjects;

beforeAll(async () => {
  cluster = await startCluster();
  objs = FluxObjects.forCluster(cluster);
});
afterEach(stopEngines);
afterAll(async () => {
  objs?.admin.close();
  await cluster?.stop();
});

describe('engine against a real kube-apiserver', () => {
  it('discovers the served v1/v2 APIs and follows a push through real watches to success', async () => {
    const f = await seedFleet(objs, 'journey');
    const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: 'git@github.com:acme/journey.git' });
    const session = await run.session();
    expect(session.matchedSources).toEqual([keyOf(f.git)]);
    expect(session.objects.map((o) => o.key).sort()).toEqual(f.affected);
    expect(session.context).toBe('admin');

    // Each status written through /status reaches the engine over its watch.
    await run.phase(keyOf(f.infra), 'Pending');
    await fetchNew(objs, f);
    await run.phase(keyOf(f.git), 'Ready');
    await ksBuilding(objs, f.infra);
    await run.phase(keyOf(f.infra), 'Progressing');
    await applyNew(objs, f);

    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(final.cluster.server).toBe(cluster.server);
    expect(final.mode).toBe('watch');
    // Discovery picked what the CRDs serve.
    expect(final.nodes[keyOf(f.git)]!.apiVersion).toBe('source.toolkit.fluxcd.io/v1');
    expect(final.nodes[keyOf(f.infra)]!.apiVersion).toBe('kustomize.toolkit.fluxcd.io/v1');
    expect(final.nodes[keyOf(f.hr)]!.apiVersion).toBe('helm.toolkit.fluxcd.io/v2');
    expect(Object.keys(final.nodes).sort()).toEqual(f.affected);
    expect(final.nodes[keyOf(f.hr)]!.phase).toBe('Ready');
    expect(final.nodes[keyOf(f.git)]!.revision).toBe(`main@sha1:${SHA_NEW}`);
    expect(phasesOf(run.events, keyOf(f.git))).toEqual(['Pending', 'Ready']);
    expect(phasesOf(run.events, keyOf(f.infra))).toEqual(['Pending', 'Progressing', 'Ready']);
    expect(final.edges).toContainEqual({ from: keyOf(f.apps), to: keyOf(f.infra), type: 'dependsOn' });
    expect(final.edges).toContainEqual({ from: keyOf(f.apps), to: keyOf(f.hr), type: 'inventory' });
    const summary = summaryOf(run.events);
    expect(summary.exitCode).toBe(0);
    expect(summary.counts.ready).toBe(4);
    expect(errorsOf(run.events)).toEqual([]);
    // A healthy server: one watch per kind, never reopened.
    expect(run.client().stats.watchesStarted).toBe(KINDS);
    expect(run.client().stats.watchesOpen).toBe(0);
  });

  it('ends failed with helm-controller’s message when the HelmRelease upgrade fails', async () => {
    const f = await seedFleet(objs, 'hr-fails');
    const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: f.url });
    await run.session();
    await fetchNew(objs, f);
    await applyNew(objs, f, 'fail');
    const final = await run.p;
    expect(final.verdict).toBe('failed');
    expect(final.nodes[keyOf(f.hr)]).toMatchObject({ phase: 'Failed', reason: 'UpgradeFailed' });
    expect(final.nodes[keyOf(f.hr)]!.message).toContain('replicaCount');
    expect(summaryOf(run.events).exitCode).toBe(1);
  });

  it('auto_reconcile merge-patches reconcile.fluxcd.io/requestedAt onto the matched GitRepository only', async () => {
    const f = await seedFleet(objs, 'auto-reconcile');
    await objs.patch(f.git, { metadata: { annotations: { 'acme.dev/owner': 'platform' } } });
    const before = await objs.get(f.git);
    const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: f.url, config: { ...DEFAULT_CONFIG, timeout: 90, auto_reconcile: true } });
    await run.session();
    await waitFor('the reconcile annotation on the server', async () => Boolean((await objs.get(f.git)).metadata.annotations?.[REQUESTED_AT]));

    // Read back through an independent client (the harness's raw HTTPS).
    const read = await cluster.request('GET', objs.path(f.git));
    expect(read.status).toBe(200);
    const after = read.body;
    const token: string = after.metadata.annotations[REQUESTED_AT];
    expect(Number.isFinite(Date.parse(token))).toBe(true);
    expect(after.metadata.annotations['acme.dev/owner']).toBe('platform'); // a merge patch keeps the others
    expect(after.metadata.generation).toBe(before.metadata.generation); // metadata only: no new generation
    expect(after.status).toEqual(before.status);
    expect((await objs.get(f.other)).metadata.annotations?.[REQUESTED_AT]).toBeUndefined();

    // source-controller answers the request: fetches and records the token.
    await objs.setStatus(f.git, { ...gitReady(SHA_NEW), lastHandledReconcileAt: token });
    await applyNew(objs, f);
    const final = await run.p;
    expect(final.verdict).toBe('success');
    expect(final.warnings).toEqual([]);
  });

  describe('a user who may read Flux objects only in team-a', () => {
    it('falls back from the forbidden cluster-wide list to team-a, and never sees team-b', async () => {
      const a = await seedFleet(objs, 'team-a', 'rbac');
      const b = await seedFleet(objs, 'team-b', 'rbac'); // same repository, in a namespace the user cannot read
      expect(b.url).toBe(a.url);

      // The admin sees both fleets follow the repository.
      const adminRun = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: a.url });
      expect([...(await adminRun.session()).matchedSources].sort()).toEqual([keyOf(a.git), keyOf(b.git)].sort());
      adminRun.stop();
      expect((await adminRun.p).verdict).toBe('stopped');

      const run = startEngine({ kubeconfig: cluster.limitedKubeconfigPath, repoUrl: a.url, config: { ...DEFAULT_CONFIG, timeout: 90, auto_reconcile: true } });
      const session = await run.session();
      expect(session.context).toBe('limited-user');
      expect(session.matchedSources).toEqual([keyOf(a.git)]);
      expect(session.objects.map((o) => o.key).sort()).toEqual(a.affected);
      const warnings = run.events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message);
      // No namespaces list either (403): the context namespace and flux-system are tried.
      expect(warnings).toContain('cannot list Flux objects cluster-wide (403); monitoring namespaces team-a; no access to flux-system');

      // team-b goes wrong; the user can't see it, so it can't affect the verdict.
      await fetchNew(objs, b);
      await applyNew(objs, b, 'fail');
      await fetchNew(objs, a);
      await applyNew(objs, a);
      const final = await run.p;
      expect(final.verdict).toBe('success');
      expect(Object.keys(final.nodes).sort()).toEqual(a.affected);
      expect(Object.keys(final.nodes).some((k) => k.includes('/team-b/'))).toBe(false);
      // auto_reconcile needs `patch`, which the viewer role lacks: a warning, not a failure.
      expect(final.warnings.some((w) => w.startsWith(`auto_reconcile: could not annotate ${keyOf(a.git)}`) && w.includes('forbidden'))).toBe(true);
      expect((await objs.get(a.git)).metadata.annotations?.[REQUESTED_AT]).toBeUndefined();
    });

    it('uses the configured namespaces and says which ones are not readable', async () => {
      const a = await seedFleet(objs, 'team-a', 'ns-config');
      await seedFleet(objs, 'team-b', 'ns-config');
      const run = startEngine({ kubeconfig: cluster.limitedKubeconfigPath, repoUrl: a.url, config: { ...DEFAULT_CONFIG, timeout: 90, namespaces: ['team-a', 'team-b'] } });
      const session = await run.session();
      expect(session.matchedSources).toEqual([keyOf(a.git)]);
      expect(run.events).toContainEqual(expect.objectContaining({
        type: 'warning',
        message: 'cannot list Flux objects cluster-wide (403); monitoring namespaces team-a; no access to team-b',
      }));
      run.stop();
      expect((await run.p).verdict).toBe('stopped');
    });

    it('ends with a forbidden error and a hint when none of the namespaces is readable', async () => {
      const run = startEngine({ kubeconfig: cluster.limitedKubeconfigPath, repoUrl: 'https://github.com/acme/rbac.git', config: { ...DEFAULT_CONFIG, timeout: 90, namespaces: ['team-b', 'flux-system'] } });
      const final = await run.p;
      expect(final.verdict).toBe('error');
      expect(final.error).toMatchObject({ category: 'forbidden' });
      expect(final.error!.message).toContain('team-b, flux-system');
      expect(final.error!.hint).toMatch(/namespaces/);
      expect(summaryOf(run.events).exitCode).toBe(3);
    });
  });

  it('bad credentials end the session at once with an unauthorized error', async () => {
    const run = startEngine({ kubeconfig: cluster.badCredsKubeconfigPath, repoUrl: 'https://github.com/acme/journey.git' });
    const final = await run.p;
    expect(final.verdict).toBe('error');
    expect(final.error).toMatchObject({ category: 'unauthorized', status: 401 });
    expect(final.error!.hint).toMatch(/log in again/);
    expect(final.verdictMessage).toContain('401');
    expect(summaryOf(run.events)).toMatchObject({ verdict: 'error', exitCode: 3 });
    expect(errorsOf(run.events)).toEqual([expect.objectContaining({ category: 'unauthorized', recovered: false })]);
    // Not retried (until the timeout or at all): the one discovery request was answered 401, and that was final.
    expect(run.client().stats.requests).toBe(1);
  });

  it('a server certificate the kubeconfig does not trust is reported as a TLS failure, never ignored', async () => {
    const cfg = YAML.parse(await readFile(cluster.adminKubeconfigPath, 'utf8'));
    cfg.clusters[0].cluster['certificate-authority-data'] = Buffer.from(tls.rootCertificates[0]!).toString('base64');
    const file = `${cluster.dataDir}/wrong-ca.kubeconfig`;
    await writeFile(file, YAML.stringify(cfg), { mode: 0o600 });
    const run = startEngine({ kubeconfig: file, repoUrl: 'https://github.com/acme/journey.git', config: { ...DEFAULT_CONFIG, timeout: 3 } });
    const final = await run.p;
    expect(final.verdict).toBe('error');
    expect(final.error).toMatchObject({ category: 'unreachable' });
    expect(final.error!.message).toMatch(/^TLS verification of https:\/\/127\.0\.0\.1:\d+ failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    expect(run.events.some((e) => e.type === 'session')).toBe(false);
  });

  // Changes the HelmRelease CRD, so it runs last in this file.
  it('follows the CRD when HelmRelease is served only as v2beta2 (as an older Flux would)', async () => {
    const f = await seedFleet(objs, 'legacy-api');
    const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/helmreleases.helm.toolkit.fluxcd.io';
    const serveOnly = async (served: string, other: string) => {
      const crd = (await cluster.request('GET', crdPath)).body;
      const base = crd.spec.versions.find((v: { name: string }) => v.name === 'v2' || v.name === 'v2beta2');
      crd.spec.versions = [
        { ...base, name: served, served: true, storage: true },
        { ...base, name: other, served: false, storage: false },
      ];
      const put = await cluster.request('PUT', crdPath, crd);
      expect(put.status, put.text).toBe(200);
      await waitFor(`helm.toolkit.fluxcd.io to serve only ${served}`, async () => {
        const g = await cluster.request('GET', '/apis/helm.toolkit.fluxcd.io');
        const list = await cluster.request('GET', `/apis/helm.toolkit.fluxcd.io/${served}/helmreleases`);
        return g.status === 200 && g.body.preferredVersion?.version === served && g.body.versions.length === 1 && list.status === 200;
      });
      objs.versions['helm.toolkit.fluxcd.io'] = served;
    };
    await serveOnly('v2beta2', 'v2');
    try {
      const run = startEngine({ kubeconfig: cluster.adminKubeconfigPath, repoUrl: f.url });
      await run.session();
      await fetchNew(objs, f);
      await applyNew(objs, f);
      const final = await run.p;
      expect(final.verdict).toBe('success');
      expect(final.nodes[keyOf(f.hr)]).toMatchObject({ apiVersion: 'helm.toolkit.fluxcd.io/v2beta2', phase: 'Ready' });
      expect(final.nodes[keyOf(f.apps)]!.apiVersion).toBe('kustomize.toolkit.fluxcd.io/v1');
    } finally {
      await serveOnly('v2', 'v2beta2');
    }
  });
});
