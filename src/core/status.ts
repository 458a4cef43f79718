// The phase of one Flux object *for the pushed commit*. Pure and deterministic: no I/O, no clock.
//
// Modelled on kstatus `Compute` (kubernetes-sigs/cli-utils) with Flux-specific corrections:
// - Flux keeps Reconciling=True with reason ProgressingWithRetry after a failure (kstatus says InProgress);
//   here Ready=False for the current generation is Failed unless the controller is visibly still working.
// - Flux advances status.observedGeneration only on success, so a failure of the current generation is
//   recognised by the Ready condition's own observedGeneration (Flux sets it on every condition).
// - The revision fields (artifact, lastAttempted/lastAppliedRevision, chart `+<12hex>` metadata, OCI origin
//   revision) tell whether the controller has seen the pushed commit, a newer one or an older one.
//
// Decision order: deletion → suspension → no conditions → Stalled (current) → kind logic, where revision
// correlation (Superseded, Pending) comes before generation lag, and generation lag before Ready.

import type { ComputeContext, Condition, KubeObject, Phase, PushedRevision, StatusResult } from './types.js';
import { isFluxKind } from './types.js';
import { isNewer, parseRevision, revisionMatches, shortSha } from './revision.js';
import { firstLine, sanitizeText } from './sanitize.js';

/** ComputeContext plus one optional fact the engine may know. */
export interface StatusContext extends ComputeContext {
  /**
   * `false`: the object's revisions come from a source that does not follow the pushed repository/branch, so
   * they cannot name the pushed commit; decide as for an object without commit information (from `delivered`).
   * Default: correlate.
   */
  correlate?: boolean;
}

/** Annotation key of an OCI artifact's git origin (source-controller copies it into artifact metadata). */
export const OCI_REVISION_ANNOTATION = 'org.opencontainers.image.revision';
/** Annotation key of an OCI artifact's source repository (`flux push artifact --source`). */
export const OCI_SOURCE_ANNOTATION = 'org.opencontainers.image.source';

/**
 * Ready=False reasons that mean "an upstream object is not ready yet": DependencyNotReady, SourceNotReady, and
 * every other `…NotReady` reason (older helm-controllers say HelmChartNotReady).
 */
const isWaitingReason = (reason: string | undefined) => !!reason && /NotReady$/.test(reason);
const RETRY_REASON = 'ProgressingWithRetry';
/** Ready=False reasons that mean "a newer reconciliation is about to start", not a failure. */
const TRANSIENT_FAILURE_REASONS = new Set(['HealthCheckCanceled']);
/** helm-controller's Ready reasons for a Helm action that failed (install, upgrade, test, rollback, uninstall). */
const HELM_ACTION_FAILED = /^(Install|Upgrade|Test|Rollback|Uninstall)Failed$/;
/** HelmRelease Ready reasons that report a remediation; the failure itself is on Released/TestSuccess. */
const REMEDIATION_REASONS = new Set(['RollbackSucceeded', 'RollbackFailed', 'UninstallSucceeded', 'UninstallFailed']);

// ---------------------------------------------------------------------------------------------------------
// Small readers (defensive: objects come from the API and may be partial).

function conditions(obj: KubeObject): Condition[] {
  const c: unknown = obj.status?.conditions;
  return Array.isArray(c) ? c.filter((x): x is Condition => !!x && typeof x === 'object' && typeof x.type === 'string') : [];
}

function cond(conds: Condition[], type: string): Condition | undefined {
  return conds.find((c) => c.type === type);
}

const isTrue = (c?: Condition) => c?.status === 'True';
const isFalse = (c?: Condition) => c?.status === 'False';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function generation(obj: KubeObject): number | undefined {
  return num(obj.metadata?.generation);
}

/** status.observedGeneration has caught up with metadata.generation (true when generation is unknown). */
function statusObserved(obj: KubeObject): boolean {
  const g = generation(obj);
  if (g === undefined) return true;
  const og = num(obj.status?.observedGeneration);
  if (og === undefined && obj.kind === 'ExternalArtifact') {
    // ExternalArtifactStatus has no observedGeneration (source-controller api/v1): its producer sets the
    // generation on the conditions, if at all.
    const cg = num(conditions(obj).find((c) => c.type === 'Ready')?.observedGeneration);
    return cg === undefined || cg >= g;
  }
  return og !== undefined && og >= g;
}

/** The condition was written for the current generation (or the whole status was). */
function condCurrent(obj: KubeObject, c: Condition | undefined): boolean {
  if (statusObserved(obj)) return true;
  const g = generation(obj);
  const cg = num(c?.observedGeneration);
  if (cg !== undefined && g !== undefined && cg >= g) return true;
  // helm-controller records the generation of its last attempt.
  const lag = num(obj.status?.lastAttemptedGeneration);
  return obj.kind === 'HelmRelease' && lag !== undefined && g !== undefined && lag >= g;
}

interface Extra {
  revision?: string;
  since?: string;
  blockers?: string[];
  matchesPushed?: boolean;
}

function result(phase: Phase, reason: string | undefined, message: string | undefined, extra: Extra = {}): StatusResult {
  const r: StatusResult = {
    phase,
    reason: firstLine(reason, { maxLength: 128 }) || phase,
    message: sanitizeText(message ?? ''),
  };
  if (extra.revision) r.revision = sanitizeText(extra.revision, { maxLength: 512 });
  if (extra.since) r.since = extra.since;
  if (extra.blockers?.length) r.blockers = extra.blockers;
  if (extra.matchesPushed !== undefined) r.matchesPushed = extra.matchesPushed;
  return r;
}

/** Adds revision facts to a result computed from conditions only. */
function withRevision(r: StatusResult, revision: string | undefined, matchesPushed: boolean | undefined): StatusResult {
  const out = { ...r };
  if (revision) out.revision = sanitizeText(revision, { maxLength: 512 });
  if (matchesPushed !== undefined) out.matchesPushed = matchesPushed;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Dependencies named in Flux messages.

// A Kubernetes `namespace/name` (DNS labels / subdomains), bounded so the scan stays linear.
const NS_NAME = '[a-z0-9](?:[a-z0-9-]{0,62})/[a-z0-9](?:[a-z0-9.-]{0,252})';
const QUOTED_REF = new RegExp(`['"\`‘’“”](${NS_NAME})['"\`‘’“”]`, 'gi');
const BARE_DEP_REF = new RegExp(`\\bdependenc(?:y|ies)[: ]{1,3}(${NS_NAME})(?=[\\s,;:)]|$)`, 'gi');

/**
 * The `namespace/name` dependencies named in a DependencyNotReady (or SourceNotReady) message, e.g.
 * `dependency 'flux-system/infra' is not ready`, `unable to get 'flux-system/apps' dependency: ...`,
 * `dependency 'a/b' revision is not up to date`, or several quoted references in one message.
 */
export function parseBlockers(message: string | undefined): string[] {
  if (!message) return [];
  const text = message.length > 65536 ? message.slice(0, 65536) : message;
  const found = new Set<string>();
  for (const m of text.matchAll(QUOTED_REF)) found.add(m[1]!.replace(/[.-]+$/, ''));
  for (const m of text.matchAll(BARE_DEP_REF)) found.add(m[1]!.replace(/[.-]+$/, ''));
  return [...found];
}

/** A revision named in a Reconciling message ("Fetching manifests for revision R ...", "new upstream revision 'R'"). */
function revisionInMessage(message: string | undefined): string | undefined {
  if (!message) return undefined;
  const m = /\brevision '?([A-Za-z0-9._/@:+-]{1,300})/.exec(message.slice(0, 4096));
  return m?.[1];
}

// ---------------------------------------------------------------------------------------------------------
// Judging the current state from the conditions alone.

/** HelmRelease: after a remediation the failure is on Released/TestSuccess; report that, mention the remediation. */
function failureDetails(obj: KubeObject, conds: Condition[], ready: Condition): { reason?: string; message?: string } {
  if (obj.kind !== 'HelmRelease') return { reason: ready.reason, message: ready.message };
  const remediated = cond(conds, 'Remediated');
  if (!isTrue(remediated) && !REMEDIATION_REASONS.has(ready.reason ?? '')) return { reason: ready.reason, message: ready.message };
  const released = cond(conds, 'Released');
  const tested = cond(conds, 'TestSuccess');
  const cause = isFalse(released) ? released : isFalse(tested) ? tested : undefined;
  if (!cause) return { reason: ready.reason, message: ready.message };
  const note = remediated?.message ?? ready.message;
  return { reason: cause.reason, message: note ? `${cause.message ?? ''}\n(remediation: ${note})` : cause.message };
}

/**
 * Phase of the object's current generation from its conditions: Waiting, Failed, Progressing, Ready or Unknown.
 * (Deletion, suspension, missing conditions and Stalled are handled before.)
 */
function judgeCurrent(obj: KubeObject, conds: Condition[]): StatusResult {
  const ready = cond(conds, 'Ready');
  const rec = cond(conds, 'Reconciling');
  const since = ready?.lastTransitionTime;
  const stalled = cond(conds, 'Stalled');
  if (isTrue(stalled) && condCurrent(obj, stalled)) {
    // Flux's Stalled message is terse ("Failed to upgrade after 1 attempt(s)"): the cause is on Ready.
    const cause = ready && ready.status === 'False' && ready.message && ready.message !== stalled!.message ? `: ${ready.message}` : '';
    return result('Stalled', stalled!.reason || 'Stalled', `${stalled!.message ?? ''}${cause}`, { since: stalled!.lastTransitionTime });
  }

  if (isFalse(ready) && isWaitingReason(ready!.reason)) {
    return result('Waiting', ready!.reason, ready!.message, { since, blockers: parseBlockers(ready!.message) });
  }
  if (isFalse(ready) && condCurrent(obj, ready)) {
    if (TRANSIENT_FAILURE_REASONS.has(ready!.reason ?? '')) return result('Progressing', ready!.reason, ready!.message, { since });
    // Reconciling with a reason other than ProgressingWithRetry: for a Kustomization the controller is still at
    // work and the Ready=False is an intermediate step; kstatus says InProgress and so do we. helm-controller is
    // different: it marks Reconciling=True "Running 'upgrade' action…" (reason Progressing) before an action and
    // leaves it there when the action fails, while Ready=False says how it failed (UpgradeFailed, InstallFailed,
    // TestFailed…). Observed with helm-controller v1.6.2: status.failures grows on every retry and, without
    // remediation, Stalled never comes. Ready=False from a Helm action is the outcome of that action: a failure.
    // Before any action ("Fulfilling prerequisites": ValuesError while a values Secret is not there yet, which
    // another Kustomization of the same push may be about to create) it stays Progressing, as kstatus says.
    if (isTrue(rec) && rec!.reason !== RETRY_REASON && !(obj.kind === 'HelmRelease' && HELM_ACTION_FAILED.test(ready!.reason ?? ''))) {
      return result('Progressing', ready!.reason, ready!.message, { since });
    }
    const d = failureDetails(obj, conds, ready!);
    return result('Failed', d.reason, d.message, { since });
  }
  if (isTrue(rec) || ready?.status === 'Unknown') {
    const c = isTrue(rec) ? rec! : ready!;
    return result('Progressing', c.reason || 'Progressing', c.message || ready?.message || 'reconciliation in progress', {
      since: c.lastTransitionTime,
    });
  }
  if (!statusObserved(obj)) {
    const g = generation(obj);
    const og = num(obj.status?.observedGeneration);
    return result('Progressing', 'ObservedGenerationOutdated', `waiting for the controller to observe generation ${g} (observed ${og ?? 'none'})`);
  }
  if (isTrue(ready)) return result('Ready', ready!.reason || 'Ready', ready!.message, { since });
  return result('Unknown', 'NoReadyCondition', 'the object has no Ready condition');
}

/** Objects whose status carries no commit: decide from what delivered the commit to them, then from the object. */
function judgeGeneric(obj: KubeObject, conds: Condition[], ctx: StatusContext, revision?: string): StatusResult {
  if (ctx.delivered === false) {
    return result('Pending', 'NotDelivered', 'waiting for the parent Kustomization to apply the commit', { revision });
  }
  return withRevision(judgeCurrent(obj, conds), revision, undefined);
}

// ---------------------------------------------------------------------------------------------------------
// Objects whose status names a commit.

function superseded(rev: string): StatusResult {
  return result('Superseded', 'Superseded', `a newer commit was delivered: ${rev}`, { revision: rev, matchesPushed: false });
}

/** What a source whose artifact is at another commit waits for. */
interface SourcePending {
  reason: string;
  message: (shown: string | undefined) => string;
}

const GIT_PENDING = (pushed: PushedRevision): SourcePending => ({
  reason: 'NotFetched',
  message: (shown) => `waiting for source-controller to fetch ${shortSha(pushed.sha)}${shown ? `; the artifact is at ${shown}` : ''}`,
});

/** Reasons of a source that waits for CI to publish the pushed commit's artifact (core/verdict.ts reads them). */
export const CI_WAIT = { awaiting: 'AwaitingArtifact', noOrigin: 'NoOriginRevision', notACommit: 'OriginNotACommit' } as const;
export const CI_WAIT_REASONS: ReadonlySet<string> = new Set(Object.values(CI_WAIT));

/** An artifact built by CI (OCIRepository, ExternalArtifact): between the push and the artifact there is CI. */
const CI_PENDING = (pushed: PushedRevision): SourcePending => ({
  reason: CI_WAIT.awaiting,
  message: (shown) => `waiting for an artifact built from ${shortSha(pushed.sha)}${shown ? `; the artifact is at ${shown}` : ''}`,
});

/** Sources (GitRepository, OCIRepository with an origin revision): one revision, the stored artifact. */
function judgeSource(
  obj: KubeObject,
  conds: Condition[],
  pushed: PushedRevision,
  rev: string | undefined,
  reported?: string,
  pending: SourcePending = GIT_PENDING(pushed),
): StatusResult {
  const shown = reported ?? rev;
  if (rev && isNewer(rev, pushed)) return superseded(shown!);
  const match = revisionMatches(rev, pushed);
  const ready = cond(conds, 'Ready');
  if (match === true) {
    if (!statusObserved(obj)) return withRevision(judgeCurrent(obj, conds), shown, true);
    // The artifact of the pushed commit is stored and served to consumers, whatever later fetches do.
    const message = isTrue(ready)
      ? ready!.message
      : `stored artifact for revision ${shown}${ready?.message ? ` (now: ${ready.message})` : ''}`;
    return result('Ready', isTrue(ready) ? ready!.reason : 'ArtifactStored', message, { revision: shown, since: ready?.lastTransitionTime, matchesPushed: true });
  }
  const now = judgeCurrent(obj, conds);
  if (now.phase === 'Failed' || now.phase === 'Stalled' || now.phase === 'Progressing' || now.phase === 'Waiting') return withRevision(now, shown, match);
  // source-controller writes the end of a fetch in two status updates: first the conditions (Ready=True "stored
  // artifact for revision '<new>'"), then status.artifact. Between the two (recorded in the real-Flux transcripts,
  // e.g. chain-success.json), the artifact is still the old one: the fetch of the pushed commit is done, not to come.
  const stored = storedRevision(ready) ?? storedRevision(cond(conds, 'ArtifactInStorage'));
  if (match === false && isTrue(ready) && stored && revisionMatches(stored, pushed) === true) {
    return result('Progressing', 'StoringArtifact', `storing the artifact of ${stored}`, { revision: stored, matchesPushed: true });
  }
  return result('Pending', pending.reason, pending.message(shown), { revision: shown, matchesPushed: match });
}

/** The revision a source condition says it stored (`stored artifact for revision 'main@sha1:…'`), if any. */
function storedRevision(c: Condition | undefined): string | undefined {
  if (!isTrue(c) || !c!.message) return undefined;
  return /^stored artifact for revision '([^'\s]+@(?:sha1|sha256):[0-9a-f]{7,64})'/.exec(c!.message)?.[1];
}

interface Deployment {
  /** Revision the controller last worked on (lastAttemptedRevision, HelmChart observed source revision). */
  attempted?: string;
  /** Revision it last applied successfully. */
  applied?: string;
  pendingReason: string;
  pendingMessage: string;
}

/**
 * Kustomization, HelmRelease and HelmChart with commit-carrying revisions. Returns undefined when neither
 * revision carries a commit (the caller decides generically).
 */
function judgeDeployment(obj: KubeObject, conds: Condition[], pushed: PushedRevision, ctx: StatusContext, d: Deployment): StatusResult | undefined {
  const { attempted, applied } = d;
  if (applied && isNewer(applied, pushed)) return superseded(applied);
  if (attempted && isNewer(attempted, pushed)) return superseded(attempted);
  const aM = revisionMatches(applied, pushed);
  const tM = revisionMatches(attempted, pushed);
  if (aM === undefined && tM === undefined) return undefined;

  const now = judgeCurrent(obj, conds);
  // The controller checks dependencies before it even looks at the new revision: Waiting whatever the revisions say.
  if (now.phase === 'Waiting') return withRevision(now, attempted ?? applied, tM ?? aM);

  const current = tM !== undefined ? tM : aM;
  if (current === true) {
    // Report the applied revision once Ready (for a HelmChart: the built chart version), else the attempted one.
    const revision = (now.phase === 'Ready' && aM === true) || tM !== true ? applied : attempted;
    if (now.phase === 'Ready' && aM === false) {
      return result('Progressing', 'Progressing', `applying revision ${attempted}`, { revision, matchesPushed: true });
    }
    return withRevision(now, revision, true);
  }
  if (aM === true) {
    // Our commit was applied, then the controller moved on to a commit we were not told about.
    return result('Superseded', 'RevisionChanged', `the pushed commit was applied, then replaced by ${attempted}`, {
      revision: attempted,
      matchesPushed: false,
    });
  }

  // The controller is on another commit. It may already be working on ours: Reconciling names the revision.
  const rec = cond(conds, 'Reconciling');
  const ready = cond(conds, 'Ready');
  const other = attempted ?? applied;
  const recRevision = isTrue(rec) ? revisionInMessage(rec!.message) : undefined;
  if (recRevision && revisionMatches(recRevision, pushed) === true) {
    // It failed before recording the attempt (artifact download, decryption, a missing path, an early build
    // error): kustomize-controller then leaves lastAttemptedRevision on the previous commit and keeps
    // Reconciling=True, reason ProgressingWithRetry, with the message of the attempt ("Fetching manifests for
    // revision <pushed> …"), while Ready=False says why. Observed with kustomize-controller v1.9.6 (a commit
    // that removes the Kustomization's path: Ready=False ArtifactFailed "kustomization path not found: …").
    if (rec!.reason === RETRY_REASON && isFalse(ready) && condCurrent(obj, ready) && !isWaitingReason(ready!.reason)) {
      return result('Failed', ready!.reason, ready!.message, { revision: recRevision, since: ready!.lastTransitionTime, matchesPushed: true });
    }
    return result('Progressing', rec!.reason || 'Progressing', rec!.message, { revision: recRevision, since: rec!.lastTransitionTime, matchesPushed: true });
  }
  // The source has the commit (engine says so) but fetching the artifact failed before the attempt was recorded.
  if (ctx.delivered === true && isFalse(ready) && ready!.reason === 'ArtifactFailed' && condCurrent(obj, ready) && now.phase === 'Failed') {
    return withRevision(now, other, false);
  }
  return result('Pending', d.pendingReason, `${d.pendingMessage}${other ? `; last revision ${other}` : ''}`, { revision: other, matchesPushed: false });
}

/** Normalises an OCI origin revision: `main@sha1:<sha>`, `sha1:<sha>`, a bare full or short sha. */
export function originRevision(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  if (/^[0-9a-f]{7,39}$/i.test(s)) return `sha1:${s}`;
  return s;
}

/** The key of an artifact revision in ComputeContext.origins: `sha256:<hex>` of `<tag>@sha256:<hex>` or `sha256:<hex>`. */
export function artifactDigestKey(rev: string | undefined): string | undefined {
  if (!rev) return undefined;
  const p = parseRevision(rev);
  return p.algo === 'sha256' && p.digest && !p.legacy ? `sha256:${p.digest}` : undefined;
}

/** The origin revision the engine knows for an artifact revision (see ComputeContext.origins). */
function knownOrigin(rev: string | undefined, ctx: StatusContext): string | undefined {
  const key = artifactDigestKey(rev);
  return key ? ctx.origins?.get(key) : undefined;
}

/** Kustomization revisions, using the origin revision for OCI/Bucket-sourced objects. */
function kustomizationRevisions(obj: KubeObject, pushed: PushedRevision, ctx: StatusContext = {}): { attempted?: string; applied?: string } {
  const st = obj.status ?? {};
  const lastAttempted = str(st.lastAttemptedRevision);
  const lastApplied = str(st.lastAppliedRevision);
  const appliedOrigin = originRevision(st.lastAppliedOriginRevision);
  let applied = lastApplied;
  if (revisionMatches(lastApplied, pushed) === undefined && appliedOrigin) applied = appliedOrigin;
  let attempted = lastAttempted;
  if (lastAttempted && revisionMatches(lastAttempted, pushed) === undefined) {
    if (lastAttempted === lastApplied && appliedOrigin) attempted = appliedOrigin;
    else {
      // history[].metadata keeps the origin revision of every recorded attempt.
      const hist: unknown = st.history;
      const entry = Array.isArray(hist) ? hist.find((h) => h?.metadata?.revision === lastAttempted) : undefined;
      const origin = originRevision(entry?.metadata?.originRevision) ?? knownOrigin(lastAttempted, ctx);
      if (origin) attempted = origin;
    }
  }
  if (applied && revisionMatches(applied, pushed) === undefined) applied = knownOrigin(applied, ctx) ?? applied;
  return { attempted, applied };
}

/**
 * The git origin of an OCI artifact (OCIRepository, ExternalArtifact), from what source-controller copies into
 * status.artifact.metadata: the artifact's `org.opencontainers.image.source` and `.revision` annotations
 * (`flux push artifact --source --revision`). An ExternalArtifact may instead name the commit in its own
 * revision (`main@sha1:<sha>`). Empty annotations count as missing (fluxcd/pkg/oci writes both keys, empty
 * when not given).
 */
export function artifactOrigin(obj: KubeObject): { source?: string; revision?: string } {
  const a = obj.status?.artifact;
  const meta = a && typeof a.metadata === 'object' && a.metadata ? a.metadata : {};
  const source = str(meta[OCI_SOURCE_ANNOTATION]);
  let revision = str(meta[OCI_REVISION_ANNOTATION]);
  if (!revision && obj.kind === 'ExternalArtifact') {
    const own = str(a?.revision);
    if (own && parseRevision(own).algo === 'sha1') revision = own;
  }
  return { ...(source ? { source } : {}), ...(revision ? { revision } : {}) };
}

/**
 * OCIRepository and ExternalArtifact. With an origin revision naming a commit: a source whose artifact CI builds
 * (Pending AwaitingArtifact until an artifact of the pushed commit is stored, Superseded by a newer one). With
 * a source annotation but no commit in the revision annotation: Pending, and the message says why. Without any
 * origin: generic.
 */
function judgeArtifact(obj: KubeObject, conds: Condition[], pushed: PushedRevision, ctx: StatusContext, correlate: boolean): StatusResult {
  const artifactRev = str(obj.status?.artifact?.revision);
  const origin = artifactOrigin(obj);
  const rev = originRevision(origin.revision);
  if (!correlate) return judgeGeneric(obj, conds, ctx, artifactRev);
  if (rev && revisionMatches(rev, pushed) !== undefined) return judgeSource(obj, conds, pushed, rev, origin.revision, CI_PENDING(pushed));
  if (!origin.source || !artifactRev) return judgeGeneric(obj, conds, ctx, artifactRev);
  // An artifact of the pushed repository that does not say which commit it was built from.
  const now = judgeCurrent(obj, conds);
  if (now.phase === 'Failed' || now.phase === 'Stalled' || now.phase === 'Progressing' || now.phase === 'Waiting') return withRevision(now, artifactRev, undefined);
  const what = origin.revision
    ? `its ${OCI_REVISION_ANNOTATION} annotation "${origin.revision}" names no commit`
    : `it has no ${OCI_REVISION_ANNOTATION} annotation`;
  return result(
    'Pending',
    origin.revision ? CI_WAIT.notACommit : CI_WAIT.noOrigin,
    `waiting for an artifact built from ${shortSha(pushed.sha)}: the artifact ${artifactRev} comes from ${origin.source} but ${what}, so the commit it was built from is unknown; ` +
      'have CI pass --revision="<branch>@sha1:<commit>" to flux push artifact',
    { revision: artifactRev },
  );
}

/** Whether a HelmRelease's `<version>+<12hex>` chart revisions name a git commit (and not an OCI or Bucket digest). */
function helmReleaseRevisionsAreCommits(obj: KubeObject): boolean {
  const st = obj.status ?? {};
  if (str(st.lastAttemptedRevisionDigest)) return false;
  const chartRefKind = str(obj.spec?.chartRef?.kind);
  if (chartRefKind && chartRefKind !== 'HelmChart') return false;
  const sourceKind = str(obj.spec?.chart?.spec?.sourceRef?.kind);
  if (sourceKind && sourceKind !== 'GitRepository') return false;
  return true;
}

/**
 * A HelmRelease whose chart comes from a CI-built artifact (chartRef to an OCIRepository or ExternalArtifact):
 * helm-controller records the artifact's digest (lastAttemptedRevisionDigest; history[].ociDigest of each
 * release), which the engine maps to the commit the artifact was built from.
 */
function helmReleaseArtifactRevisions(obj: KubeObject, ctx: StatusContext): { attempted?: string; applied?: string } {
  const kind = str(obj.spec?.chartRef?.kind);
  if (kind !== 'OCIRepository' && kind !== 'ExternalArtifact') return {};
  const st = obj.status ?? {};
  const hist: unknown = st.history;
  const deployed = Array.isArray(hist) ? hist.find((h) => h?.status === 'deployed') : undefined;
  return { attempted: knownOrigin(str(st.lastAttemptedRevisionDigest), ctx), applied: knownOrigin(str(deployed?.ociDigest), ctx) };
}

function helmReleaseRevisions(obj: KubeObject): { attempted?: string; applied?: string } {
  const st = obj.status ?? {};
  const hist: unknown = st.history;
  const deployed = Array.isArray(hist) ? hist.find((h) => h?.status === 'deployed') : undefined;
  const applied = str(deployed?.chartVersion);
  const attempted = str(st.lastAttemptedRevision);
  const hasCommit = (r?: string) => !!r && !!parseRevision(r).shortCommit;
  if (!hasCommit(attempted) && !hasCommit(applied)) return {};
  return { attempted: hasCommit(attempted) ? attempted : undefined, applied: hasCommit(applied) ? applied : undefined };
}

function helmChartRevisions(obj: KubeObject, conds: Condition[]): { attempted?: string; applied?: string } {
  const st = obj.status ?? {};
  const observed = str(st.observedSourceArtifactRevision);
  const artifact = str(st.artifact?.revision);
  // reconcileStrategy Revision: the artifact names the commit it was built from (`<version>+<12hex>`).
  if (artifact && parseRevision(artifact).shortCommit) return { attempted: observed, applied: artifact };
  // Otherwise the chart is up to date with the source revision it observed once Ready.
  return { attempted: observed, applied: isTrue(cond(conds, 'Ready')) ? observed : undefined };
}

// ---------------------------------------------------------------------------------------------------------

/**
 * The phase of `obj` for the pushed commit. Pure: the same inputs always give the same result.
 * `ctx.delivered` matters for objects whose status carries no commit; `ctx.correlate === false` makes every
 * object such an object.
 */
export function computeStatus(obj: KubeObject, pushed: PushedRevision, ctx: StatusContext = {}): StatusResult {
  if (!obj || typeof obj !== 'object' || !isFluxKind(obj.kind)) {
    return result('Unknown', 'UnsupportedKind', `flux-monitor does not know kind ${String(obj?.kind ?? '')}`);
  }
  const deletion = str(obj.metadata?.deletionTimestamp);
  if (deletion) return result('Progressing', 'Terminating', 'the object is being deleted', { since: deletion });
  if (obj.spec?.suspend === true) return result('Suspended', 'Suspended', 'reconciliation is suspended (spec.suspend: true)');

  const conds = conditions(obj);
  if (conds.length === 0) {
    if (obj.kind === 'HelmRepository' && obj.spec?.type === 'oci') {
      return result('Ready', 'Static', 'OCI Helm repositories are static: nothing to reconcile');
    }
    return result('Pending', 'NotReconciled', 'waiting for the controller');
  }

  const correlate = ctx.correlate !== false;
  const st = obj.status ?? {};
  switch (obj.kind) {
    case 'GitRepository': {
      const rev = str(st.artifact?.revision);
      if (!correlate) return judgeGeneric(obj, conds, ctx, rev);
      return judgeSource(obj, conds, pushed, rev);
    }
    case 'OCIRepository':
    case 'ExternalArtifact':
      return judgeArtifact(obj, conds, pushed, ctx, correlate);
    case 'HelmChart': {
      const fromGit = obj.spec?.sourceRef?.kind === 'GitRepository';
      const revs = helmChartRevisions(obj, conds);
      const r = correlate && fromGit
        ? judgeDeployment(obj, conds, pushed, ctx, { ...revs, pendingReason: 'NotBuilt', pendingMessage: `waiting for the chart to be built from ${shortSha(pushed.sha)}` })
        : undefined;
      return r ?? judgeGeneric(obj, conds, ctx, str(st.artifact?.revision));
    }
    case 'Kustomization': {
      const revs = kustomizationRevisions(obj, pushed, ctx);
      const r = correlate
        ? judgeDeployment(obj, conds, pushed, ctx, { ...revs, pendingReason: 'NotApplied', pendingMessage: `waiting for the source to deliver ${shortSha(pushed.sha)}` })
        : undefined;
      if (r) return r;
      const generic = judgeGeneric(obj, conds, ctx, str(st.lastAttemptedRevision) ?? str(st.lastAppliedRevision));
      // Its source is the pushed repository's, but what it applied names no commit (an OCI artifact pushed without
      // --revision): Ready says nothing about the push, so it is not "Ready with it" (oci-no-revision.json).
      const rev = revs.applied ?? revs.attempted;
      if (correlate && rev && generic.phase === 'Ready' && ctx.delivered !== true) {
        return result('Pending', 'RevisionUnknown', `applied ${rev}, which names no commit: whether it carries ${shortSha(pushed.sha)} is unknown`, { revision: rev });
      }
      return generic;
    }
    case 'HelmRelease': {
      const revs = !correlate ? {} : helmReleaseRevisionsAreCommits(obj) ? helmReleaseRevisions(obj) : helmReleaseArtifactRevisions(obj, ctx);
      const r = judgeDeployment(obj, conds, pushed, ctx, { ...revs, pendingReason: 'NotApplied', pendingMessage: `waiting for a chart built from ${shortSha(pushed.sha)}` });
      return r ?? judgeGeneric(obj, conds, ctx, str(st.lastAttemptedRevision));
    }
    case 'HelmRepository':
    case 'Bucket':
      return judgeGeneric(obj, conds, ctx, str(st.artifact?.revision));
  }
  return result('Unknown', 'UnsupportedKind', `flux-monitor does not know kind ${obj.kind}`);
}
