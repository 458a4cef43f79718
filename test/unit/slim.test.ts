// The projection the monitor keeps of each Flux object (src/engine/slim.ts) must change nothing that is read:
// every version of every object the real controllers wrote in the recorded transcripts, and the fixtures of
// real status shapes, give the same status result, the same graph and the same matched sources, whole or
// projected; so do the monitor's own reads (reconcile requests, failure signatures, delivery by a parent).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { artifactDigestKey, artifactOrigin, computeStatus, originRevision, type StatusContext } from '../../src/core/status.js';
import type { KubeObject, PushedRevision } from '../../src/core/types.js';
import { buildGraph, dependsOnRefs, effectiveRef, followsPushAsArtifact, inventoryRefs, matchSources, objectKey, sourceRefs, type PushTarget } from '../../src/core/graph.js';
import { REQUESTED_AT, slimObject } from '../../src/engine/slim.js';
import { computeWait, type WaitFacts } from '../../src/core/waits.js';
import { loadTranscripts } from '../helpers/replay.js';

const transcripts = loadTranscripts();
const FIXTURES = join(import.meta.dirname, '../fixtures/flux');
const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ file: f, ...(parseYaml(readFileSync(join(FIXTURES, f), 'utf8')) as { pushed: PushedRevision; ctx?: StatusContext; object: KubeObject }) }));

/** A deep copy: slimObject must not change its argument, and the comparison must not share anything with it. */
const copy = <T>(v: T): T => structuredClone(v);

/** The contexts a verdict is computed in: as given, not correlated, delivered by a parent or not. */
function contexts(base: StatusContext): StatusContext[] {
  return [base, { ...base, correlate: false }, { ...base, delivered: true }, { ...base, delivered: false }, { ...base, delivered: true, correlate: false }];
}

/**
 * The object as written, and as it would be with its Ready condition True or False (with its other conditions,
 * or alone), being deleted, or with a newer generation than the controller observed: states the recorded runs
 * passed through only briefly (or not at all) take the status model through more of its paths, and so through
 * more of the fields it reads.
 */
function variants(o: KubeObject): KubeObject[] {
  const out = [o];
  const conds: unknown = o.status?.conditions;
  if (Array.isArray(conds) && conds.some((c) => c?.type === 'Ready')) {
    for (const status of ['True', 'False']) {
      const v = copy(o);
      v.status.conditions = v.status.conditions.map((c: { type?: string }) => (c?.type === 'Ready' ? { ...c, status } : c));
      out.push(v);
      // The same without Reconciling, Stalled or anything else: the controller done with the object.
      const alone = copy(v);
      alone.status.conditions = alone.status.conditions.filter((c: { type?: string }) => c?.type === 'Ready');
      out.push(alone);
    }
  }
  const deleting = copy(o);
  deleting.metadata.deletionTimestamp = '2026-11-27T00:00:00Z';
  out.push(deleting);
  if (typeof o.metadata.generation === 'number') {
    const v = copy(o);
    v.metadata.generation = o.metadata.generation + 1;
    out.push(v);
  }
  return out;
}

/** What the monitor itself (src/engine/monitor.ts) and the graph read of one object, besides computeStatus. */
const WAIT_PHASES = [
  { phase: 'Waiting', reason: 'DependencyNotReady' },
  { phase: 'Progressing', reason: 'Progressing' },
  { phase: 'Pending', reason: 'NotFetched' },
  { phase: 'Pending', reason: 'AwaitingArtifact' },
] as const;
const WAIT_FACTS: WaitFacts = { controllers: { 'source-controller': { read: true, jitterPercent: 10 }, 'kustomize-controller': { read: true, requeueDependencyMs: 5000 }, 'helm-controller': { read: false } } };

function reads(o: KubeObject, target: PushTarget) {
  const conds: unknown = o.status?.conditions;
  const ready = Array.isArray(conds) ? conds.find((c) => c?.type === 'Ready') : undefined;
  return {
    key: objectKey(o),
    apiVersion: o.apiVersion,
    kind: o.kind,
    namespace: o.metadata.namespace,
    name: o.metadata.name,
    resourceVersion: o.metadata.resourceVersion,
    requestedAt: o.metadata.annotations?.[REQUESTED_AT],
    handled: o.status?.lastHandledReconcileAt,
    // failureSignature() and isAppliedByParent() (monitor.ts).
    ready: ready && { status: ready.status, reason: ready.reason, message: ready.message },
    lastApplied: o.status?.lastAppliedRevision,
    sourceRefs: sourceRefs(o),
    dependsOn: dependsOnRefs(o),
    inventory: inventoryRefs(o),
    ...(o.kind === 'GitRepository' ? { url: o.spec?.url, ref: effectiveRef(o) } : {}),
    origin: artifactOrigin(o),
    digestKey: artifactDigestKey(o.status?.artifact?.revision),
    // computeWait() (recompute.ts), for each phase it announces a wait in.
    waits: WAIT_PHASES.map((res) => computeWait(o, res, WAIT_FACTS)),
    followsPush: followsPushAsArtifact(o, target),
  };
}

describe('slimObject keeps what is read', () => {
  it('has transcripts and fixtures to check', () => {
    expect(transcripts.length).toBeGreaterThanOrEqual(10);
    expect(fixtures.length).toBeGreaterThanOrEqual(7);
  });

  describe.each(transcripts.map((t) => [t.case, t] as const))('transcript %s', (_name, t) => {
    const target: PushTarget = { repoUrl: t.repoUrl, branch: t.branch };
    const origins = new Map<string, string>();
    for (const e of t.entries) {
      const key = artifactDigestKey(e.object.status?.artifact?.revision);
      const origin = originRevision(artifactOrigin(e.object).revision);
      if (key && origin) origins.set(key, origin);
    }
    // Every push of the case as the pushed commit (the later ones as the known newer commits), and a commit
    // nothing has seen.
    const pushes: PushedRevision[] = [
      ...t.pushes.map((p, i) => ({ sha: p.sha, branch: t.branch, newer: t.pushes.slice(i + 1).map((q) => q.sha) })),
      { sha: 'f'.repeat(40), branch: t.branch, newer: [] },
    ];

    it('every version of every object: the same status result, whole or projected', () => {
      let compared = 0;
      for (const e of t.entries) {
        for (const full of variants(e.object)) {
          const slim = slimObject(copy(full));
          const what = `${full.kind}/${full.metadata.name}@${full.metadata.resourceVersion}`;
          for (const pushed of pushes) {
            for (const ctx of contexts({ origins, now: 0 })) {
              expect(computeStatus(slim, pushed, ctx), what).toEqual(computeStatus(full, pushed, ctx));
              compared++;
            }
          }
          expect(reads(slim, target), what).toEqual(reads(full, target));
        }
      }
      expect(compared).toBeGreaterThan(0);
    });

    it('after every event: the same graph and matched sources, whole or projected', () => {
      const full = new Map<string, KubeObject>();
      const slim = new Map<string, KubeObject>();
      for (const e of t.entries) {
        const key = objectKey(e.object);
        if (!key) continue;
        if (e.type === 'DELETED') {
          full.delete(key);
          slim.delete(key);
        } else {
          full.set(key, copy(e.object));
          slim.set(key, slimObject(copy(e.object)));
        }
        const gs = buildGraph(slim);
        const gf = buildGraph(full);
        expect(gs.edges).toEqual(gf.edges);
        expect(gs.cycles).toEqual(gf.cycles);
        expect(matchSources(slim, target)).toEqual(matchSources(full, target));
      }
    });
  });

  describe.each(fixtures.map((f) => [f.file, f] as const))('fixture %s', (_name, f) => {
    it('the same status result and reads, whole or projected', () => {
      for (const full of variants(f.object)) {
        const slim = slimObject(copy(full));
        for (const ctx of contexts({ ...(f.ctx ?? {}), now: 0 })) expect(computeStatus(slim, f.pushed, ctx)).toEqual(computeStatus(full, f.pushed, ctx));
        const target = { repoUrl: 'https://github.com/org/repo', branch: f.pushed.branch };
        expect(reads(slim, target)).toEqual(reads(full, target));
      }
    });
  });
});

// Shapes that no recorded run produced, for fields only they make the status model read.
const PUSHED: PushedRevision = { sha: 'a'.repeat(40), branch: 'main', newer: ['b'.repeat(40)] };
const readyCond = (status: string, observedGeneration = 1) => ({ type: 'Ready', status, reason: status === 'True' ? 'Succeeded' : 'Failed', message: 'm', observedGeneration, lastTransitionTime: '2026-11-27T10:00:00Z' });
const SHAPES: KubeObject[] = [
  // An OCI-sourced Kustomization: digests as revisions, the commits in the origin revisions.
  {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'oci', namespace: 'flux-system', generation: 1 },
    spec: { sourceRef: { kind: 'OCIRepository', name: 'manifests' } },
    status: {
      observedGeneration: 1,
      conditions: [readyCond('True')],
      lastAttemptedRevision: 'latest@sha256:' + '1'.repeat(64),
      lastAppliedRevision: 'latest@sha256:' + '2'.repeat(64),
      lastAppliedOriginRevision: `main@sha1:${'c'.repeat(40)}`,
      history: [{ digest: 'sha256:x', metadata: { revision: 'latest@sha256:' + '1'.repeat(64), originRevision: `main@sha1:${'a'.repeat(40)}` } }],
    },
  },
  {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'oci-applied', namespace: 'flux-system', generation: 1 },
    spec: { sourceRef: { kind: 'OCIRepository', name: 'manifests' } },
    status: { observedGeneration: 1, conditions: [readyCond('True')], lastAttemptedRevision: 'latest@sha256:' + '2'.repeat(64), lastAppliedRevision: 'latest@sha256:' + '2'.repeat(64), lastAppliedOriginRevision: `main@sha1:${'a'.repeat(40)}` },
  },
  // A HelmRelease whose last attempt was of the current generation (helm-controller's lastAttemptedGeneration).
  {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: 'web', namespace: 'apps', generation: 2 },
    spec: { chart: { spec: { chart: 'web', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } },
    status: { observedGeneration: 1, lastAttemptedGeneration: 2, conditions: [readyCond('False')], lastAttemptedRevision: '1.0.0' },
  },
  // An OCI HelmRepository has no conditions: it is static.
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'oci', namespace: 'flux-system' }, spec: { type: 'oci', url: 'oci://r' }, status: {} },
];

describe.each(SHAPES.map((o) => [`${o.kind}/${o.metadata.name}`, o] as const))('slimObject keeps what is read: %s', (_name, o) => {
  it('the same status result and reads, whole or projected', () => {
    for (const full of variants(o)) {
      const slim = slimObject(copy(full));
      for (const ctx of contexts({ now: 0 })) expect(computeStatus(slim, PUSHED, ctx)).toEqual(computeStatus(full, PUSHED, ctx));
      expect(reads(slim, {})).toEqual(reads(full, {}));
    }
  });
});

describe('slimObject drops what is not read', () => {
  const ks: KubeObject = {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: {
      name: 'apps',
      namespace: 'flux-system',
      uid: 'u',
      generation: 3,
      resourceVersion: '42',
      labels: { a: 'b' },
      annotations: { [REQUESTED_AT]: 't1', 'kubectl.kubernetes.io/last-applied-configuration': '{"huge":true}', other: 'x' },
      managedFields: [{ manager: 'kubectl' }],
      finalizers: ['finalizers.fluxcd.io'],
    } as KubeObject['metadata'],
    spec: {
      interval: '10m',
      path: './apps',
      prune: true,
      sourceRef: { kind: 'GitRepository', name: 'repo', apiVersion: 'source.toolkit.fluxcd.io/v1' },
      dependsOn: [{ name: 'infra' }],
      patches: [{ patch: 'x'.repeat(1000) }],
      postBuild: { substitute: { a: 'b' } },
    },
    status: {
      observedGeneration: 3,
      lastAppliedRevision: 'main@sha1:aaa',
      lastAttemptedRevision: 'main@sha1:aaa',
      lastHandledReconcileAt: 't1',
      conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'Applied', observedGeneration: 3, lastTransitionTime: 'T' }],
      inventory: {
        entries: [
          { id: 'apps_web_apps_Deployment', v: 'v1' },
          { id: 'flux-system_child_kustomize.toolkit.fluxcd.io_Kustomization', v: 'v1' },
        ],
      },
      history: [{ digest: 'sha256:x', firstReconciled: 'T', lastReconciled: 'T', totalReconciliations: 9, metadata: { revision: 'main@sha1:aaa', originRevision: 'o' } }],
    },
  };

  it('keeps the read fields, in a new object, and leaves its argument alone', () => {
    const before = copy(ks);
    const slim = slimObject(ks);
    expect(ks).toEqual(before);
    expect(slim).toEqual({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'apps', namespace: 'flux-system', generation: 3, resourceVersion: '42', annotations: { [REQUESTED_AT]: 't1' } },
      spec: { sourceRef: { kind: 'GitRepository', name: 'repo' }, dependsOn: [{ name: 'infra' }] },
      status: {
        conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'Applied', observedGeneration: 3, lastTransitionTime: 'T' }],
        observedGeneration: 3,
        lastHandledReconcileAt: 't1',
        lastAttemptedRevision: 'main@sha1:aaa',
        lastAppliedRevision: 'main@sha1:aaa',
        history: [{ metadata: { revision: 'main@sha1:aaa', originRevision: 'o' } }],
        inventory: { entries: [{ id: 'flux-system_child_kustomize.toolkit.fluxcd.io_Kustomization' }] },
      },
    });
  });

  it('a HelmRelease keeps its chart source and deployed release, not its values or chart details', () => {
    const hr: KubeObject = {
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name: 'web', namespace: 'apps' },
      spec: {
        interval: '5m',
        values: { replicas: 3, image: { tag: 'x' } },
        chart: { spec: { chart: 'web', version: '1.x', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: ['a.yaml'] } },
      },
      status: {
        helmChart: 'apps/apps-web',
        lastAttemptedRevision: '1.2.3',
        history: [{ name: 'web', namespace: 'apps', version: 4, status: 'deployed', chartName: 'web', chartVersion: '1.2.3', appVersion: '1', digest: 'sha256:y', ociDigest: 'sha256:z' }],
      },
    };
    expect(slimObject(hr)).toEqual({
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name: 'web', namespace: 'apps' },
      spec: { chart: { spec: { sourceRef: { kind: 'HelmRepository', name: 'charts' } } } },
      status: { lastAttemptedRevision: '1.2.3', helmChart: 'apps/apps-web', history: [{ status: 'deployed', chartVersion: '1.2.3', ociDigest: 'sha256:z' }] },
    });
  });

  it('a malformed field is kept as it came (its readers decide what it means)', () => {
    const odd = { apiVersion: 'v', kind: 'Kustomization', metadata: { name: 'x' }, spec: { sourceRef: 'repo', dependsOn: 'infra' }, status: 'broken' } as unknown as KubeObject;
    expect(slimObject(odd)).toEqual({ apiVersion: 'v', kind: 'Kustomization', metadata: { name: 'x' }, spec: { sourceRef: 'repo' }, status: 'broken' });
  });
});
