// Pure builders of Flux status shapes (source-controller, kustomize-controller, helm-controller), shared by
// setupScenario (steady state) and the FluxPlayer (live transitions). Messages follow the controllers' formats.
import { createHash } from 'node:crypto';
import type { Condition, KubeObject } from '../core/types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Status = Record<string, any>;

export function isoNow(now = Date.now()): string {
  return new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A deterministic 40-hex "commit" for repositories nobody pushes to in a scenario. */
export function fakeSha(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

export function gitRevision(ref: { branch?: string; tag?: string } | undefined, sha: string): string {
  if (ref?.tag) return `${ref.tag}@sha1:${sha}`;
  return `${ref?.branch ?? 'master'}@sha1:${sha}`;
}

/** The commit sha in a Flux revision (`main@sha1:<sha>`, `sha1:<sha>`, legacy `main/<sha>`). */
export function shaOfRevision(rev: string | undefined): string | undefined {
  if (!rev) return undefined;
  const m = rev.match(/sha1:([0-9a-f]{7,40})$/) ?? rev.match(/\/([0-9a-f]{40})$/);
  return m?.[1];
}

/** Go's time.Duration formatting of a Flux duration string: `5m` → `5m0s`, `1h` → `1h0m0s`, `90s` → `1m30s`. */
export function goDuration(d: string | undefined, fallback = '5m'): string {
  return goDurationOfSeconds(durationSeconds(d) ?? durationSeconds(fallback) ?? 300);
}

/** Seconds in a Flux duration string (`1h2m3.5s`), or undefined when it does not parse. */
export function durationSeconds(d: string | undefined): number | undefined {
  if (!d || !/^(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$/.test(d)) return undefined;
  const h = Number(d.match(/(\d+)h/)?.[1] ?? 0);
  const m = Number(d.match(/(\d+)m(?!s)/)?.[1] ?? 0);
  const sec = Number(d.match(/(\d+(?:\.\d+)?)s/)?.[1] ?? 0);
  return h * 3600 + m * 60 + sec;
}

/** Go's time.Duration formatting of whole seconds: 30 → `30s`, 570 → `9m30s`, 3600 → `1h0m0s`. */
export function goDurationOfSeconds(total: number): string {
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = Number((total % 60).toFixed(3));
  if (h) return `${h}h${m}m${sec}s`;
  if (m) return `${m}m${sec}s`;
  return `${sec}s`;
}

/** Seconds as Go prints a duration, e.g. 2.31s. */
export function goSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2).replace(/\.?0+$/, '')}s`;
}

export function requestedAt(obj: KubeObject): string | undefined {
  return obj.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
}

/** Sets a condition (metav1 semantics: lastTransitionTime only moves when the status changes). */
export function setCondition(conds: Condition[] | undefined, c: Omit<Condition, 'lastTransitionTime'>, now = Date.now()): Condition[] {
  const list = [...(conds ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: c.type,
    status: c.status,
    observedGeneration: c.observedGeneration,
    lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : isoNow(now),
    reason: c.reason,
    message: c.message,
  };
  if (next.observedGeneration === undefined) delete next.observedGeneration;
  if (i >= 0) list[i] = next;
  else if (c.type === 'Ready') list.unshift(next);
  else list.push(next);
  return list;
}

export function removeCondition(conds: Condition[] | undefined, type: string): Condition[] {
  return (conds ?? []).filter((c) => c.type !== type);
}

export function getCondition(obj: KubeObject | undefined, type: string): Condition | undefined {
  return (obj?.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
}

export function isReady(obj: KubeObject | undefined): boolean {
  return getCondition(obj, 'Ready')?.status === 'True';
}

type Cond = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/** Applies condition changes (undefined = remove) to a status, stamping observedGeneration on each. */
export function withConditions(status: Status | undefined, gen: number, changes: Record<string, Cond | undefined>, now = Date.now()): Status {
  let conds = (status?.conditions as Condition[] | undefined) ?? [];
  for (const [type, c] of Object.entries(changes)) {
    conds = c ? setCondition(conds, { ...c, type, observedGeneration: gen }, now) : removeCondition(conds, type);
  }
  return { ...(status ?? {}), conditions: conds };
}

function gen(obj: KubeObject): number {
  return obj.metadata.generation ?? 1;
}

function artifact(kind: string, obj: KubeObject, file: string, revision: string, now: number): Status {
  const dir = `${kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
  return {
    digest: `sha256:${sha256(`${dir}/${revision}`)}`,
    lastUpdateTime: isoNow(now),
    path: `${dir}/${file}`,
    revision,
    size: 1024 + (parseInt(sha256(revision).slice(0, 4), 16) % 50_000),
    url: `http://source-controller.flux-system.svc.cluster.local./${dir}/${file}`,
  };
}

// ------------------------------------------------------------------------------------------------ sources

export const git = {
  /**
   * source-controller persists the start of a reconciliation only for a new generation or a reconcile request
   * ("processing object: new generation 1 -> 2" / "reconciliation in progress"): Reconciling=True, and Ready
   * becomes Unknown only when it is missing or already Unknown (Ready=True stays True meanwhile).
   */
  started(obj: KubeObject, message: string, now = Date.now()): Status {
    const ready = getCondition(obj, 'Ready');
    const changes: Record<string, Cond | undefined> = {
      Stalled: undefined,
      Reconciling: { type: 'Reconciling', status: 'True', reason: 'Progressing', message },
    };
    if (!ready || ready.status === 'Unknown') changes.Ready = { type: 'Ready', status: 'Unknown', reason: 'Progressing', message };
    return withConditions(obj.status, gen(obj), changes, now);
  },
  /** The message source-controller starts every reconciliation with (persisted or not). */
  startMessage(obj: KubeObject): string {
    const g = gen(obj);
    const og = obj.status?.observedGeneration ?? -1;
    return g !== og ? `processing object: new generation ${og} -> ${g}` : 'reconciliation in progress';
  },
  /** A new upstream revision: Ready=Unknown and Reconciling=True, both "building artifact: new upstream revision '<rev>'". */
  progressing(obj: KubeObject, revision: string, now = Date.now()): Status {
    const msg = `building artifact: new upstream revision '${revision}'`;
    return withConditions(obj.status, gen(obj), {
      Reconciling: { type: 'Reconciling', status: 'True', reason: 'Progressing', message: msg },
      Ready: { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: msg },
    }, now);
  },
  ready(obj: KubeObject, revision: string, now = Date.now(), handled?: string): Status {
    const msg = `stored artifact for revision '${revision}'`;
    const s = withConditions(obj.status, gen(obj), {
      Reconciling: undefined,
      FetchFailed: undefined,
      Ready: { type: 'Ready', status: 'True', reason: 'Succeeded', message: msg },
      ArtifactInStorage: { type: 'ArtifactInStorage', status: 'True', reason: 'Succeeded', message: msg },
    }, now);
    const sha = shaOfRevision(revision) ?? 'unknown';
    const same = obj.status?.artifact?.revision === revision;
    s.artifact = same ? obj.status!.artifact : artifact('gitrepository', obj, `${sha}.tar.gz`, revision, now);
    s.observedGeneration = gen(obj);
    if (handled !== undefined) s.lastHandledReconcileAt = handled;
    return s;
  },
  /**
   * A failed fetch: Ready=False and FetchFailed=True with the error; Reconciling=True turns ProgressingWithRetry
   * and keeps the message the reconciliation started with ("reconciliation in progress"), as source-controller does.
   */
  failed(obj: KubeObject, reason: string, message: string, now = Date.now(), handled?: string): Status {
    const rec = getCondition(obj, 'Reconciling');
    const recMessage = rec?.status === 'True' && rec.message ? rec.message : git.startMessage(obj);
    const s = withConditions(obj.status, gen(obj), {
      Reconciling: { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry', message: recMessage },
      Ready: { type: 'Ready', status: 'False', reason, message },
      FetchFailed: { type: 'FetchFailed', status: 'True', reason, message },
    }, now);
    if (handled !== undefined) s.lastHandledReconcileAt = handled;
    return s;
  },
};

/** HelmRepository (HTTP or OCI), OCIRepository, Bucket: steady Ready with an artifact. */
export function simpleSourceReady(obj: KubeObject, now = Date.now(), handled?: string): Status {
  const kind = obj.kind;
  let s: Status;
  if (kind === 'HelmRepository' && obj.spec?.type === 'oci') {
    s = withConditions(obj.status, gen(obj), { Ready: { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'Helm repository is Ready' } }, now);
  } else if (kind === 'OCIRepository') {
    const tag = obj.spec?.ref?.tag ?? 'latest';
    const revision = `${tag}@sha256:${sha256(`${obj.spec?.url}:${tag}:${gen(obj)}`)}`;
    const msg = `stored artifact for digest '${revision}'`;
    s = withConditions(obj.status, gen(obj), {
      Reconciling: undefined,
      Ready: { type: 'Ready', status: 'True', reason: 'Succeeded', message: msg },
      ArtifactInStorage: { type: 'ArtifactInStorage', status: 'True', reason: 'Succeeded', message: msg },
    }, now);
    s.artifact = obj.status?.artifact?.revision === revision ? obj.status.artifact : artifact('ocirepository', obj, `${sha256(revision).slice(0, 12)}.tar.gz`, revision, now);
  } else {
    const revision = `sha256:${sha256(`${kind}:${obj.spec?.url ?? obj.spec?.bucketName}:${gen(obj)}`)}`;
    const msg = `stored artifact: revision '${revision}'`;
    s = withConditions(obj.status, gen(obj), {
      Reconciling: undefined,
      Ready: { type: 'Ready', status: 'True', reason: 'Succeeded', message: msg },
      ArtifactInStorage: { type: 'ArtifactInStorage', status: 'True', reason: 'Succeeded', message: msg },
    }, now);
    const file = kind === 'HelmRepository' ? `index-${revision.slice(7, 19)}.yaml` : `${revision.slice(7, 19)}.tar.gz`;
    s.artifact = obj.status?.artifact?.revision === revision ? obj.status.artifact : artifact(kind.toLowerCase(), obj, file, revision, now);
    if (kind === 'HelmRepository') s.url = `http://source-controller.flux-system.svc.cluster.local./helmrepository/${obj.metadata.namespace}/${obj.metadata.name}/index.yaml`;
  }
  s.observedGeneration = gen(obj);
  if (handled !== undefined) s.lastHandledReconcileAt = handled;
  return s;
}

/** HelmChart being rebuilt at `version`: Ready=Unknown and Reconciling=True "building artifact: packaged|pulled '<chart>' chart with version '<v>'". */
export function helmChartProgressing(obj: KubeObject, version: string, now = Date.now()): Status {
  const chart = String(obj.spec?.chart ?? 'chart').replace(/^.*\//, '');
  const fromGit = obj.spec?.sourceRef?.kind === 'GitRepository' || obj.spec?.sourceRef?.kind === 'Bucket';
  const msg = `building artifact: ${fromGit ? 'packaged' : 'pulled'} '${chart}' chart with version '${version}'`;
  return withConditions(obj.status, gen(obj), {
    Reconciling: { type: 'Reconciling', status: 'True', reason: 'Progressing', message: msg },
    Ready: { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: msg },
  }, now);
}

/** HelmChart made by helm-controller for a HelmRelease with chart.spec, after pulling/packaging `version`. */
export function helmChartReady(obj: KubeObject, version: string, sourceRevision: string | undefined, now = Date.now()): Status {
  const chart = String(obj.spec?.chart ?? 'chart').replace(/^.*\//, '');
  const fromGit = obj.spec?.sourceRef?.kind === 'GitRepository' || obj.spec?.sourceRef?.kind === 'Bucket';
  const msg = fromGit ? `packaged '${chart}' chart with version '${version}'` : `pulled '${chart}' chart with version '${version}'`;
  const reason = fromGit ? 'ChartPackageSucceeded' : 'ChartPullSucceeded';
  const s = withConditions(obj.status, gen(obj), {
    Reconciling: undefined,
    Ready: { type: 'Ready', status: 'True', reason, message: msg },
    ArtifactInStorage: { type: 'ArtifactInStorage', status: 'True', reason, message: msg },
  }, now);
  s.observedGeneration = gen(obj);
  s.observedChartName = chart;
  if (sourceRevision) s.observedSourceArtifactRevision = sourceRevision;
  s.artifact = obj.status?.artifact?.revision === version ? obj.status.artifact : artifact('helmchart', obj, `${chart}-${version}.tgz`, version, now);
  s.url = `http://source-controller.flux-system.svc.cluster.local./helmchart/${obj.metadata.namespace}/${obj.metadata.name}/latest.tar.gz`;
  return s;
}

// ------------------------------------------------------------------------------------------------ Kustomization

export interface InventoryEntry {
  id: string;
  v: string;
}

/** `<namespace>_<name>_<group>_<kind>` as kustomize-controller records it (cluster-scoped: empty namespace). */
export function inventoryId(o: { apiVersion: string; kind: string; name: string; namespace?: string }): InventoryEntry {
  const slash = o.apiVersion.lastIndexOf('/');
  const group = slash >= 0 ? o.apiVersion.slice(0, slash) : '';
  const v = slash >= 0 ? o.apiVersion.slice(slash + 1) : o.apiVersion;
  return { id: `${o.namespace ?? ''}_${o.name}_${group}_${o.kind}`, v };
}

export type KsStep = 'fetch' | 'build' | 'drift' | 'health';

/** Dependencies not ready (or source missing), for Kustomizations and HelmReleases: Ready False, nothing else changes. */
function waitingStatus(obj: KubeObject, reason: string, message: string, handled?: string, now = Date.now()): Status {
  const s = withConditions(obj.status, gen(obj), { Ready: { type: 'Ready', status: 'False', reason, message } }, now);
  if (handled !== undefined) s.lastHandledReconcileAt = handled;
  return s;
}

export const ks = {
  /** Kustomization.GetTimeout(): spec.timeout, else the interval minus 30 s; never under 30 s. */
  timeout(obj: KubeObject): string {
    const timeout = durationSeconds(obj.spec?.timeout);
    const interval = durationSeconds(obj.spec?.interval) ?? 600;
    return goDurationOfSeconds(Math.max(30, timeout ?? interval - 30));
  },
  progressing(obj: KubeObject, step: KsStep, revision: string, now = Date.now()): Status {
    const t = ks.timeout(obj);
    const verb = { fetch: 'Fetching manifests', build: 'Building manifests', drift: 'Detecting drift', health: 'Running health checks' }[step];
    const msg = `${verb} for revision ${revision} with a timeout of ${t}`;
    const changes: Record<string, Cond | undefined> = { Reconciling: { type: 'Reconciling', status: 'True', reason: 'Progressing', message: msg } };
    if (step === 'fetch') changes.Ready = { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Reconciliation in progress' };
    if (step === 'health') changes.Healthy = { type: 'Healthy', status: 'Unknown', reason: 'Progressing', message: msg };
    const s = withConditions(obj.status, gen(obj), changes, now);
    if (step !== 'fetch') s.lastAttemptedRevision = revision;
    return s;
  },
  ready(
    obj: KubeObject,
    revision: string,
    opts: { inventory?: InventoryEntry[]; healthMs?: number; handled?: string; durationMs?: number },
    now = Date.now(),
  ): Status {
    const changes: Record<string, Cond | undefined> = {
      Reconciling: undefined,
      Stalled: undefined,
      Ready: { type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: `Applied revision: ${revision}` },
    };
    if (opts.healthMs !== undefined) changes.Healthy = { type: 'Healthy', status: 'True', reason: 'Succeeded', message: `Health check passed in ${goSeconds(opts.healthMs)}` };
    const s = withConditions(obj.status, gen(obj), changes, now);
    s.observedGeneration = gen(obj);
    s.lastAttemptedRevision = revision;
    s.lastAppliedRevision = revision;
    if (opts.inventory) s.inventory = { entries: [...opts.inventory].sort((a, b) => a.id.localeCompare(b.id)) };
    if (opts.handled !== undefined) s.lastHandledReconcileAt = opts.handled;
    s.history = ksHistory(obj.status?.history, revision, 'ReconciliationSucceeded', opts.durationMs ?? 1000, now);
    return s;
  },
  /**
   * Failure: Ready False; Reconciling kept (message of the step that failed) with reason ProgressingWithRetry;
   * observedGeneration not advanced. History records only failures after the build (apply, prune, health checks).
   */
  failed(obj: KubeObject, reason: string, message: string, opts: { revision?: string; handled?: string; inventory?: InventoryEntry[]; health?: boolean }, now = Date.now()): Status {
    const cur = getCondition(obj, 'Reconciling');
    const changes: Record<string, Cond | undefined> = {
      Ready: { type: 'Ready', status: 'False', reason, message },
      Reconciling: { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry', message: cur?.message ?? message },
    };
    if (opts.health) changes.Healthy = { type: 'Healthy', status: 'False', reason: 'HealthCheckFailed', message };
    const s = withConditions(obj.status, gen(obj), changes, now);
    if (opts.revision) {
      s.lastAttemptedRevision = opts.revision;
      if (KS_HISTORY_REASONS.has(reason)) s.history = ksHistory(obj.status?.history, opts.revision, reason, 1000, now);
    }
    if (opts.inventory) s.inventory = { entries: [...opts.inventory].sort((a, b) => a.id.localeCompare(b.id)) };
    if (opts.handled !== undefined) s.lastHandledReconcileAt = opts.handled;
    return s;
  },
  waiting: waitingStatus,
};

/** Failures kustomize-controller records in status.history (those after the build). */
const KS_HISTORY_REASONS = new Set(['ReconciliationFailed', 'PruneFailed', 'HealthCheckFailed']);

function ksHistory(prev: Status[] | undefined, revision: string, status: string, durationMs: number, now: number): Status[] {
  const list = [...(prev ?? [])];
  const digest = `sha256:${sha256(revision)}`;
  const i = list.findIndex((h) => h.digest === digest);
  const at = isoNow(now);
  const entry: Status = i >= 0 ? { ...list[i] } : { digest, firstReconciled: at, totalReconciliations: 0, metadata: { revision } };
  entry.lastReconciled = at;
  entry.lastReconciledDuration = goSeconds(durationMs);
  entry.lastReconciledStatus = status;
  entry.totalReconciliations = (entry.totalReconciliations ?? 0) + 1;
  if (i >= 0) list.splice(i, 1);
  return [entry, ...list].slice(0, 5);
}

// ------------------------------------------------------------------------------------------------ HelmRelease

export function releaseName(hr: KubeObject): string {
  if (hr.spec?.releaseName) return String(hr.spec.releaseName);
  return hr.spec?.targetNamespace ? `${hr.spec.targetNamespace}-${hr.metadata.name}` : hr.metadata.name;
}

export function releaseNamespace(hr: KubeObject): string {
  return hr.spec?.targetNamespace ?? hr.metadata.namespace ?? 'default';
}

export function chartName(hr: KubeObject): string {
  return String(hr.spec?.chart?.spec?.chart ?? hr.spec?.chartRef?.name ?? 'chart').replace(/^.*\//, '');
}

export function configDigest(hr: KubeObject): string {
  return `sha256:${sha256(JSON.stringify(hr.spec?.values ?? {}))}`;
}

export type ReleaseAction = 'install' | 'upgrade';

/** `spec.<action>.remediation` as helm-controller reads it (Flux v2 API defaults). */
export interface HrRemediation {
  retries: number;
  /** Remediate the last failure too once retries are exhausted (default: retries > 0). */
  remediateLastFailure: boolean;
  /** upgrade: rollback (default) or uninstall; install: always uninstall. */
  strategy: 'rollback' | 'uninstall';
}

function historyOf(obj: KubeObject): Status[] {
  return ((obj.status?.history as Status[] | undefined) ?? []).map((h) => ({ ...h }));
}

function releaseEntry(obj: KubeObject, version: number, chartVersion: string, status: string, at: string, appVersion?: string): Status {
  const name = releaseName(obj);
  const ns = releaseNamespace(obj);
  const prev = historyOf(obj);
  return {
    appVersion: appVersion ?? chartVersion.replace(/\+.*$/, ''),
    chartName: chartName(obj),
    chartVersion,
    configDigest: configDigest(obj),
    digest: `sha256:${sha256(`${ns}/${name}.v${version}:${chartVersion}:${configDigest(obj)}`)}`,
    firstDeployed: prev[prev.length - 1]?.firstDeployed ?? at,
    lastDeployed: at,
    name,
    namespace: ns,
    status,
    version,
  };
}

function nextReleaseVersion(obj: KubeObject): number {
  return Math.max(0, ...historyOf(obj).map((h) => Number(h.version) || 0)) + 1;
}

/**
 * helm-controller's HelmRelease status, write by write. One reconciliation: `prerequisites` ("Fulfilling
 * prerequisites"), `progressing` ("Running 'upgrade' action…", Ready=Unknown), then the action's outcome:
 * `succeeded` and `inSync`, or `failed` (Reconciling stays True "Running '<action>' action…", reason
 * Progressing) and, when Helm made a failed release, remediation (`remediating`, `rolledBack`) or `stalled`.
 */
export const hr = {
  action(obj: KubeObject): ReleaseAction {
    return (obj.status?.history?.length ?? 0) > 0 ? 'upgrade' : 'install';
  },
  timeout(obj: KubeObject): string {
    return goDuration(obj.spec?.timeout, '5m');
  },
  remediation(obj: KubeObject, action: ReleaseAction): HrRemediation {
    const r = obj.spec?.[action]?.remediation ?? {};
    const retries = typeof r.retries === 'number' ? r.retries : 0;
    return {
      retries,
      remediateLastFailure: typeof r.remediateLastFailure === 'boolean' ? r.remediateLastFailure : retries > 0,
      strategy: action === 'install' || r.strategy === 'uninstall' ? 'uninstall' : 'rollback',
    };
  },
  /** Failures of `action` counted against its remediation retries. */
  failureCount(obj: KubeObject, action: ReleaseAction): number {
    return Number(obj.status?.[action === 'install' ? 'installFailures' : 'upgradeFailures'] ?? 0);
  },
  /** Every reconciliation starts with Reconciling=True "Fulfilling prerequisites" (Stalled goes, Ready stays). */
  prerequisites(obj: KubeObject, now = Date.now()): Status {
    return withConditions(obj.status, gen(obj), {
      Stalled: undefined,
      Reconciling: { type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'Fulfilling prerequisites' },
    }, now);
  },
  /** Before a release action: Ready=Unknown and Reconciling=True "Running '<action>' action with timeout of T"; last attempt fields. */
  progressing(obj: KubeObject, action: ReleaseAction, chartVersion: string, helmChart: string | undefined, now = Date.now()): Status {
    const msg = `Running '${action}' action with timeout of ${hr.timeout(obj)}`;
    const s = withConditions(obj.status, gen(obj), {
      Stalled: undefined,
      Reconciling: { type: 'Reconciling', status: 'True', reason: 'Progressing', message: msg },
      Ready: { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: msg },
    }, now);
    // A new chart or new values reset the failure counts.
    if (obj.status?.lastAttemptedRevision !== chartVersion || obj.status?.lastAttemptedConfigDigest !== configDigest(obj)) {
      delete s.failures;
      delete s.installFailures;
      delete s.upgradeFailures;
    }
    s.lastAttemptedGeneration = gen(obj);
    s.lastAttemptedRevision = chartVersion;
    s.lastAttemptedConfigDigest = configDigest(obj);
    if (helmChart) s.helmChart = helmChart;
    s.storageNamespace = obj.spec?.storageNamespace ?? obj.metadata.namespace;
    return s;
  },
  /** The action made a deployed release: Ready and Released True; Reconciling stays until the release is found in sync. */
  succeeded(obj: KubeObject, action: ReleaseAction, chartVersion: string, opts: { appVersion?: string } = {}, now = Date.now()): Status {
    const version = nextReleaseVersion(obj);
    const Verb = action === 'install' ? 'Install' : 'Upgrade';
    const msg = `Helm ${action} succeeded for release ${releaseNamespace(obj)}/${releaseName(obj)}.v${version} with chart ${chartName(obj)}@${chartVersion}`;
    const s = withConditions(obj.status, gen(obj), {
      Remediated: undefined,
      TestSuccess: undefined,
      Ready: { type: 'Ready', status: 'True', reason: `${Verb}Succeeded`, message: msg },
      Released: { type: 'Released', status: 'True', reason: `${Verb}Succeeded`, message: msg },
    }, now);
    const prev = historyOf(obj).map((h) => (h.status === 'deployed' ? { ...h, status: 'superseded' } : h));
    s.history = [releaseEntry(obj, version, chartVersion, 'deployed', isoNow(now), opts.appVersion), ...prev].slice(0, 5);
    s.lastAttemptedReleaseAction = action;
    return s;
  },
  /** The release is in sync: Reconciling goes, history keeps the current and the previous release. */
  inSync(obj: KubeObject, handled?: string, now = Date.now()): Status {
    const s = withConditions(obj.status, gen(obj), { Reconciling: undefined }, now);
    if (Array.isArray(s.history)) s.history = s.history.slice(0, 2);
    s.observedGeneration = gen(obj);
    if (handled !== undefined) s.lastHandledReconcileAt = handled;
    return s;
  },
  /**
   * The action failed: Ready and Released False "<Verb>Failed"; Reconciling is left as it was ("Running
   * '<action>' action…", reason Progressing). `released`: Helm made a (failed) release, which history records.
   */
  failed(obj: KubeObject, action: ReleaseAction, chartVersion: string, reason: string | undefined, message: string, released: boolean, now = Date.now()): Status {
    const Verb = action === 'install' ? 'Install' : 'Upgrade';
    const r = reason ?? `${Verb}Failed`;
    const msg = `Helm ${action} failed for release ${releaseNamespace(obj)}/${releaseName(obj)} with chart ${chartName(obj)}@${chartVersion}: ${message}`;
    const s = withConditions(obj.status, gen(obj), {
      Remediated: undefined,
      Ready: { type: 'Ready', status: 'False', reason: r, message: msg },
      Released: { type: 'Released', status: 'False', reason: r, message: msg },
    }, now);
    s.failures = Number(obj.status?.failures ?? 0) + 1;
    if (released) {
      s.history = [releaseEntry(obj, nextReleaseVersion(obj), chartVersion, 'failed', isoNow(now)), ...historyOf(obj)].slice(0, 5);
      const field = action === 'install' ? 'installFailures' : 'upgradeFailures';
      s[field] = Number(obj.status?.[field] ?? 0) + 1;
    }
    s.lastAttemptedReleaseAction = action;
    return s;
  },
  /** Remediation starts: Reconciling "Running 'rollback' action…"; history is cut after the release rolled back to. */
  remediating(obj: KubeObject, now = Date.now()): Status {
    const s = withConditions(obj.status, gen(obj), {
      Reconciling: { type: 'Reconciling', status: 'True', reason: 'Progressing', message: `Running 'rollback' action with timeout of ${hr.timeout(obj)}` },
    }, now);
    const h = historyOf(obj);
    const target = h.findIndex((x, i) => i > 0 && x.status === 'deployed');
    if (target > 0) s.history = h.slice(0, target + 1);
    return s;
  },
  /**
   * Rolled back to the previous deployed release: Ready=False RollbackSucceeded, Remediated=True; then either
   * Reconciling=True ProgressingWithRetry (helm-controller retries the upgrade) or, retries exhausted, Stalled.
   */
  rolledBack(obj: KubeObject, exhausted: boolean, now = Date.now()): Status {
    const h = historyOf(obj);
    const target = h.find((x, i) => i > 0 && x.status === 'deployed') ?? h[1];
    const msg = `Helm rollback to previous release ${releaseNamespace(obj)}/${releaseName(obj)}.v${target?.version ?? 1} with chart ${chartName(obj)}@${target?.chartVersion ?? ''} succeeded`;
    const changes: Record<string, Cond | undefined> = {
      Ready: { type: 'Ready', status: 'False', reason: 'RollbackSucceeded', message: msg },
      Remediated: { type: 'Remediated', status: 'True', reason: 'RollbackSucceeded', message: msg },
    };
    if (exhausted) {
      changes.Reconciling = undefined;
      changes.Stalled = { type: 'Stalled', status: 'True', reason: 'RetriesExceeded', message: `Failed to upgrade after ${hr.failureCount(obj, 'upgrade')} attempt(s)` };
    } else {
      changes.Reconciling = { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry', message: msg };
    }
    const s = withConditions(obj.status, gen(obj), changes, now);
    if (target) {
      const at = isoNow(now);
      const entry = { ...releaseEntry(obj, nextReleaseVersion(obj), String(target.chartVersion), 'deployed', at, target.appVersion), configDigest: target.configDigest };
      s.history = [entry, ...h.map((x) => (x === target ? { ...x, status: 'superseded' } : x))].slice(0, 5);
    }
    if (exhausted) s.observedGeneration = gen(obj);
    return s;
  },
  /** Retries exhausted without remediation: Stalled=True RetriesExceeded, Reconciling goes, Ready keeps the failure. */
  stalled(obj: KubeObject, action: ReleaseAction, now = Date.now()): Status {
    const s = withConditions(obj.status, gen(obj), {
      Reconciling: undefined,
      Stalled: { type: 'Stalled', status: 'True', reason: 'RetriesExceeded', message: `Failed to ${action} after ${Math.max(1, hr.failureCount(obj, action))} attempt(s)` },
    }, now);
    s.observedGeneration = gen(obj);
    return s;
  },
  /** The steady state setupScenario writes: one install done (or failed and stalled), in a single write. */
  released(
    obj: KubeObject,
    chartVersion: string,
    outcome: { ok: true } | { ok: false; reason?: string; message: string },
    opts: { appVersion?: string; handled?: string; helmChart?: string },
    now = Date.now(),
  ): Status {
    const action = hr.action(obj);
    const at = (o: KubeObject, s: Status): KubeObject => ({ ...o, status: s });
    let cur = at(obj, hr.progressing(obj, action, chartVersion, opts.helmChart, now));
    if (outcome.ok) {
      cur = at(cur, hr.succeeded(cur, action, chartVersion, opts, now));
      cur = at(cur, hr.inSync(cur, opts.handled, now));
    } else {
      cur = at(cur, hr.failed(cur, action, chartVersion, outcome.reason, outcome.message, true, now));
      cur = at(cur, hr.stalled(cur, action, now));
      if (opts.handled !== undefined) cur.status!.lastHandledReconcileAt = opts.handled;
    }
    const s = cur.status!;
    s.lastAttemptedReleaseAction = action;
    return s;
  },
  waiting: waitingStatus,
};
