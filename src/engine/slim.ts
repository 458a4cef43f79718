// What the monitor keeps of a Flux object from the API: a projection onto the fields something here reads, as a
// new object (a whitelist). At 10,000 objects the objects are most of the monitor's heap, and the API sends much
// that nothing reads (labels, finalizers, managed fields, appliers' intervals, timeouts, release details, inventories of
// thousands of workloads, …). A whitelist also keeps every object of a kind in the same V8 shape, where
// deleting fields from the parsed object turned them into (larger) dictionary-mode objects.
//
// Who reads what (keep this list in step with them; test/unit/slim.test.ts checks that the projection changes
// no verdict and no graph input on the recorded transcripts and the fixtures):
// - computeStatus (src/core/status.ts): metadata.generation, metadata.deletionTimestamp, spec.suspend,
//   spec.type (HelmRepository), spec.sourceRef.kind (HelmChart), spec.chartRef.kind and
//   spec.chart.spec.sourceRef.kind (HelmRelease); status.conditions[] (type, status, reason, message,
//   observedGeneration, lastTransitionTime), status.observedGeneration, status.lastAttemptedGeneration,
//   status.artifact.revision and its metadata's org.opencontainers.image.source/.revision annotations,
//   status.lastAttemptedRevision, lastAppliedRevision, lastAppliedOriginRevision, history[].metadata.revision
//   and .originRevision (Kustomization), lastAttemptedRevisionDigest, history[].status, .chartVersion and
//   .ociDigest (HelmRelease), observedSourceArtifactRevision (HelmChart).
// - the graph (src/engine/graph.ts): metadata.name and .namespace, spec.sourceRef, spec.chart.spec.sourceRef,
//   spec.chartRef, spec.dependsOn[] (kind, name, namespace), status.helmChart, status.inventory.entries[].id
//   (Flux objects only), spec.url and spec.ref (GitRepository: commit, name, semver, tag, branch).
// - the monitor (src/engine/monitor.ts): apiVersion, kind, metadata.resourceVersion, the
//   reconcile.fluxcd.io/requestedAt annotation, status.lastHandledReconcileAt, the Ready condition (failure
//   signatures), status.lastAppliedRevision (delivery by an inventory parent).
// - the waits (src/core/waits.ts): spec.interval (GitRepository, OCIRepository, Bucket, HelmRepository),
//   status.artifact.lastUpdateTime, the conditions' lastTransitionTime and messages (kept above).
// The diagnosis of a failure (src/engine/diagnose.ts) reads the object again from the API, whole.
import type { KubeObject } from '../core/types.js';
import { OCI_REVISION_ANNOTATION, OCI_SOURCE_ANNOTATION } from '../core/status.js';
import { inventoryKey } from '../core/graph.js';

/** The only annotation of a Flux object that is read (a pending `flux reconcile` request). */
export const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

type Rec = Record<string, unknown>;

const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null;

/**
 * One copy of each string value that objects share: JSON.parse makes a new string of every value of every object,
 * and most values repeat across a fleet (API versions, kinds, namespaces, condition types, statuses, reasons and
 * messages, transition times, the revisions of a shared source). Names, resource versions and inventory ids,
 * unique to an object, are not looked up. The table only saves memory, it means nothing: it is emptied when it
 * holds more than INTERN_BUDGET characters, so strings that no object uses any more cannot pile up in it.
 */
const interned = new Map<string, string>();
let internedChars = 0;
const INTERN_BUDGET = 1 << 20;
/** Longer strings (a failure's full message) are rarely shared: kept as they came. */
const INTERN_MAX_LENGTH = 512;

function intern<T>(v: T): T {
  if (typeof v !== 'string' || v.length > INTERN_MAX_LENGTH) return v;
  const hit = interned.get(v);
  if (hit !== undefined) return hit as T;
  if (internedChars + v.length > INTERN_BUDGET) {
    interned.clear();
    internedChars = 0;
  }
  interned.set(v, v);
  internedChars += v.length;
  return v;
}

/**
 * The named fields of `v` that are defined, as a new object (string values interned); anything that is not an
 * object (a malformed field) is returned as it is, so readers see what they saw on the full object.
 */
function pick(v: unknown, fields: readonly string[]): unknown {
  if (!isRec(v)) return v;
  const out: Rec = {};
  for (const f of fields) if (v[f] !== undefined) out[f] = intern(v[f]);
  return out;
}

/** `pick` for each entry of an array; a field that is not an array is dropped (its readers ignore it). */
function pickEach(v: unknown, fields: readonly string[]): unknown[] | undefined {
  return Array.isArray(v) ? v.map((e) => pick(e, fields)) : undefined;
}

/**
 * Sets `out[f]` when `v` is defined (absent fields stay absent, so `'f' in o` and Object.keys are unchanged), a
 * string interned.
 */
function put(out: Rec, f: string, v: unknown): void {
  if (v !== undefined) out[f] = intern(v);
}

const REF = ['kind', 'name', 'namespace'] as const;
const GIT_REF = ['commit', 'name', 'semver', 'tag', 'branch'] as const;
const CONDITION = ['type', 'status', 'reason', 'message', 'observedGeneration', 'lastTransitionTime'] as const;
const OCI_ANNOTATIONS = [OCI_SOURCE_ANNOTATION, OCI_REVISION_ANNOTATION] as const;

function slimMetadata(m: unknown): KubeObject['metadata'] {
  if (!isRec(m)) return m as KubeObject['metadata'];
  const out: Rec = {};
  if (m.name !== undefined) out.name = m.name;
  put(out, 'namespace', m.namespace);
  put(out, 'generation', m.generation);
  if (m.resourceVersion !== undefined) out.resourceVersion = m.resourceVersion;
  put(out, 'deletionTimestamp', m.deletionTimestamp);
  const a = m.annotations;
  if (isRec(a) && a[REQUESTED_AT] !== undefined) out.annotations = { [REQUESTED_AT]: a[REQUESTED_AT] };
  return out as KubeObject['metadata'];
}

function slimSpec(kind: string, s: unknown): unknown {
  if (!isRec(s)) return s;
  const out: Rec = {};
  put(out, 'suspend', s.suspend);
  switch (kind) {
    case 'GitRepository':
      put(out, 'url', s.url);
      put(out, 'ref', pick(s.ref, GIT_REF));
      put(out, 'interval', s.interval);
      break;
    case 'HelmRepository':
      put(out, 'type', s.type);
      put(out, 'interval', s.interval);
      break;
    case 'OCIRepository':
    case 'Bucket':
      put(out, 'interval', s.interval);
      break;
    case 'HelmChart':
      put(out, 'sourceRef', pick(s.sourceRef, REF));
      break;
    case 'Kustomization':
      put(out, 'sourceRef', pick(s.sourceRef, REF));
      put(out, 'dependsOn', pickEach(s.dependsOn, REF));
      break;
    case 'HelmRelease': {
      put(out, 'dependsOn', pickEach(s.dependsOn, REF));
      put(out, 'chartRef', pick(s.chartRef, REF));
      // chart.spec.sourceRef only (chart.spec also holds the chart's name, version, values files, …).
      const chart = s.chart;
      if (isRec(chart)) {
        const c: Rec = {};
        const cs = chart.spec;
        if (isRec(cs)) {
          const spec: Rec = {};
          put(spec, 'sourceRef', pick(cs.sourceRef, REF));
          c.spec = spec;
        } else put(c, 'spec', cs);
        out.chart = c;
      } else put(out, 'chart', chart);
      break;
    }
  }
  return out;
}

function slimArtifact(a: unknown): unknown {
  if (!isRec(a)) return a;
  const out: Rec = {};
  put(out, 'revision', a.revision);
  put(out, 'lastUpdateTime', a.lastUpdateTime);
  put(out, 'metadata', pick(a.metadata, OCI_ANNOTATIONS));
  return out;
}

function slimStatus(kind: string, st: unknown): unknown {
  if (!isRec(st)) return st;
  const out: Rec = {};
  const conds = st.conditions;
  // Readers keep only the entries that are objects with a string type (src/core/status.ts conditions()).
  if (Array.isArray(conds)) out.conditions = conds.filter((c) => isRec(c) && typeof c.type === 'string').map((c) => pick(c, CONDITION));
  put(out, 'observedGeneration', st.observedGeneration);
  put(out, 'lastHandledReconcileAt', st.lastHandledReconcileAt);
  put(out, 'artifact', slimArtifact(st.artifact));
  switch (kind) {
    case 'Kustomization': {
      for (const f of ['lastAttemptedRevision', 'lastAppliedRevision', 'lastAppliedOriginRevision']) put(out, f, st[f]);
      const hist = st.history;
      if (Array.isArray(hist)) out.history = hist.map((h) => (isRec(h) ? (h.metadata !== undefined ? { metadata: pick(h.metadata, ['revision', 'originRevision']) } : {}) : h));
      // Only the entries that are Flux objects make graph edges (a Kustomization may apply thousands of others).
      const inv = st.inventory;
      if (isRec(inv)) {
        const entries = inv.entries;
        out.inventory = Array.isArray(entries) ? { entries: entries.filter((e) => isRec(e) && typeof e.id === 'string' && inventoryKey(e.id) !== undefined).map((e) => ({ id: (e as Rec).id })) } : {};
      } else put(out, 'inventory', inv);
      break;
    }
    case 'HelmRelease':
      for (const f of ['lastAttemptedRevision', 'lastAttemptedRevisionDigest', 'lastAttemptedGeneration']) put(out, f, st[f]);
      if (st.helmChart !== undefined) out.helmChart = st.helmChart;
      put(out, 'history', pickEach(st.history, ['status', 'chartVersion', 'ociDigest']));
      break;
    case 'HelmChart':
      put(out, 'observedSourceArtifactRevision', st.observedSourceArtifactRevision);
      break;
  }
  return out;
}

/**
 * What is kept of a Flux object (see the top of this file): a new object with only the fields that are read.
 * Memory then grows with what is monitored, not with what Flux deploys or the API says besides.
 */
export function slimObject(o: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: intern(o.apiVersion), kind: intern(o.kind), metadata: slimMetadata(o.metadata) };
  if (o.spec !== undefined) out.spec = slimSpec(o.kind, o.spec);
  if (o.status !== undefined) out.status = slimStatus(o.kind, o.status);
  return out;
}
