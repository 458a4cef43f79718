import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { computeStatus, parseBlockers, type StatusContext } from '../../src/core/status.js';
import type { Condition, KubeObject, PushedRevision, StatusResult } from '../../src/core/types.js';
import { FLUX_KINDS } from '../../src/core/types.js';

// Commits of the pushed repository.
const PUSHED = '0d950d6b8f1946edbee53b368fb9e2f9da40ffbe';
const OLD = 'a8c246e0ca811f6dedc150d2be673074e7a1280b';
const NEWER = '0adf7bfe1a301523913413d83e479d10d533b4ba';
const OTHER = '2018d9a74a6a69d9f596af53c2f7af0b74577b13'; // not known to the monitor
const DIGEST = 'fbb2f4c99b69154b7f41968f75c498a366fa9c9a68af9c77b5565a05ad673210';
const pushed: PushedRevision = { sha: PUSHED, branch: 'main', newer: [NEWER] };

const T0 = '2026-05-04T10:00:00Z';
const T1 = '2026-05-04T10:00:30Z';
const T2 = '2026-05-04T10:01:00Z';

const gitRev = (sha: string) => `main@sha1:${sha}`;
const chartRev = (sha: string, extra = '') => `0.1.0+${sha.slice(0, 12)}${extra}`;

// Flux sets observedGeneration on every condition it writes (fluxcd/pkg/runtime/conditions).
function cond(type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, observedGeneration = 1, lastTransitionTime = T1): Condition {
  return { type, status, reason, message, observedGeneration, lastTransitionTime };
}
const ready = (status: 'True' | 'False' | 'Unknown', reason: string, message: string, g = 1, t = T1) => cond('Ready', status, reason, message, g, t);
const reconciling = (reason: string, message: string, g = 1, t = T0) => cond('Reconciling', 'True', reason, message, g, t);
const stalled = (reason: string, message: string, g = 1, t = T2) => cond('Stalled', 'True', reason, message, g, t);

interface Meta {
  generation?: number;
  deletionTimestamp?: string;
}

function obj(apiVersion: string, kind: string, spec: Record<string, unknown>, status: Record<string, unknown> | undefined, meta: Meta = {}): KubeObject {
  return {
    apiVersion,
    kind,
    metadata: { name: 'x', namespace: 'flux-system', generation: meta.generation ?? 1, ...(meta.deletionTimestamp ? { deletionTimestamp: meta.deletionTimestamp } : {}) },
    spec,
    ...(status ? { status } : {}),
  };
}

const gitrepo = (status?: Record<string, unknown>, meta?: Meta, spec: Record<string, unknown> = {}) =>
  obj('source.toolkit.fluxcd.io/v1', 'GitRepository', { interval: '1m', url: 'https://github.com/org/fleet', ref: { branch: 'main' }, ...spec }, status, meta);
const artifact = (revision: string, metadata?: Record<string, string>) => ({
  digest: `sha256:${DIGEST}`,
  lastUpdateTime: T1,
  path: 'gitrepository/flux-system/x/artifact.tar.gz',
  revision,
  size: 1234,
  url: 'http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/x/artifact.tar.gz',
  ...(metadata ? { metadata } : {}),
});
const ocirepo = (status?: Record<string, unknown>, meta?: Meta) =>
  obj('source.toolkit.fluxcd.io/v1', 'OCIRepository', { interval: '1m', url: 'oci://ghcr.io/org/manifests', ref: { tag: 'latest' } }, status, meta);
const externalArtifact = (status?: Record<string, unknown>, meta?: Meta, spec: Record<string, unknown> = {}) =>
  obj('source.toolkit.fluxcd.io/v1', 'ExternalArtifact', { sourceRef: { apiVersion: 'source.extensions.fluxcd.io/v1beta1', kind: 'ArtifactGenerator', name: 'app' }, ...spec }, status, meta);
const helmchart = (sourceKind: string, status?: Record<string, unknown>, meta?: Meta, spec: Record<string, unknown> = {}) =>
  obj('source.toolkit.fluxcd.io/v1', 'HelmChart', { chart: './charts/web', interval: '5m', sourceRef: { kind: sourceKind, name: 'flux-system' }, ...spec }, status, meta);
const helmrepo = (status?: Record<string, unknown>, meta?: Meta, spec: Record<string, unknown> = {}) =>
  obj('source.toolkit.fluxcd.io/v1', 'HelmRepository', { interval: '1h', url: 'https://stefanprodan.github.io/podinfo', ...spec }, status, meta);
const bucket = (status?: Record<string, unknown>, meta?: Meta) =>
  obj('source.toolkit.fluxcd.io/v1', 'Bucket', { interval: '5m', bucketName: 'b', endpoint: 's3.amazonaws.com' }, status, meta);
const ks = (status?: Record<string, unknown>, meta?: Meta, spec: Record<string, unknown> = {}) =>
  obj('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', { interval: '10m', path: './apps', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec }, status, meta);
const gitChartSpec = { chart: { spec: { chart: './charts/web', reconcileStrategy: 'Revision', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } } } };
const repoChartSpec = { chart: { spec: { chart: 'podinfo', version: '6.5.x', sourceRef: { kind: 'HelmRepository', name: 'podinfo' } } } };
const hr = (status?: Record<string, unknown>, meta?: Meta, spec: Record<string, unknown> = gitChartSpec) =>
  obj('helm.toolkit.fluxcd.io/v2', 'HelmRelease', { interval: '5m', ...spec }, status, meta);
const historyEntry = (chartVersion: string, status: string, version: number) => ({
  chartName: 'web',
  chartVersion,
  configDigest: `sha256:${DIGEST}`,
  digest: `sha256:${DIGEST}`,
  firstDeployed: T0,
  lastDeployed: T1,
  name: 'web',
  namespace: 'apps',
  status,
  version,
});

interface Case {
  name: string;
  object: KubeObject;
  expect: Partial<StatusResult>;
  pushed?: PushedRevision;
  ctx?: StatusContext;
}

function runCases(cases: Case[]) {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const got = computeStatus(c.object, c.pushed ?? pushed, c.ctx ?? {});
    const present = Object.fromEntries(Object.entries(c.expect).filter(([, v]) => v !== undefined));
    expect(got).toMatchObject(present);
    // `key: undefined` in an expectation means the key must be absent.
    for (const [k, v] of Object.entries(c.expect)) if (v === undefined) expect(got).not.toHaveProperty(k);
  });
}

// ---------------------------------------------------------------------------------------------------------

describe('computeStatus: real status shapes (test/fixtures/flux)', () => {
  const dir = join(import.meta.dirname, '../fixtures/flux');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  it('has fixtures', () => expect(files.length).toBeGreaterThanOrEqual(7));
  it.each(files)('%s', (file) => {
    const doc = parseYaml(readFileSync(join(dir, file), 'utf8')) as { pushed: PushedRevision; ctx?: StatusContext; expect: Partial<StatusResult>; object: KubeObject };
    expect(computeStatus(doc.object, doc.pushed, doc.ctx ?? {})).toMatchObject(doc.expect);
  });

  it('HelmRelease rollback: the failure message keeps the upgrade error and mentions the remediation', () => {
    const doc = parseYaml(readFileSync(join(dir, 'helmrelease-git-rollback.yaml'), 'utf8'));
    const r = computeStatus(doc.object, doc.pushed);
    expect(r.message).toContain('Helm upgrade failed for release apps/web with chart web@0.1.0+0d950d6b8f19: context deadline exceeded');
    expect(r.message).toContain('remediation: Helm rollback to previous release apps/web.v7');
  });
});

describe('computeStatus: common precedence', () => {
  const makers: Record<string, (status?: Record<string, unknown>, meta?: Meta, spec?: Record<string, unknown>) => KubeObject> = {
    GitRepository: gitrepo,
    OCIRepository: (s, m, sp) => ({ ...ocirepo(s, m), spec: { ...ocirepo(s, m).spec, ...sp } }),
    HelmRepository: helmrepo,
    HelmChart: (s, m, sp) => helmchart('GitRepository', s, m, sp),
    Bucket: (s, m, sp) => ({ ...bucket(s, m), spec: { ...bucket(s, m).spec, ...sp } }),
    ExternalArtifact: externalArtifact,
    Kustomization: ks,
    HelmRelease: hr,
  };
  it('covers every Flux kind', () => expect(Object.keys(makers).sort()).toEqual([...FLUX_KINDS].sort()));

  const readyStatus = { conditions: [ready('True', 'Succeeded', 'ok')], observedGeneration: 1 };
  describe.each(Object.entries(makers))('%s', (_kind, make) => {
    it('deletionTimestamp → Progressing/Terminating (before anything else)', () => {
      const o = make({ ...readyStatus, conditions: [stalled('X', 'y'), ready('False', 'Failed', 'z')] }, { deletionTimestamp: T2 }, { suspend: true });
      expect(computeStatus(o, pushed)).toEqual({ phase: 'Progressing', reason: 'Terminating', message: 'the object is being deleted', since: T2 });
    });
    it('spec.suspend → Suspended', () => {
      expect(computeStatus(make(readyStatus, {}, { suspend: true }), pushed)).toMatchObject({ phase: 'Suspended', reason: 'Suspended' });
    });
    it('spec.suspend: false is not suspension', () => {
      expect(computeStatus(make(readyStatus, {}, { suspend: false }), pushed).phase).not.toBe('Suspended');
    });
    it('no status → Pending/NotReconciled', () => {
      expect(computeStatus(make(undefined), pushed)).toEqual({ phase: 'Pending', reason: 'NotReconciled', message: 'waiting for the controller' });
    });
    it('status without conditions → Pending/NotReconciled', () => {
      expect(computeStatus(make({ conditions: [] }), pushed)).toMatchObject({ phase: 'Pending', reason: 'NotReconciled' });
      expect(computeStatus(make({ conditions: 'garbage' }), pushed)).toMatchObject({ phase: 'Pending', reason: 'NotReconciled' });
    });
    it('Stalled=True for the current generation → Stalled with its reason and message', () => {
      const o = make({ observedGeneration: 1, conditions: [stalled('InvalidCELExpression', 'Reconciliation failed terminally due to configuration error: bad expr'), ready('False', 'InvalidCELExpression', 'bad')] });
      expect(computeStatus(o, pushed)).toEqual({
        phase: 'Stalled',
        reason: 'InvalidCELExpression',
        // The cause from the Ready condition follows the Stalled message.
        message: 'Reconciliation failed terminally due to configuration error: bad expr: bad',
        since: T2,
      });
    });
    it('Stalled=True left from an older generation is not reported: the new generation is awaited', () => {
      const o = make({ observedGeneration: 1, conditions: [stalled('InvalidChartReference', 'old', 1), ready('False', 'InvalidChartReference', 'old', 1)] }, { generation: 2 });
      expect(computeStatus(o, pushed)).toMatchObject({ phase: 'Progressing', reason: 'ObservedGenerationOutdated' });
    });
  });

  it('unknown kinds → Unknown', () => {
    const o = obj('v1', 'ConfigMap', {}, { conditions: [ready('True', 'x', 'y')] });
    expect(computeStatus(o, pushed)).toMatchObject({ phase: 'Unknown', reason: 'UnsupportedKind' });
    expect(computeStatus(obj('source.extensions.fluxcd.io/v1beta1', 'ArtifactGenerator', {}, undefined), pushed).phase).toBe('Unknown');
  });

  it('static OCI HelmRepository (no status by design) → Ready', () => {
    expect(computeStatus(helmrepo(undefined, {}, { type: 'oci', url: 'oci://ghcr.io/org/charts' }), pushed)).toMatchObject({ phase: 'Ready', reason: 'Static' });
  });

  it('is deterministic and does not mutate its input', () => {
    const o = ks({ observedGeneration: 1, lastAttemptedRevision: gitRev(PUSHED), conditions: [ready('False', 'BuildFailed', 'bad'), reconciling('ProgressingWithRetry', 'x')] });
    const copy = structuredClone(o);
    const a = computeStatus(o, pushed, { now: 1 });
    const b = computeStatus(o, pushed, { now: 999999 });
    expect(a).toEqual(b);
    expect(o).toEqual(copy);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('computeStatus: GitRepository', () => {
  const fetched = (rev: string) => ready('True', 'Succeeded', `stored artifact for revision '${rev}'`);
  it('between the two status updates that end a fetch (conditions first, then the artifact) it is storing, not back to Pending', () => {
    // The recorded real source-controller status at t=6453 of chain-success.json: Ready names the pushed commit,
    // status.artifact is still the previous one; 6 ms later the artifact is updated.
    const t = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'transcripts', 'chain-success.json'), 'utf8'));
    const pushed: PushedRevision = { sha: t.pushes[0].sha, branch: 'main' };
    const entries = t.entries
      .filter((e: { t: number; object: KubeObject }) => e.object.kind === 'GitRepository' && e.t >= t.pushes[0].t)
      .map((e: { object: KubeObject }) => e.object);
    const between = entries.find((o: KubeObject) => o.status?.conditions?.some((c: Condition) => c.type === 'Ready' && c.status === 'True' && c.message?.includes(pushed.sha)) && !o.status?.artifact?.revision?.includes(pushed.sha));
    expect(between).toBeDefined();
    expect(computeStatus(between, pushed)).toMatchObject({ phase: 'Progressing', reason: 'StoringArtifact', message: `storing the artifact of main@sha1:${pushed.sha}`, matchesPushed: true });
    // The phases the recorded sequence goes through for the push never step back to Pending once it started.
    const phases = entries.map((o: KubeObject) => computeStatus(o, pushed).phase).filter((p: string, i: number, a: string[]) => i === 0 || a[i - 1] !== p);
    expect(phases).toEqual(['Pending', 'Progressing', 'Ready']);
  });
  runCases([
    {
      name: 'artifact of the pushed commit, Ready → Ready',
      object: gitrepo({ artifact: artifact(gitRev(PUSHED)), conditions: [fetched(gitRev(PUSHED)), cond('ArtifactInStorage', 'True', 'Succeeded', 'x')], observedGeneration: 1 }),
      expect: { phase: 'Ready', reason: 'Succeeded', message: `stored artifact for revision '${gitRev(PUSHED)}'`, revision: gitRev(PUSHED), matchesPushed: true, since: T1 },
    },
    {
      name: 'legacy main/<sha> artifact revision → Ready',
      object: gitrepo({ artifact: artifact(`main/${PUSHED}`), conditions: [ready('True', 'Succeeded', `stored artifact for revision 'main/${PUSHED}'`)], observedGeneration: 1 }),
      expect: { phase: 'Ready', revision: `main/${PUSHED}`, matchesPushed: true },
    },
    {
      name: 'tag revision v1.2.3@sha1 → Ready',
      object: gitrepo({ artifact: artifact(`v1.2.3@sha1:${PUSHED}`), conditions: [fetched(`v1.2.3@sha1:${PUSHED}`)], observedGeneration: 1 }),
      expect: { phase: 'Ready', matchesPushed: true },
      pushed: { sha: PUSHED, tag: 'v1.2.3' },
    },
    {
      name: 'commit-only sha1:<sha> revision with a 7-char pushed prefix → Ready',
      object: gitrepo({ artifact: artifact(`sha1:${PUSHED}`), conditions: [fetched(`sha1:${PUSHED}`)], observedGeneration: 1 }),
      expect: { phase: 'Ready', matchesPushed: true },
      pushed: { sha: PUSHED.slice(0, 7) },
    },
    {
      name: 'named ref refs/pull/1/head@sha1 → Ready',
      object: gitrepo({ artifact: artifact(`refs/pull/1/head@sha1:${PUSHED}`), conditions: [fetched(`refs/pull/1/head@sha1:${PUSHED}`)], observedGeneration: 1 }),
      expect: { phase: 'Ready', matchesPushed: true },
    },
    {
      name: 'artifact of the pushed commit while a later fetch fails → still Ready (the artifact is served)',
      object: gitrepo({
        artifact: artifact(gitRev(PUSHED)),
        conditions: [ready('False', 'GitOperationFailed', 'failed to checkout: connection reset'), reconciling('ProgressingWithRetry', 'x')],
        observedGeneration: 1,
      }),
      expect: { phase: 'Ready', reason: 'ArtifactStored', message: `stored artifact for revision ${gitRev(PUSHED)} (now: failed to checkout: connection reset)`, matchesPushed: true },
    },
    {
      name: 'artifact of the pushed commit but spec changed (observedGeneration lag) → Progressing',
      object: gitrepo({ artifact: artifact(gitRev(PUSHED)), conditions: [fetched(gitRev(PUSHED))], observedGeneration: 1 }, { generation: 2 }),
      expect: { phase: 'Progressing', reason: 'ObservedGenerationOutdated', message: 'waiting for the controller to observe generation 2 (observed 1)', matchesPushed: true },
    },
    {
      name: 'artifact of a newer commit → Superseded',
      object: gitrepo({ artifact: artifact(gitRev(NEWER)), conditions: [fetched(gitRev(NEWER))], observedGeneration: 1 }),
      expect: { phase: 'Superseded', reason: 'Superseded', revision: gitRev(NEWER), matchesPushed: false },
    },
    {
      name: 'artifact of an older commit, Ready → Pending/NotFetched',
      object: gitrepo({ artifact: artifact(gitRev(OLD)), conditions: [fetched(gitRev(OLD))], observedGeneration: 1 }),
      expect: { phase: 'Pending', reason: 'NotFetched', message: `waiting for source-controller to fetch 0d950d6; the artifact is at ${gitRev(OLD)}`, revision: gitRev(OLD), matchesPushed: false },
    },
    {
      name: 'older artifact, building the new one → Progressing with the Reconciling message',
      object: gitrepo({
        artifact: artifact(gitRev(OLD)),
        conditions: [reconciling('Progressing', `building artifact: new upstream revision '${gitRev(PUSHED)}'`), ready('Unknown', 'Progressing', 'reconciliation in progress')],
        observedGeneration: 1,
      }),
      expect: { phase: 'Progressing', reason: 'Progressing', message: `building artifact: new upstream revision '${gitRev(PUSHED)}'`, since: T0, matchesPushed: false },
    },
    {
      name: 'older artifact, authentication failure with ProgressingWithRetry → Failed',
      object: gitrepo({
        artifact: artifact(gitRev(OLD)),
        conditions: [
          reconciling('ProgressingWithRetry', 'processing object: new generation 1 -> 2'),
          ready('False', 'AuthenticationFailed', "failed to checkout and determine revision: unable to clone 'https://github.com/org/fleet': authentication required"),
          cond('FetchFailed', 'True', 'AuthenticationFailed', 'x'),
        ],
        observedGeneration: 1,
      }),
      expect: { phase: 'Failed', reason: 'AuthenticationFailed', since: T1, matchesPushed: false },
    },
    {
      name: 'no artifact yet, fetch failed without Reconciling → Failed',
      object: gitrepo({ conditions: [ready('False', 'GitOperationFailed', 'unable to clone: dial tcp: lookup github.com: no such host')], observedGeneration: 1 }),
      expect: { phase: 'Failed', reason: 'GitOperationFailed', revision: undefined },
    },
    {
      name: 'no artifact yet, first reconciliation → Progressing',
      object: gitrepo({ conditions: [reconciling('Progressing', 'building artifact'), ready('Unknown', 'Progressing', 'reconciliation in progress')] }),
      expect: { phase: 'Progressing', message: 'building artifact' },
    },
    {
      name: 'failure message is sanitised (escapes and credentials)',
      object: gitrepo({
        artifact: artifact(gitRev(OLD)),
        conditions: [ready('False', 'GitOperationFailed', "unable to clone 'https://bot:s3cr3t@github.com/org/fleet': \x1b[31mdenied\x1b[0m\r\nretry")],
        observedGeneration: 1,
      }),
      expect: { phase: 'Failed', message: "unable to clone 'https://***@github.com/org/fleet': denied\nretry" },
    },
    {
      name: 'not correlated (another repository), delivered=false → Pending/NotDelivered',
      object: gitrepo({ artifact: artifact(gitRev(OLD)), conditions: [fetched(gitRev(OLD))], observedGeneration: 1 }),
      ctx: { correlate: false, delivered: false },
      expect: { phase: 'Pending', reason: 'NotDelivered', matchesPushed: undefined },
    },
    {
      name: 'not correlated, delivered=true → judged from the object (Ready)',
      object: gitrepo({ artifact: artifact(gitRev(OLD)), conditions: [fetched(gitRev(OLD))], observedGeneration: 1 }),
      ctx: { correlate: false, delivered: true },
      expect: { phase: 'Ready', revision: gitRev(OLD), matchesPushed: undefined },
    },
  ]);
});

describe('computeStatus: OCIRepository', () => {
  const ociRev = `latest@sha256:${DIGEST}`;
  const stored = ready('True', 'Succeeded', `stored artifact for digest '${ociRev}'`);
  const withOrigin = (origin: string) => ocirepo({ artifact: artifact(ociRev, { 'org.opencontainers.image.revision': origin }), conditions: [stored], observedGeneration: 1 });
  runCases([
    { name: 'origin main@sha1:<pushed> → Ready', object: withOrigin(gitRev(PUSHED)), expect: { phase: 'Ready', revision: gitRev(PUSHED), matchesPushed: true } },
    { name: 'origin sha1:<pushed> → Ready', object: withOrigin(`sha1:${PUSHED}`), expect: { phase: 'Ready', matchesPushed: true } },
    { name: 'origin bare full sha → Ready', object: withOrigin(PUSHED.toUpperCase()), expect: { phase: 'Ready', matchesPushed: true } },
    { name: 'origin bare short sha → Ready', object: withOrigin(PUSHED.slice(0, 8)), expect: { phase: 'Ready', revision: PUSHED.slice(0, 8), matchesPushed: true } },
    { name: 'origin of a newer commit → Superseded', object: withOrigin(gitRev(NEWER)), expect: { phase: 'Superseded', revision: gitRev(NEWER) } },
    {
      name: 'origin of an older commit → Pending/AwaitingArtifact: CI has not published the commit yet',
      object: withOrigin(gitRev(OLD)),
      expect: { phase: 'Pending', reason: 'AwaitingArtifact', message: `waiting for an artifact built from ${PUSHED.slice(0, 7)}; the artifact is at ${gitRev(OLD)}`, revision: gitRev(OLD), matchesPushed: false },
    },
    {
      name: 'origin of an older commit, the pull of the new tag failing → Failed (the registry, not CI)',
      object: ocirepo({
        artifact: artifact(ociRev, { 'org.opencontainers.image.revision': gitRev(OLD) }),
        conditions: [reconciling('ProgressingWithRetry', 'x'), ready('False', 'OCIArtifactPullFailed', 'failed to pull artifact')],
        observedGeneration: 1,
      }),
      expect: { phase: 'Failed', reason: 'OCIArtifactPullFailed' },
    },
    {
      name: 'source annotation without a revision annotation (pkg/oci writes it empty) → Pending/NoOriginRevision with the --revision hint',
      object: ocirepo({ artifact: artifact(ociRev, { 'org.opencontainers.image.source': 'https://github.com/org/app', 'org.opencontainers.image.revision': '' }), conditions: [stored], observedGeneration: 1 }),
      expect: { phase: 'Pending', reason: 'NoOriginRevision', revision: ociRev, matchesPushed: undefined },
    },
    {
      name: 'source annotation and a revision that names no commit → Pending/OriginNotACommit',
      object: ocirepo({ artifact: artifact(ociRev, { 'org.opencontainers.image.source': 'https://github.com/org/app', 'org.opencontainers.image.revision': 'v1.0.0' }), conditions: [stored], observedGeneration: 1 }),
      expect: { phase: 'Pending', reason: 'OriginNotACommit' },
    },
    {
      name: 'source annotation without revision, not correlated (another repository) → generic Ready',
      object: ocirepo({ artifact: artifact(ociRev, { 'org.opencontainers.image.source': 'https://github.com/org/app' }), conditions: [stored], observedGeneration: 1 }),
      ctx: { correlate: false },
      expect: { phase: 'Ready', revision: ociRev },
    },
    {
      name: 'no origin metadata → generic: Ready, not correlated',
      object: ocirepo({ artifact: artifact(ociRev), conditions: [stored], observedGeneration: 1 }),
      expect: { phase: 'Ready', revision: ociRev, matchesPushed: undefined },
    },
    {
      name: 'non-commit origin (a tag name) → generic, delivered=false → Pending/NotDelivered',
      object: withOrigin('v1.0.0'),
      ctx: { delivered: false },
      expect: { phase: 'Pending', reason: 'NotDelivered' },
    },
    {
      name: 'pull failure (source-controller docs shape) → Failed',
      object: ocirepo(
        {
          conditions: [
            reconciling('ProgressingWithRetry', 'processing object: new generation 1 -> 2', 2),
            ready('False', 'OCIOperationFailed', `failed to pull artifact from 'oci://ghcr.io/stefanprodan/manifests/podinfo': couldn't find tag "0.0.1"`, 2),
            cond('FetchFailed', 'True', 'OCIOperationFailed', 'x', 2),
          ],
          observedGeneration: 1,
        },
        { generation: 2 },
      ),
      expect: { phase: 'Failed', reason: 'OCIOperationFailed' },
    },
  ]);
});

describe('computeStatus: OCIRepository without a revision annotation', () => {
  it('says what is missing and how to fix it', () => {
    const o = ocirepo({
      artifact: artifact(`latest@sha256:${DIGEST}`, { 'org.opencontainers.image.source': 'https://github.com/org/app' }),
      conditions: [ready('True', 'Succeeded', 'stored artifact')],
      observedGeneration: 1,
    });
    const r = computeStatus(o, pushed);
    expect(r.message).toContain('has no org.opencontainers.image.revision annotation');
    expect(r.message).toContain('--revision="<branch>@sha1:<commit>"');
    expect(r.message).toContain('https://github.com/org/app');
  });

  it('never repeats credentials CI put in the source annotation (a remote URL with a token)', () => {
    const o = ocirepo({
      artifact: artifact(`latest@sha256:${DIGEST}`, { 'org.opencontainers.image.source': 'https://ci-bot:ghp_s3cr3t@github.com/org/app.git' }),
      conditions: [ready('True', 'Succeeded', 'stored artifact')],
      observedGeneration: 1,
    });
    const r = computeStatus(o, pushed);
    expect(r.message).not.toContain('ghp_s3cr3t');
    // result() sanitises every message: credentials in URLs go.
    expect(r.message).toContain('comes from https://***@github.com/org/app.git but');
  });
});

describe('computeStatus: ExternalArtifact (source.toolkit.fluxcd.io/v1, Flux 2.7)', () => {
  const done = ready('True', 'Succeeded', 'stored artifact for revision main');
  runCases([
    {
      name: 'its own revision names the pushed commit → Ready',
      object: externalArtifact({ artifact: artifact(gitRev(PUSHED)), conditions: [done] }),
      expect: { phase: 'Ready', revision: gitRev(PUSHED), matchesPushed: true },
    },
    {
      name: 'its own revision names an older commit → Pending/AwaitingArtifact',
      object: externalArtifact({ artifact: artifact(gitRev(OLD)), conditions: [done] }),
      expect: { phase: 'Pending', reason: 'AwaitingArtifact', matchesPushed: false },
    },
    {
      name: 'its own revision names a newer commit → Superseded',
      object: externalArtifact({ artifact: artifact(gitRev(NEWER)), conditions: [done] }),
      expect: { phase: 'Superseded', revision: gitRev(NEWER) },
    },
    {
      name: 'the OCI revision annotation in its metadata wins over a digest revision → Ready',
      object: externalArtifact({ artifact: artifact(`v1.0.0@sha256:${DIGEST}`, { 'org.opencontainers.image.revision': gitRev(PUSHED) }), conditions: [done] }),
      expect: { phase: 'Ready', matchesPushed: true },
    },
    {
      name: 'a digest revision and no origin (the spec example) → generic Ready',
      object: externalArtifact({ artifact: artifact(`v1.0.0@sha256:${DIGEST}`), conditions: [done] }),
      expect: { phase: 'Ready', revision: `v1.0.0@sha256:${DIGEST}`, matchesPushed: undefined },
    },
  ]);
});

describe('computeStatus: HelmChart', () => {
  const packaged = (v: string) => ready('True', 'ChartPackageSucceeded', `packaged 'web' chart with version '${v}'`);
  runCases([
    {
      name: 'git, reconcileStrategy Revision, built from the pushed commit → Ready',
      object: helmchart('GitRepository', { artifact: artifact(chartRev(PUSHED)), observedSourceArtifactRevision: gitRev(PUSHED), conditions: [packaged(chartRev(PUSHED))], observedGeneration: 1 }),
      expect: { phase: 'Ready', reason: 'ChartPackageSucceeded', revision: chartRev(PUSHED), matchesPushed: true },
    },
    {
      name: 'git, built from a newer commit → Superseded',
      object: helmchart('GitRepository', { artifact: artifact(chartRev(NEWER)), observedSourceArtifactRevision: gitRev(NEWER), conditions: [packaged(chartRev(NEWER))], observedGeneration: 1 }),
      expect: { phase: 'Superseded', revision: chartRev(NEWER) },
    },
    {
      name: 'git, source still at an older commit → Pending/NotBuilt',
      object: helmchart('GitRepository', { artifact: artifact(chartRev(OLD)), observedSourceArtifactRevision: gitRev(OLD), conditions: [packaged(chartRev(OLD))], observedGeneration: 1 }),
      expect: { phase: 'Pending', reason: 'NotBuilt', revision: gitRev(OLD), matchesPushed: false },
    },
    {
      name: 'git, observed the pushed commit, building → Progressing',
      object: helmchart('GitRepository', {
        artifact: artifact(chartRev(OLD)),
        observedSourceArtifactRevision: gitRev(PUSHED),
        conditions: [reconciling('Progressing', "building artifact: pulled 'web' chart with version '0.1.0'"), ready('Unknown', 'Progressing', 'reconciliation in progress')],
        observedGeneration: 1,
      }),
      expect: { phase: 'Progressing', revision: gitRev(PUSHED), matchesPushed: true },
    },
    {
      name: 'git, build of the pushed commit failed → Failed',
      object: helmchart('GitRepository', {
        artifact: artifact(chartRev(OLD)),
        observedSourceArtifactRevision: gitRev(PUSHED),
        conditions: [reconciling('ProgressingWithRetry', 'x'), ready('False', 'BuildFailed', "build error: chart 'web' dependency 'redis' not found"), cond('BuildFailed', 'True', 'ChartPackageError', 'x')],
        observedGeneration: 1,
      }),
      expect: { phase: 'Failed', reason: 'BuildFailed', matchesPushed: true },
    },
    {
      name: 'git, reconcileStrategy ChartVersion: up to date with the pushed source revision → Ready',
      object: helmchart('GitRepository', { artifact: artifact('0.1.0'), observedSourceArtifactRevision: gitRev(PUSHED), conditions: [packaged('0.1.0')], observedGeneration: 1 }),
      expect: { phase: 'Ready', revision: gitRev(PUSHED), matchesPushed: true },
    },
    {
      name: 'git, reconcileStrategy ChartVersion, valuesFiles (`+<generation>`), source older → Pending/NotBuilt',
      object: helmchart('GitRepository', { artifact: artifact('0.1.0+2'), observedSourceArtifactRevision: gitRev(OLD), conditions: [packaged('0.1.0+2')], observedGeneration: 2 }, { generation: 2 }),
      expect: { phase: 'Pending', reason: 'NotBuilt' },
    },
    {
      name: 'HelmRepository chart → generic (Ready, not correlated)',
      object: helmchart('HelmRepository', { artifact: artifact('6.5.4'), conditions: [ready('True', 'ChartPullSucceeded', "pulled 'podinfo' chart with version '6.5.4'")], observedGeneration: 1 }, {}, { chart: 'podinfo' }),
      expect: { phase: 'Ready', reason: 'ChartPullSucceeded', revision: '6.5.4', matchesPushed: undefined },
    },
    {
      name: 'Bucket chart: `+<12hex>` is a content digest, not a commit → generic',
      object: helmchart('Bucket', { artifact: artifact(`0.1.0+${DIGEST.slice(0, 12)}`), conditions: [packaged('x')], observedGeneration: 1 }),
      expect: { phase: 'Ready', matchesPushed: undefined },
    },
    {
      name: 'HelmRepository chart with an invalid reference (source-controller docs shape) → Stalled',
      object: helmchart(
        'HelmRepository',
        {
          conditions: [
            stalled('InvalidChartReference', "invalid chart reference: failed to get chart version for remote reference: no 'podinfo' chart with version matching '9.*' found", 3),
            ready('False', 'InvalidChartReference', 'x', 3),
          ],
          observedGeneration: 3,
        },
        { generation: 3 },
      ),
      expect: { phase: 'Stalled', reason: 'InvalidChartReference' },
    },
  ]);
});

describe('computeStatus: HelmRepository and Bucket (no commit)', () => {
  runCases([
    {
      name: 'HelmRepository Ready, delivered → Ready',
      object: helmrepo({ artifact: artifact(`sha256:${DIGEST}`), conditions: [ready('True', 'Succeeded', `stored artifact: revision 'sha256:${DIGEST}'`)], observedGeneration: 1 }),
      ctx: { delivered: true },
      expect: { phase: 'Ready', revision: `sha256:${DIGEST}`, matchesPushed: undefined },
    },
    {
      name: 'HelmRepository, not delivered yet → Pending/NotDelivered',
      object: helmrepo({ conditions: [ready('True', 'Succeeded', 'x')], observedGeneration: 1 }),
      ctx: { delivered: false },
      expect: { phase: 'Pending', reason: 'NotDelivered', message: 'waiting for the parent Kustomization to apply the commit' },
    },
    {
      name: 'HelmRepository index fetch failed → Failed',
      object: helmrepo({ conditions: [reconciling('ProgressingWithRetry', 'x'), ready('False', 'Failed', 'failed to fetch Helm repository index: 404 Not Found')], observedGeneration: 1 }),
      ctx: { delivered: true },
      expect: { phase: 'Failed', reason: 'Failed' },
    },
    {
      name: 'HelmRepository URL changed by the commit, not yet observed → Progressing/ObservedGenerationOutdated',
      object: helmrepo({ conditions: [ready('True', 'Succeeded', 'x', 1)], observedGeneration: 1 }, { generation: 2 }),
      ctx: { delivered: true },
      expect: { phase: 'Progressing', reason: 'ObservedGenerationOutdated' },
    },
    {
      name: 'Bucket in progress → Progressing',
      object: bucket({ conditions: [reconciling('Progressing', 'building artifact: new upstream revision'), ready('Unknown', 'Progressing', 'reconciliation in progress')] }),
      expect: { phase: 'Progressing' },
    },
    {
      name: 'Bucket with a legacy digest revision → generic Ready',
      object: bucket({ artifact: artifact(DIGEST), conditions: [ready('True', 'Succeeded', 'x')], observedGeneration: 1 }),
      expect: { phase: 'Ready', matchesPushed: undefined },
    },
    {
      name: 'conditions without Ready → Unknown',
      object: bucket({ conditions: [cond('ArtifactInStorage', 'True', 'Succeeded', 'x')], observedGeneration: 1 }),
      expect: { phase: 'Unknown', reason: 'NoReadyCondition' },
    },
  ]);
});

// ---------------------------------------------------------------------------------------------------------

describe('computeStatus: Kustomization', () => {
  const applied = (rev: string, g = 1) => ready('True', 'ReconciliationSucceeded', `Applied revision: ${rev}`, g);
  const readyKs = (rev: string) => ks({ lastAppliedRevision: rev, lastAttemptedRevision: rev, conditions: [applied(rev)], observedGeneration: 1 });
  const failing = (reason: string, message: string) =>
    ks({
      lastAppliedRevision: gitRev(OLD),
      lastAttemptedRevision: gitRev(PUSHED),
      conditions: [reconciling('ProgressingWithRetry', `Building manifests for revision ${gitRev(PUSHED)} with a timeout of 4m30s`), ready('False', reason, message)],
      observedGeneration: 1,
    });

  runCases([
    {
      name: 'applied the pushed commit → Ready',
      object: readyKs(gitRev(PUSHED)),
      expect: { phase: 'Ready', reason: 'ReconciliationSucceeded', message: `Applied revision: ${gitRev(PUSHED)}`, revision: gitRev(PUSHED), matchesPushed: true, since: T1 },
    },
    { name: 'legacy main/<sha> → Ready', object: readyKs(`main/${PUSHED}`), expect: { phase: 'Ready', matchesPushed: true } },
    { name: 'tag v1.2.3@sha1 → Ready', object: readyKs(`v1.2.3@sha1:${PUSHED}`), expect: { phase: 'Ready', matchesPushed: true } },
    { name: 'sha1:<sha> → Ready', object: readyKs(`sha1:${PUSHED}`), expect: { phase: 'Ready', matchesPushed: true } },
    { name: 'refs/pull/1/head@sha1 → Ready', object: readyKs(`refs/pull/1/head@sha1:${PUSHED}`), expect: { phase: 'Ready', matchesPushed: true } },
    {
      name: 'building the pushed commit → Progressing with the Reconciling message',
      object: ks({
        lastAppliedRevision: gitRev(OLD),
        lastAttemptedRevision: gitRev(PUSHED),
        conditions: [reconciling('Progressing', `Building manifests for revision ${gitRev(PUSHED)} with a timeout of 4m30s`), ready('Unknown', 'Progressing', 'Reconciliation in progress')],
        observedGeneration: 1,
      }),
      expect: { phase: 'Progressing', reason: 'Progressing', message: `Building manifests for revision ${gitRev(PUSHED)} with a timeout of 4m30s`, revision: gitRev(PUSHED), matchesPushed: true, since: T0 },
    },
    {
      name: 'health checks of the pushed commit running → Progressing',
      object: ks({
        lastAppliedRevision: gitRev(OLD),
        lastAttemptedRevision: gitRev(PUSHED),
        conditions: [reconciling('Progressing', `Running health checks for revision ${gitRev(PUSHED)} with a timeout of 4m30s`), ready('Unknown', 'Progressing', 'Reconciliation in progress'), cond('Healthy', 'Unknown', 'Progressing', 'x')],
        observedGeneration: 1,
      }),
      expect: { phase: 'Progressing', message: `Running health checks for revision ${gitRev(PUSHED)} with a timeout of 4m30s` },
    },
    {
      name: 'fetching the pushed commit, lastAttemptedRevision not yet updated → Progressing',
      object: ks({
        lastAppliedRevision: gitRev(OLD),
        lastAttemptedRevision: gitRev(OLD),
        conditions: [reconciling('Progressing', `Fetching manifests for revision ${gitRev(PUSHED)} with a timeout of 4m30s`), ready('Unknown', 'Progressing', 'Reconciliation in progress')],
        observedGeneration: 1,
      }),
      expect: { phase: 'Progressing', revision: gitRev(PUSHED), matchesPushed: true },
    },
    { name: 'BuildFailed + Reconciling ProgressingWithRetry → Failed (not Progressing)', object: failing('BuildFailed', 'kustomize build failed: accumulating resources'), expect: { phase: 'Failed', reason: 'BuildFailed', revision: gitRev(PUSHED), matchesPushed: true } },
    {
      name: 'HealthCheckFailed → Failed',
      object: failing('HealthCheckFailed', "health check failed after 30.001s: timeout waiting for: [Deployment/apps/web status: 'InProgress']"),
      expect: { phase: 'Failed', reason: 'HealthCheckFailed', message: "health check failed after 30.001s: timeout waiting for: [Deployment/apps/web status: 'InProgress']" },
    },
    { name: 'PruneFailed → Failed', object: failing('PruneFailed', 'failed to delete Namespace/old'), expect: { phase: 'Failed', reason: 'PruneFailed' } },
    { name: 'ReconciliationFailed → Failed', object: failing('ReconciliationFailed', 'Deployment/apps/web dry-run failed: field is immutable'), expect: { phase: 'Failed', reason: 'ReconciliationFailed' } },
    { name: 'ArtifactFailed → Failed', object: failing('ArtifactFailed', 'kustomization path not found'), expect: { phase: 'Failed', reason: 'ArtifactFailed' } },
    {
      name: 'HealthCheckCanceled (a new reconciliation was triggered, requeued at once) → Progressing',
      object: failing('HealthCheckCanceled', 'New reconciliation triggered by GitRepository/flux-system/flux-system'),
      expect: { phase: 'Progressing', reason: 'HealthCheckCanceled' },
    },
    {
      name: 'failure without a Reconciling condition → Failed',
      object: ks({ lastAttemptedRevision: gitRev(PUSHED), lastAppliedRevision: gitRev(OLD), conditions: [ready('False', 'BuildFailed', 'x')], observedGeneration: 1 }),
      expect: { phase: 'Failed', reason: 'BuildFailed' },
    },
    {
      name: 'failure of a new generation while status.observedGeneration lags (Flux only advances it on success) → Failed',
      object: ks(
        { lastAttemptedRevision: gitRev(PUSHED), lastAppliedRevision: gitRev(OLD), conditions: [reconciling('ProgressingWithRetry', 'x', 2), ready('False', 'BuildFailed', 'x', 2)], observedGeneration: 1 },
        { generation: 2 },
      ),
      expect: { phase: 'Failed', reason: 'BuildFailed' },
    },
    {
      name: 'failure left from the previous generation → Progressing/ObservedGenerationOutdated',
      object: ks({ lastAttemptedRevision: gitRev(PUSHED), lastAppliedRevision: gitRev(OLD), conditions: [ready('False', 'BuildFailed', 'x', 1)], observedGeneration: 1 }, { generation: 2 }),
      expect: { phase: 'Progressing', reason: 'ObservedGenerationOutdated', matchesPushed: true },
    },
    {
      name: 'applied the pushed commit but generation changed since → Progressing/ObservedGenerationOutdated',
      object: ks({ lastAppliedRevision: gitRev(PUSHED), lastAttemptedRevision: gitRev(PUSHED), conditions: [applied(gitRev(PUSHED), 3)], observedGeneration: 3 }, { generation: 4 }),
      expect: { phase: 'Progressing', reason: 'ObservedGenerationOutdated', message: 'waiting for the controller to observe generation 4 (observed 3)' },
    },
    {
      name: 'DependencyNotReady with an old lastAttemptedRevision → Waiting with the blocker',
      object: ks({
        lastAppliedRevision: gitRev(OLD),
        lastAttemptedRevision: gitRev(OLD),
        conditions: [ready('False', 'DependencyNotReady', "dependency 'flux-system/infra' is not ready"), reconciling('ProgressingWithRetry', 'x')],
        observedGeneration: 1,
      }),
      expect: { phase: 'Waiting', reason: 'DependencyNotReady', message: "dependency 'flux-system/infra' is not ready", blockers: ['flux-system/infra'], revision: gitRev(OLD), matchesPushed: false },
    },
    {
      name: 'DependencyNotReady: dependency revision not up to date → Waiting',
      object: ks({ lastAppliedRevision: gitRev(OLD), lastAttemptedRevision: gitRev(OLD), conditions: [ready('False', 'DependencyNotReady', "dependency 'flux-system/crds' revision is not up to date")], observedGeneration: 1 }),
      expect: { phase: 'Waiting', blockers: ['flux-system/crds'] },
    },
    {
      name: 'DependencyNotReady before any apply (no revisions) → Waiting',
      object: ks({ conditions: [ready('False', 'DependencyNotReady', "unable to get 'flux-system/apps' dependency: Kustomization.kustomize.toolkit.fluxcd.io \"apps\" not found")] }),
      expect: { phase: 'Waiting', blockers: ['flux-system/apps'] },
    },
    {
      name: 'lastAppliedRevision names a newer commit → Superseded',
      object: readyKs(gitRev(NEWER)),
      expect: { phase: 'Superseded', reason: 'Superseded', revision: gitRev(NEWER), matchesPushed: false },
    },
    {
      name: 'lastAttemptedRevision names a newer commit (even while failing) → Superseded',
      object: ks({ lastAppliedRevision: gitRev(PUSHED), lastAttemptedRevision: gitRev(NEWER), conditions: [ready('False', 'BuildFailed', 'x'), reconciling('ProgressingWithRetry', 'x')], observedGeneration: 1 }),
      expect: { phase: 'Superseded', revision: gitRev(NEWER) },
    },
    {
      name: 'Superseded wins over DependencyNotReady',
      object: ks({ lastAppliedRevision: gitRev(NEWER), lastAttemptedRevision: gitRev(NEWER), conditions: [ready('False', 'DependencyNotReady', "dependency 'a/b' is not ready")], observedGeneration: 1 }),
      expect: { phase: 'Superseded' },
    },
    {
      name: 'applied the pushed commit, then an unknown other commit is attempted → Superseded/RevisionChanged',
      object: ks({ lastAppliedRevision: gitRev(PUSHED), lastAttemptedRevision: gitRev(OTHER), conditions: [reconciling('Progressing', 'x'), ready('Unknown', 'Progressing', 'x')], observedGeneration: 1 }),
      expect: { phase: 'Superseded', reason: 'RevisionChanged', revision: gitRev(OTHER) },
    },
    {
      name: 'revisions of an older commit → Pending/NotApplied',
      object: readyKs(gitRev(OLD)),
      expect: { phase: 'Pending', reason: 'NotApplied', message: `waiting for the source to deliver 0d950d6; last revision ${gitRev(OLD)}`, revision: gitRev(OLD), matchesPushed: false },
    },
    {
      name: 'revisions of an older commit, generation lagging → still Pending (revision decides first)',
      object: ks({ lastAppliedRevision: gitRev(OLD), lastAttemptedRevision: gitRev(OLD), conditions: [applied(gitRev(OLD))], observedGeneration: 1 }, { generation: 2 }),
      expect: { phase: 'Pending', reason: 'NotApplied' },
    },
    {
      name: 'older revisions, artifact fetch failed, source known to hold the commit (delivered) → Failed',
      object: ks({ lastAppliedRevision: gitRev(OLD), lastAttemptedRevision: gitRev(OLD), conditions: [ready('False', 'ArtifactFailed', 'failed to download archive: 404'), reconciling('ProgressingWithRetry', 'x')], observedGeneration: 1 }),
      ctx: { delivered: true },
      expect: { phase: 'Failed', reason: 'ArtifactFailed', matchesPushed: false },
    },
    {
      name: 'older revisions, artifact fetch failed, delivery unknown → Pending/NotApplied',
      object: ks({ lastAppliedRevision: gitRev(OLD), lastAttemptedRevision: gitRev(OLD), conditions: [ready('False', 'ArtifactFailed', 'failed to download archive: 404')], observedGeneration: 1 }),
      expect: { phase: 'Pending', reason: 'NotApplied' },
    },
    {
      name: 'OCI source: origin revision of the applied artifact → Ready',
      object: ks(
        {
          lastAppliedRevision: `latest@sha256:${DIGEST}`,
          lastAppliedOriginRevision: gitRev(PUSHED),
          lastAttemptedRevision: `latest@sha256:${DIGEST}`,
          conditions: [applied(`latest@sha256:${DIGEST}`)],
          observedGeneration: 1,
        },
        {},
        { sourceRef: { kind: 'OCIRepository', name: 'manifests' } },
      ),
      expect: { phase: 'Ready', revision: gitRev(PUSHED), matchesPushed: true },
    },
    {
      name: 'OCI source: failed attempt, origin found in history → Failed',
      object: ks(
        {
          lastAppliedRevision: `latest@sha256:${'1'.repeat(64)}`,
          lastAppliedOriginRevision: gitRev(OLD),
          lastAttemptedRevision: `latest@sha256:${DIGEST}`,
          history: [
            { digest: `sha256:${'2'.repeat(64)}`, firstReconciled: T1, lastReconciled: T1, lastReconciledDuration: '1s', lastReconciledStatus: 'HealthCheckFailed', totalReconciliations: 1, metadata: { revision: `latest@sha256:${DIGEST}`, originRevision: gitRev(PUSHED) } },
          ],
          conditions: [ready('False', 'HealthCheckFailed', 'timeout'), reconciling('ProgressingWithRetry', 'x')],
          observedGeneration: 1,
        },
        {},
        { sourceRef: { kind: 'OCIRepository', name: 'manifests' } },
      ),
      expect: { phase: 'Failed', reason: 'HealthCheckFailed', revision: gitRev(PUSHED), matchesPushed: true },
    },
    {
      name: 'OCI source: a failed attempt of an artifact whose origin only the engine knows (no history entry) → Failed for the pushed commit',
      object: ks(
        {
          lastAppliedRevision: `latest@sha256:${'1'.repeat(64)}`,
          lastAppliedOriginRevision: gitRev(OLD),
          lastAttemptedRevision: `latest@sha256:${DIGEST}`,
          conditions: [ready('False', 'BuildFailed', 'kustomize build failed'), reconciling('ProgressingWithRetry', 'x')],
          observedGeneration: 1,
        },
        {},
        { sourceRef: { kind: 'OCIRepository', name: 'manifests' } },
      ),
      ctx: { origins: new Map([[`sha256:${DIGEST}`, gitRev(PUSHED)]]) },
      expect: { phase: 'Failed', reason: 'BuildFailed', revision: gitRev(PUSHED), matchesPushed: true },
    },
    {
      name: 'OCI source without origin revisions → generic (delivered=false → Pending/NotDelivered)',
      object: ks({ lastAppliedRevision: `latest@sha256:${DIGEST}`, lastAttemptedRevision: `latest@sha256:${DIGEST}`, conditions: [applied('x')], observedGeneration: 1 }),
      ctx: { delivered: false },
      expect: { phase: 'Pending', reason: 'NotDelivered' },
    },
    {
      name: 'OCI source without origin revisions, delivered → Ready (not correlated)',
      object: ks({ lastAppliedRevision: `latest@sha256:${DIGEST}`, lastAttemptedRevision: `latest@sha256:${DIGEST}`, conditions: [applied('x')], observedGeneration: 1 }),
      ctx: { delivered: true },
      expect: { phase: 'Ready', revision: `latest@sha256:${DIGEST}`, matchesPushed: undefined },
    },
    {
      name: 'OCI source without origin revisions, not delivered by a parent → Pending RevisionUnknown (Ready says nothing about the push)',
      object: ks({ lastAppliedRevision: `latest@sha256:${DIGEST}`, lastAttemptedRevision: `latest@sha256:${DIGEST}`, conditions: [applied('x')], observedGeneration: 1 }),
      expect: { phase: 'Pending', reason: 'RevisionUnknown', revision: `latest@sha256:${DIGEST}` },
    },
    {
      name: 'source of another repository (correlate=false), parent applied the commit → judged from the object',
      object: readyKs(gitRev(OTHER)),
      ctx: { correlate: false, delivered: true },
      expect: { phase: 'Ready', matchesPushed: undefined },
    },
    {
      name: 'source of another repository (correlate=false), not delivered → Pending/NotDelivered',
      object: readyKs(gitRev(OTHER)),
      ctx: { correlate: false, delivered: false },
      expect: { phase: 'Pending', reason: 'NotDelivered' },
    },
    {
      name: 'never reconciled but has a Reconciling condition → Progressing',
      object: ks({ conditions: [reconciling('Progressing', 'Fetching manifests for revision x'), ready('Unknown', 'Progressing', 'Reconciliation in progress')] }),
      expect: { phase: 'Progressing' },
    },
  ]);
});

// ---------------------------------------------------------------------------------------------------------

describe('computeStatus: HelmRelease', () => {
  const upgraded = (chart: string, g = 1) => ready('True', 'UpgradeSucceeded', `Helm upgrade succeeded for release apps/web.v8 with chart web@${chart}`, g);
  const released = (chart: string, g = 1) => cond('Released', 'True', 'UpgradeSucceeded', `Helm upgrade succeeded for release apps/web.v8 with chart web@${chart}`, g);
  const readyHr = (chart: string) =>
    hr({ lastAttemptedRevision: chart, lastAttemptedGeneration: 1, history: [historyEntry(chart, 'deployed', 8)], conditions: [upgraded(chart), released(chart)], observedGeneration: 1 });

  describe('chart from the pushed repository (`<version>+<12hex>`)', () => {
    runCases([
      { name: 'upgraded to the pushed commit → Ready', object: readyHr(chartRev(PUSHED)), expect: { phase: 'Ready', reason: 'UpgradeSucceeded', revision: chartRev(PUSHED), matchesPushed: true } },
      { name: 'valuesFiles form `+<12hex>.<generation>` → Ready', object: readyHr(chartRev(PUSHED, '.3')), expect: { phase: 'Ready', matchesPushed: true } },
      {
        name: 'chartRef to a git HelmChart → correlated',
        object: hr(
          { lastAttemptedRevision: chartRev(PUSHED), lastAttemptedGeneration: 1, history: [historyEntry(chartRev(PUSHED), 'deployed', 2)], conditions: [upgraded(chartRev(PUSHED))], observedGeneration: 1 },
          {},
          { chartRef: { kind: 'HelmChart', name: 'web', namespace: 'flux-system' } },
        ),
        expect: { phase: 'Ready', matchesPushed: true },
      },
      {
        name: 'upgrade to the pushed commit running → Progressing',
        object: hr({
          lastAttemptedRevision: chartRev(PUSHED),
          lastAttemptedGeneration: 1,
          history: [historyEntry(chartRev(OLD), 'deployed', 7)],
          conditions: [reconciling('Progressing', "Running 'upgrade' action with timeout of 5m0s"), ready('Unknown', 'Progressing', "Running 'upgrade' action with timeout of 5m0s")],
          observedGeneration: 1,
        }),
        expect: { phase: 'Progressing', message: "Running 'upgrade' action with timeout of 5m0s", revision: chartRev(PUSHED), matchesPushed: true },
      },
      {
        name: 'attempted the pushed chart, Ready=True still from the previous release → Progressing',
        object: hr({ lastAttemptedRevision: chartRev(PUSHED), lastAttemptedGeneration: 1, history: [historyEntry(chartRev(OLD), 'deployed', 7)], conditions: [upgraded(chartRev(OLD))], observedGeneration: 1 }),
        expect: { phase: 'Progressing', matchesPushed: true },
      },
      {
        name: 'upgrade failed, retrying (ProgressingWithRetry) → Failed',
        object: hr({
          lastAttemptedRevision: chartRev(PUSHED),
          lastAttemptedGeneration: 1,
          history: [historyEntry(chartRev(PUSHED), 'failed', 8), historyEntry(chartRev(OLD), 'superseded', 7)],
          conditions: [
            reconciling('ProgressingWithRetry', 'retrying after 5m0s'),
            ready('False', 'UpgradeFailed', `Helm upgrade failed for release apps/web with chart web@${chartRev(PUSHED)}: template: web/templates/deployment.yaml:12: unexpected EOF`),
            cond('Released', 'False', 'UpgradeFailed', 'x'),
          ],
          observedGeneration: 1,
        }),
        expect: { phase: 'Failed', reason: 'UpgradeFailed', revision: chartRev(PUSHED), matchesPushed: true },
      },
      {
        name: 'retries exhausted → Stalled',
        object: hr({
          lastAttemptedRevision: chartRev(PUSHED),
          lastAttemptedGeneration: 1,
          conditions: [stalled('RetriesExceeded', 'Failed to upgrade after 4 attempt(s)'), ready('False', 'UpgradeFailed', 'x')],
          observedGeneration: 1,
        }),
        expect: { phase: 'Stalled', reason: 'RetriesExceeded', message: 'Failed to upgrade after 4 attempt(s): x' },
      },
      {
        name: 'chart of a newer commit attempted → Superseded',
        object: readyHr(chartRev(NEWER)),
        expect: { phase: 'Superseded', revision: chartRev(NEWER) },
      },
      {
        name: 'chart of an older commit → Pending/NotApplied',
        object: readyHr(chartRev(OLD)),
        expect: { phase: 'Pending', reason: 'NotApplied', message: `waiting for a chart built from 0d950d6; last revision ${chartRev(OLD)}`, matchesPushed: false },
      },
      {
        name: 'DependencyNotReady → Waiting',
        object: hr({
          lastAttemptedRevision: chartRev(OLD),
          history: [historyEntry(chartRev(OLD), 'deployed', 7)],
          conditions: [reconciling('Progressing', 'Fulfilling prerequisites'), ready('False', 'DependencyNotReady', "dependency 'apps/postgres' is not ready")],
          observedGeneration: 1,
        }),
        expect: { phase: 'Waiting', blockers: ['apps/postgres'] },
      },
    ]);
  });

  describe('chart without commit information (HelmRepository, OCI): decided from ctx.delivered', () => {
    const repoHr = (status: Record<string, unknown>, meta?: Meta) => hr(status, meta, repoChartSpec);
    const readyRepoHr = repoHr({ lastAttemptedRevision: '6.5.4', lastAttemptedGeneration: 1, history: [historyEntry('6.5.4', 'deployed', 3)], conditions: [upgraded('6.5.4'), released('6.5.4')], observedGeneration: 1 });
    runCases([
      {
        name: 'delivered=false → Pending/NotDelivered',
        object: readyRepoHr,
        ctx: { delivered: false },
        expect: { phase: 'Pending', reason: 'NotDelivered', message: 'waiting for the parent Kustomization to apply the commit', revision: '6.5.4', matchesPushed: undefined },
      },
      { name: 'delivered=true, Ready → Ready', object: readyRepoHr, ctx: { delivered: true }, expect: { phase: 'Ready', reason: 'UpgradeSucceeded', revision: '6.5.4', matchesPushed: undefined } },
      { name: 'delivery unknown → decided from the object (Ready)', object: readyRepoHr, expect: { phase: 'Ready' } },
      {
        name: 'delivered, new generation not yet attempted → Progressing/ObservedGenerationOutdated',
        object: repoHr({ lastAttemptedRevision: '6.5.4', lastAttemptedGeneration: 1, conditions: [upgraded('6.5.4', 1)], observedGeneration: 1 }, { generation: 2 }),
        ctx: { delivered: true },
        expect: { phase: 'Progressing', reason: 'ObservedGenerationOutdated' },
      },
      {
        name: 'delivered, upgrade of the new generation failed, observedGeneration lagging → Failed',
        object: repoHr(
          {
            lastAttemptedRevision: '6.5.5',
            lastAttemptedGeneration: 2,
            conditions: [reconciling('ProgressingWithRetry', 'retrying after 5m0s', 2), ready('False', 'UpgradeFailed', 'Helm upgrade failed for release apps/web with chart podinfo@6.5.5: timed out waiting for the condition', 2)],
            observedGeneration: 1,
          },
          { generation: 2 },
        ),
        ctx: { delivered: true },
        expect: { phase: 'Failed', reason: 'UpgradeFailed', revision: '6.5.5' },
      },
      {
        name: 'install failed (no Reconciling condition) → Failed',
        object: repoHr({ lastAttemptedRevision: '6.5.4', lastAttemptedGeneration: 1, conditions: [ready('False', 'InstallFailed', 'Helm install failed for release apps/web with chart podinfo@6.5.4: x')], observedGeneration: 1 }),
        ctx: { delivered: true },
        expect: { phase: 'Failed', reason: 'InstallFailed' },
      },
      {
        name: 'rolled back after a failed upgrade → Failed with the upgrade reason',
        object: repoHr({
          lastAttemptedRevision: '6.5.5',
          lastAttemptedGeneration: 1,
          conditions: [
            ready('False', 'RollbackSucceeded', 'Helm rollback to previous release apps/web.v3 with chart podinfo@6.5.4 succeeded'),
            cond('Released', 'False', 'UpgradeFailed', 'Helm upgrade failed for release apps/web with chart podinfo@6.5.5: boom'),
            cond('Remediated', 'True', 'RollbackSucceeded', 'Helm rollback to previous release apps/web.v3 with chart podinfo@6.5.4 succeeded'),
          ],
          observedGeneration: 1,
        }),
        ctx: { delivered: true },
        expect: {
          phase: 'Failed',
          reason: 'UpgradeFailed',
          message: 'Helm upgrade failed for release apps/web with chart podinfo@6.5.5: boom\n(remediation: Helm rollback to previous release apps/web.v3 with chart podinfo@6.5.4 succeeded)',
        },
      },
      {
        name: 'tests failed (TestSuccess=False) → Failed',
        object: repoHr({ lastAttemptedRevision: '6.5.4', lastAttemptedGeneration: 1, conditions: [ready('False', 'TestFailed', 'Helm test failed for release apps/web with chart podinfo@6.5.4: 1 error occurred'), cond('TestSuccess', 'False', 'TestFailed', 'x')], observedGeneration: 1 }),
        ctx: { delivered: true },
        expect: { phase: 'Failed', reason: 'TestFailed' },
      },
      {
        name: 'values Secret missing while fulfilling prerequisites → Progressing with the ValuesError explanation',
        object: repoHr({ conditions: [reconciling('Progressing', 'Fulfilling prerequisites'), ready('False', 'ValuesError', "could not resolve Secret chart values reference 'apps/web-values' with key 'values.yaml'")], observedGeneration: 1 }),
        ctx: { delivered: true },
        expect: { phase: 'Progressing', reason: 'ValuesError' },
      },
      {
        name: 'HelmChart not ready (SourceNotReady) → Waiting on the chart',
        object: repoHr({ conditions: [reconciling('Progressing', 'Fulfilling prerequisites'), ready('False', 'SourceNotReady', "HelmChart 'flux-system/apps-web' is not ready: latest generation of object has not been reconciled")], observedGeneration: 1 }),
        ctx: { delivered: true },
        expect: { phase: 'Waiting', reason: 'SourceNotReady', blockers: ['flux-system/apps-web'] },
      },
      {
        name: 'DependencyNotReady, delivered → Waiting',
        object: repoHr({ conditions: [reconciling('Progressing', 'Fulfilling prerequisites'), ready('False', 'DependencyNotReady', "dependency 'apps/postgres' is not ready")], observedGeneration: 1 }),
        ctx: { delivered: true },
        expect: { phase: 'Waiting', blockers: ['apps/postgres'] },
      },
      {
        name: 'chart from an OCIRepository: `+<12hex>` is the OCI digest, not a commit → generic',
        object: hr(
          { lastAttemptedRevision: `6.5.4+${DIGEST.slice(0, 12)}`, lastAttemptedRevisionDigest: `sha256:${DIGEST}`, lastAttemptedGeneration: 1, conditions: [upgraded('6.5.4')], observedGeneration: 1 },
          {},
          { chartRef: { kind: 'OCIRepository', name: 'podinfo' } },
        ),
        ctx: { delivered: false },
        expect: { phase: 'Pending', reason: 'NotDelivered' },
      },
      {
        name: 'chart from a CI-built OCIRepository whose digest the engine maps to the pushed commit → Ready',
        object: hr(
          {
            lastAttemptedRevision: `6.5.4+${DIGEST.slice(0, 12)}`,
            lastAttemptedRevisionDigest: `latest@sha256:${DIGEST}`,
            lastAttemptedGeneration: 1,
            history: [{ ...historyEntry(`6.5.4+${DIGEST.slice(0, 12)}`, 'deployed', 2), ociDigest: `latest@sha256:${DIGEST}` }],
            conditions: [upgraded('6.5.4')],
            observedGeneration: 1,
          },
          {},
          { chartRef: { kind: 'OCIRepository', name: 'podinfo' } },
        ),
        ctx: { origins: new Map([[`sha256:${DIGEST}`, gitRev(PUSHED)]]) },
        expect: { phase: 'Ready', revision: gitRev(PUSHED), matchesPushed: true },
      },
      {
        name: 'chart from a CI-built OCIRepository still at the artifact of an older commit → Pending/NotApplied',
        object: hr(
          {
            lastAttemptedRevision: `6.5.4+${DIGEST.slice(0, 12)}`,
            lastAttemptedRevisionDigest: `sha256:${DIGEST}`,
            lastAttemptedGeneration: 1,
            history: [{ ...historyEntry(`6.5.4+${DIGEST.slice(0, 12)}`, 'deployed', 2), ociDigest: `sha256:${DIGEST}` }],
            conditions: [upgraded('6.5.4')],
            observedGeneration: 1,
          },
          {},
          { chartRef: { kind: 'OCIRepository', name: 'podinfo' } },
        ),
        ctx: { origins: new Map([[`sha256:${DIGEST}`, gitRev(OLD)]]) },
        expect: { phase: 'Pending', reason: 'NotApplied', matchesPushed: false },
      },
      {
        name: 'chart from a Bucket → generic',
        object: hr({ lastAttemptedRevision: `0.1.0+${DIGEST.slice(0, 12)}`, conditions: [upgraded('x')], observedGeneration: 1 }, {}, { chart: { spec: { chart: './web', sourceRef: { kind: 'Bucket', name: 'b' } } } }),
        ctx: { delivered: true },
        expect: { phase: 'Ready', matchesPushed: undefined },
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('parseBlockers', () => {
  it.each([
    ["dependency 'flux-system/infra' is not ready", ['flux-system/infra']],
    ["dependency 'flux-system/infra' is not ready according to readyExpr eval", ['flux-system/infra']],
    ["dependency 'flux-system/crds' revision is not up to date", ['flux-system/crds']],
    ["dependency 'apps/db' not found: Kustomization.kustomize.toolkit.fluxcd.io \"db\" not found", ['apps/db']],
    ["unable to get 'flux-system/apps' dependency: Kustomization.kustomize.toolkit.fluxcd.io \"apps\" not found", ['flux-system/apps']],
    ["dependencies not ready: 'flux-system/infra', 'flux-system/crds' and \"monitoring/prometheus\"", ['flux-system/infra', 'flux-system/crds', 'monitoring/prometheus']],
    ['dependency flux-system/infra is not ready', ['flux-system/infra']],
    ['dependency flux-system/infra. retrying in 30s', ['flux-system/infra']],
    ["dependency 'team-a/app.v1' is not ready", ['team-a/app.v1']],
    ["dependency 'flux-system/infra' is not ready; dependency 'flux-system/infra' is not ready", ['flux-system/infra']],
    ['no dependency named here', []],
    ['', []],
  ])('%j → %j', (msg, want) => {
    expect(parseBlockers(msg)).toEqual(want);
  });

  it('stays fast and bounded on a huge hostile message', () => {
    const msg = "'a/b' ".repeat(200_000) + "'z/z'";
    expect(parseBlockers(msg)).toEqual(['a/b']);
  });
});

// Shapes observed with the real controllers (test/fixtures/transcripts, source-controller v1.9.6,
// kustomize-controller v1.9.6, helm-controller v1.6.2): each case here failed before the fix it names.
describe('computeStatus: verdicts that match real Flux', () => {
  it('Kustomization whose path the commit removed: Failed at once, though lastAttemptedRevision stays on the previous commit', () => {
    const o = ks({
      observedGeneration: 1,
      lastAttemptedRevision: gitRev(OLD),
      lastAppliedRevision: gitRev(OLD),
      conditions: [
        reconciling('ProgressingWithRetry', `Fetching manifests for revision ${gitRev(PUSHED)} with a timeout of 30s`),
        ready('False', 'ArtifactFailed', 'kustomization path not found: stat /tmp/kustomization-1234/apps: no such file or directory'),
      ],
    });
    expect(computeStatus(o, pushed)).toMatchObject({ phase: 'Failed', reason: 'ArtifactFailed', matchesPushed: true });
  });

  it('…while the attempt at the pushed commit is still running (reason Progressing), it is Progressing', () => {
    const o = ks({
      observedGeneration: 1,
      lastAttemptedRevision: gitRev(OLD),
      lastAppliedRevision: gitRev(OLD),
      conditions: [reconciling('Progressing', `Fetching manifests for revision ${gitRev(PUSHED)} with a timeout of 30s`), ready('Unknown', 'Progressing', 'Reconciliation in progress')],
    });
    expect(computeStatus(o, pushed).phase).toBe('Progressing');
  });

  it('…and a retry of an older commit\'s failure is not blamed on the pushed commit', () => {
    const o = ks({
      observedGeneration: 1,
      lastAttemptedRevision: gitRev(OLD),
      lastAppliedRevision: gitRev(OLD),
      conditions: [reconciling('ProgressingWithRetry', `Fetching manifests for revision ${gitRev(OLD)} with a timeout of 30s`), ready('False', 'BuildFailed', 'kustomize build failed')],
    });
    expect(computeStatus(o, pushed)).toMatchObject({ phase: 'Pending', reason: 'NotApplied' });
  });

  it('HelmRelease upgrade failed: Failed at once, although helm-controller leaves Reconciling=True reason Progressing', () => {
    const o = hr({
      observedGeneration: 1,
      lastAttemptedGeneration: 1,
      lastAttemptedRevision: chartRev(PUSHED),
      failures: 1,
      history: [historyEntry(chartRev(OLD), 'deployed', 1)],
      conditions: [
        reconciling('Progressing', "Running 'upgrade' action with timeout of 5m0s"),
        ready('False', 'UpgradeFailed', 'Helm upgrade failed for release apps/web with chart web@0.1.0: execution error'),
        cond('Released', 'False', 'UpgradeFailed', 'Helm upgrade failed'),
      ],
    });
    expect(computeStatus(o, pushed)).toMatchObject({ phase: 'Failed', reason: 'UpgradeFailed' });
  });

  it('HelmRelease Stalled (RetriesExceeded) on an older chart when the fix is pushed: Pending, never Stalled', () => {
    const o = hr({
      observedGeneration: 1,
      lastAttemptedGeneration: 1,
      lastAttemptedRevision: chartRev(OLD),
      history: [historyEntry(chartRev(OLD), 'failed', 2)],
      conditions: [stalled('RetriesExceeded', 'Failed to upgrade after 1 attempt(s)'), ready('False', 'UpgradeFailed', 'Helm upgrade failed')],
    });
    expect(computeStatus(o, pushed)).toMatchObject({ phase: 'Pending' });
  });

  it('any "…NotReady" reason (HelmChartNotReady of older helm-controllers) is Waiting, not Failed', () => {
    const o = hr({ observedGeneration: 1, conditions: [ready('False', 'HelmChartNotReady', "HelmChart 'flux-system/apps-web' is not ready")] }, {}, repoChartSpec);
    expect(computeStatus(o, pushed, { delivered: true })).toMatchObject({ phase: 'Waiting', blockers: ['flux-system/apps-web'] });
  });
});
