// The diagnosis of one failing (or slow) Flux object: the workloads behind it and their pods, and the object's
// own Events of the pushed revision. It reads only what is failing: the workloads the health check names (one
// LIST with a field selector each), or, when it names none, the object (for its full inventory, which the engine
// does not keep) and one LIST per namespace and workload kind of it (the owner labels); then the pods of the
// workloads that are not ready (their selector) and the object's Events (an involvedObject field selector).
// Requests grow with the number of kinds and of failing workloads (both bounded), never with the number of
// healthy objects. A 403 or 404 is a one-line note, never an error. Pure interpretation is in src/core/workloads.ts.
import type { ClusterClient } from '../cluster/client.js';
import type { ResourceType } from '../cluster/discovery.js';
import { ApiError, categorize } from '../cluster/errors.js';
import { sanitizeText } from '../core/sanitize.js';
import type { Diagnosis, FluxKind, KubeObject, PushedRevision, WorkloadDiagnosis, WorkloadKind } from '../core/types.js';
import {
  DEFAULT_DIAGNOSIS_LIMITS,
  diagnoseWorkload,
  eventsOfAttempt,
  healthCheckWorkloads,
  inventoryWorkloads,
  labelSelectorString,
  missingWorkload,
  workloadPath,
  workloadPlural,
  workloadsInMessage,
  type DiagnosisLimits,
  type WorkloadRef,
} from '../core/workloads.js';

export interface DiagnoseInput {
  client: ClusterClient;
  /** The served resource of the Flux object's kind. */
  rt: ResourceType;
  node: { kind: FluxKind; namespace: string; name: string; message: string; revision?: string };
  pushed: PushedRevision;
  /** When the session started (ms): unannotated Events older than that are not of this attempt. */
  since: number;
  now: () => number;
  limits?: Partial<DiagnosisLimits>;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
  /** Handed each not-ready workload read and its pods (undefined when they could not be read): fail-fast reads the same objects (engine/failfast.ts). */
  collect?: (ref: WorkloadRef, workload: KubeObject, pods: KubeObject[] | undefined) => void;
  /** false: the object's Events and the pods' probe Events are not read (fail-fast needs neither). Default true. */
  events?: boolean;
  signal?: AbortSignal;
}

/** The owner labels kustomize-controller and helm-controller put on every object they apply (fluxcd/pkg/ssa SetOwnerLabels, helm-controller postrender originLabels). */
const OWNER_GROUP: Partial<Record<FluxKind, string>> = { Kustomization: 'kustomize.toolkit.fluxcd.io', HelmRelease: 'helm.toolkit.fluxcd.io' };

const refKey = (r: WorkloadRef) => `${r.kind}/${r.namespace}/${r.name}`;
const enc = encodeURIComponent;

/** Diagnoses one Flux object. Never rejects: what cannot be read becomes a note. */
export async function diagnoseObject(input: DiagnoseInput): Promise<Diagnosis> {
  const limits: DiagnosisLimits = { ...DEFAULT_DIAGNOSIS_LIMITS, ...input.limits };
  const { client, node } = input;
  let requests = 0;
  const notes: string[] = [];
  const note = (s: string) => {
    const t = sanitizeText(s, { maxLength: 300 });
    if (!notes.includes(t)) notes.push(t);
  };
  const get = async <T>(path: string): Promise<T> => {
    requests++;
    return client.request<T>('GET', path, { statsVerb: 'diagnose', timeoutMs: input.timeoutMs ?? 10_000, signal: input.signal });
  };
  /** A failed read as a note: forbidden, not served (or gone), or what went wrong. */
  const failed = (err: unknown, what: string, notFound = 'the cluster does not serve them') => {
    if (err instanceof ApiError && err.status === 403) note(`cannot read ${what} (forbidden)`);
    else if (err instanceof ApiError && err.status === 404) note(`cannot read ${what} (${notFound})`);
    else note(`could not read ${what}: ${categorize(err).message}`);
  };

  // 1. What the health check says is not ready (kstatus names every object it still waits for, helm's wait
  // too): those only. Otherwise the object itself, for its inventory (the engine keeps only its Flux entries)
  // and its spec.healthChecks.
  const failingNamed = workloadsInMessage(node.message);
  let obj: KubeObject | undefined;
  if (!failingNamed.length) {
    try {
      obj = await get<KubeObject>(`/apis/${input.rt.group}/${input.rt.version}/namespaces/${enc(node.namespace)}/${input.rt.plural}/${enc(node.name)}`);
    } catch (err) {
      failed(err, `${node.kind} ${node.namespace}/${node.name}`, 'it is gone');
    }
  }
  const namedKeys = new Set(failingNamed.map(refKey));
  const owner = OWNER_GROUP[node.kind];
  const ownerSelector = owner ? `${owner}/name=${node.name},${owner}/namespace=${node.namespace}` : undefined;
  const found: Array<{ ref: WorkloadRef; obj?: KubeObject }> = [];
  /** One LIST of `kind` in `namespace`; undefined when it could not be read (noted). */
  const list = async (kind: WorkloadKind, namespace: string, selector: string): Promise<KubeObject[] | undefined> => {
    try {
      const l = await get<{ items?: KubeObject[] }>(`${workloadPath(kind, namespace)}?${selector}`);
      return Array.isArray(l?.items) ? l.items : [];
    } catch (err) {
      failed(err, `${workloadPlural(kind)} in ${namespace}`);
      return undefined;
    }
  };
  let unread = 0;
  if (failingNamed.length) {
    // 2a. One LIST per named workload (a field selector on its name; it may be outside the inventory, a
    // spec.healthChecks entry), at most limits.workloads of them.
    const read = failingNamed.slice(0, limits.workloads);
    unread = failingNamed.length - read.length;
    await Promise.all(
      read.map(async (ref) => {
        const items = await list(ref.kind, ref.namespace, `fieldSelector=${enc(`metadata.name=${ref.name}`)}`);
        if (items) found.push({ ref, obj: items.find((i) => i.metadata?.name === ref.name) });
      }),
    );
  } else {
    // 2b. Nothing named (a slow health check, a Helm failure): the workloads of the inventory (and of
    // spec.healthChecks), one LIST per namespace and kind with the owner labels (or the one name).
    const refs = new Map<string, WorkloadRef>();
    for (const r of [...healthCheckWorkloads(obj), ...inventoryWorkloads(obj?.status?.inventory?.entries)]) refs.set(refKey(r), r);
    const hasInventory = Array.isArray(obj?.status?.inventory?.entries);
    const groups = new Map<string, { kind: WorkloadKind; namespace: string; names: Set<string>; byOwner?: boolean }>();
    for (const r of refs.values()) {
      const k = `${r.namespace}/${r.kind}`;
      (groups.get(k) ?? groups.set(k, { kind: r.kind, namespace: r.namespace, names: new Set() }).get(k)!).names.add(r.name);
    }
    if (obj && node.kind === 'HelmRelease') {
      // The release's objects carry its owner labels. helm-controller writes status.inventory from the release it
      // made, after the action: while an install or upgrade runs (and waits), it still lists the previous
      // release's objects, or none; so each workload kind of the release namespace is read by those labels.
      const ns = typeof obj.spec?.targetNamespace === 'string' && obj.spec.targetNamespace ? obj.spec.targetNamespace : node.namespace;
      for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'] as const) {
        const g = groups.get(`${ns}/${kind}`);
        if (g) g.byOwner = true;
        else groups.set(`${ns}/${kind}`, { kind, namespace: ns, names: new Set(), byOwner: true });
      }
    } else if (obj && !hasInventory && refs.size === 0) {
      note(`${node.kind} ${node.namespace}/${node.name} has no inventory yet: nothing was applied`);
    }
    const ordered = [...groups.values()].sort((a, b) => (a.namespace + a.kind < b.namespace + b.kind ? -1 : 1));
    if (ordered.length > limits.lists) note(`${ordered.length - limits.lists} more namespace/kind groups of workloads not read`);
    await Promise.all(
      ordered.slice(0, limits.lists).map(async (g) => {
        const one = !g.byOwner && g.names.size === 1 ? [...g.names][0]! : undefined;
        const selector = one !== undefined ? `fieldSelector=${enc(`metadata.name=${one}`)}` : ownerSelector ? `labelSelector=${enc(ownerSelector)}` : undefined;
        if (!selector) return;
        const items = await list(g.kind, g.namespace, selector);
        if (!items) return;
        const byName = new Map(items.map((i) => [i.metadata?.name, i]));
        if (g.names.size === 0 || g.byOwner) for (const i of items) if (!g.names.has(i.metadata.name)) found.push({ ref: { kind: g.kind, namespace: g.namespace, name: i.metadata.name }, obj: i });
        for (const name of g.names) found.push({ ref: { kind: g.kind, namespace: g.namespace, name }, obj: byName.get(name) });
      }),
    );
  }

  // Named by the health check first, in its order, then by name.
  const order = new Map([...namedKeys].map((k, i) => [k, i]));
  const rankOf = (f: { ref: WorkloadRef }) => order.get(refKey(f.ref)) ?? order.size;
  found.sort((a, b) => rankOf(a) - rankOf(b) || (refKey(a.ref) < refKey(b.ref) ? -1 : 1));
  const notReady: Array<{ ref: WorkloadRef; obj?: KubeObject }> = [];
  let readyWorkloads = 0;
  for (const f of found) {
    if (f.obj && diagnoseWorkload(f.ref.kind, f.obj, undefined, limits).ready) readyWorkloads++;
    else notReady.push(f);
  }
  const shown = notReady.slice(0, limits.workloads);

  // 3. The pods of the workloads that are not ready, through each one's selector.
  const podsDenied = new Set<string>();
  const workloads: WorkloadDiagnosis[] = await Promise.all(
    shown.map(async ({ ref, obj: w }) => {
      if (!w) return missingWorkload(ref);
      const sel = labelSelectorString(w.spec?.selector);
      if (!sel) {
        input.collect?.(ref, w, undefined);
        return diagnoseWorkload(ref.kind, w, undefined, limits);
      }
      try {
        const list = await get<{ items?: KubeObject[] }>(`/api/v1/namespaces/${enc(ref.namespace)}/pods?labelSelector=${enc(sel)}&limit=${limits.podPage}`);
        const pods = Array.isArray(list?.items) ? list.items : [];
        input.collect?.(ref, w, pods);
        return diagnoseWorkload(ref.kind, w, pods, limits);
      } catch (err) {
        if (err instanceof ApiError && err.status === 403) podsDenied.add(ref.namespace);
        else failed(err, `pods in ${ref.namespace}`);
        input.collect?.(ref, w, undefined);
        return diagnoseWorkload(ref.kind, w, undefined, limits);
      }
    }),
  );
  for (const ns of podsDenied) note(`cannot read pods in ${ns} (forbidden)`);

  // 4. A failing readiness probe: the kubelet's Unhealthy events of those pods say why (one LIST per namespace).
  const unready = new Map<string, Array<{ pod: string; problem: WorkloadDiagnosis['pods'][number]['problems'][number] }>>();
  for (const w of workloads) {
    for (const pod of w.pods) for (const p of pod.problems) if (p.reason === 'Unready') (unready.get(w.namespace) ?? unready.set(w.namespace, []).get(w.namespace)!).push({ pod: pod.name, problem: p });
  }
  await Promise.all(
    [...(input.events === false ? [] : unready)].map(async ([ns, entries]) => {
      try {
        const list = await get<{ items?: Array<Record<string, any>> }>(
          `/api/v1/namespaces/${enc(ns)}/events?fieldSelector=${enc('involvedObject.kind=Pod,reason=Unhealthy')}&limit=200`,
        );
        const latest = new Map<string, { at: number; message: string }>();
        for (const ev of list?.items ?? []) {
          const pod = ev?.involvedObject?.name;
          const msg = typeof ev?.message === 'string' ? ev.message : '';
          if (typeof pod !== 'string' || !/^Readiness probe/i.test(msg)) continue;
          const at = Date.parse(ev.lastTimestamp ?? ev.eventTime ?? ev.metadata?.creationTimestamp ?? '') || 0;
          if ((latest.get(pod)?.at ?? -1) <= at) latest.set(pod, { at, message: msg });
        }
        for (const e of entries) {
          const m = latest.get(e.pod);
          if (m) e.problem.message = sanitizeText(m.message.trim(), { maxLength: limits.messageLength });
        }
      } catch (err) {
        failed(err, `events in ${ns}`);
      }
    }),
  );

  // 5. The object's own Events, of the pushed revision.
  let events: Diagnosis['events'] = [];
  if (input.events !== false) try {
    const fs = `involvedObject.kind=${node.kind},involvedObject.name=${node.name},involvedObject.namespace=${node.namespace}`;
    const list = await get<{ items?: unknown[] }>(`/api/v1/namespaces/${enc(node.namespace)}/events?fieldSelector=${enc(fs)}`);
    events = eventsOfAttempt(Array.isArray(list?.items) ? list.items : [], { pushed: input.pushed, revision: node.revision, since: input.since, limits });
  } catch (err) {
    failed(err, `events in ${node.namespace}`);
  }

  const d: Diagnosis = { at: input.now(), workloads, readyWorkloads, events, notes, requests };
  if (node.revision) d.revision = sanitizeText(node.revision, { maxLength: 200 });
  if (notReady.length - shown.length + unread > 0) d.moreWorkloads = notReady.length - shown.length + unread;
  return d;
}
