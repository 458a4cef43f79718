// Custom kinds (`config.custom_kinds`): objects beyond Flux that a push also starts, such as Tekton PipelineRuns
// created by Pipelines-as-Code for the pushed commit. Pure: which objects belong to the commit, and their phase
// by generic status rules. No I/O, no clock.
//
// The status rules are kstatus's (kubernetes-sigs/cli-utils pkg/kstatus/status, `Compute` for a resource it has
// no special rules for) plus a completion condition as Tekton and Knative use it:
//   deletionTimestamp                                  → Progressing (Terminating)
//   status.observedGeneration ≠ metadata.generation    → Progressing (LatestGenerationNotObserved)
//   Stalled=True                                       → Stalled (kstatus Failed)
//   Reconciling=True                                   → Progressing (kstatus InProgress)
//   the completion condition (`Succeeded`, or the configured one):
//     True → Ready; False → Failed with its reason (or Progressing for a reason listed as progressing);
//     Unknown → Progressing (Tekton: Started, Running, PipelineRunPending, PipelineRunStopping…)
//   Ready=True → Ready; Ready=False or Unknown → Progressing (kstatus cannot tell a doomed Ready=False)
//   no status at all                                   → Pending (no controller has acted on it yet)
//   conditions, none of the above                      → Ready (kstatus: "Resource is current")

import type { Condition, CustomKindConfig, KubeObject, Phase, StatusResult } from './types.js';
import { FLUX_KINDS } from './types.js';
import { firstLine, sanitizeText } from './sanitize.js';

/** Ready-made entries users enable by name (`custom_kinds: [tekton-pipelineruns]`). */
export const CUSTOM_KIND_PRESETS: Readonly<Record<string, Omit<CustomKindConfig, 'preset'>>> = {
  /**
   * Tekton PipelineRuns that Pipelines-as-Code starts for a push: PaC labels them with the commit
   * (`pipelinesascode.tekton.dev/sha`); Tekton's controller reports on the `Succeeded` condition.
   */
  'tekton-pipelineruns': {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    plural: 'pipelineruns',
    labelSelector: 'pipelinesascode.tekton.dev/sha={sha}',
    condition: 'Succeeded',
    progressingReasons: [],
    wait: 60,
    namespaces: [],
  },
};

/** Placeholders of selector and annotation templates. */
export const SHA_PLACEHOLDERS = ['{sha}', '{short_sha}'] as const;

/** A template with `{sha}` (the full pushed sha) and `{short_sha}` (its first 7 characters) replaced. */
export function fillTemplate(template: string, sha: string): string {
  const full = sha.toLowerCase();
  return template.replaceAll('{sha}', full).replaceAll('{short_sha}', full.slice(0, 7));
}

/** Whether a template names the commit (one of the placeholders). */
export function namesCommit(template: string | undefined): boolean {
  return !!template && SHA_PLACEHOLDERS.some((p) => template.includes(p));
}

/** The label selector to send to the server for the pushed commit, if the entry has one. */
export function customSelector(c: CustomKindConfig, sha: string): string | undefined {
  return c.labelSelector ? fillTemplate(c.labelSelector, sha) : undefined;
}

/**
 * Whether an object the server returned belongs to the pushed commit: the label selector was applied by the
 * server; the annotation, if configured, is checked here.
 */
export function matchesCustom(c: CustomKindConfig, obj: KubeObject, sha: string): boolean {
  if (!c.annotation) return true;
  const v = obj.metadata?.annotations?.[c.annotation.key];
  return typeof v === 'string' && v.trim().toLowerCase() === fillTemplate(c.annotation.value, sha).toLowerCase();
}

/** Key of a custom object: `Kind/namespace/name`, as for Flux objects (custom kinds never take a Flux kind's name). */
export function customKey(obj: KubeObject): string {
  return `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

/**
 * What is kept of a custom object: what identifies it and what the status rules read (its conditions and the
 * scalar fields of its status, such as observedGeneration and startTime). A PipelineRun's status carries its
 * whole pipeline spec and task list: dropped, so memory grows with the objects followed, not their size.
 */
export function slimCustomObject(o: KubeObject): KubeObject {
  const m = o.metadata ?? { name: '' };
  const metadata: KubeObject['metadata'] = { name: m.name };
  for (const f of ['namespace', 'uid', 'generation', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'labels', 'annotations'] as const) {
    if (m[f] !== undefined) (metadata as Record<string, unknown>)[f] = m[f];
  }
  const out: KubeObject = { apiVersion: o.apiVersion, kind: o.kind, metadata };
  const st = o.status;
  if (st && typeof st === 'object') {
    const status: Record<string, unknown> = {};
    for (const [f, v] of Object.entries(st as Record<string, unknown>)) if (f === 'conditions' || v === null || typeof v !== 'object') status[f] = v;
    out.status = status;
  }
  return out;
}

/** Custom kind names that would clash with the keys of Flux objects. */
export function isReservedKind(kind: string): boolean {
  return (FLUX_KINDS as readonly string[]).includes(kind);
}

/** How to judge one custom kind: its completion condition and the reasons of it being False that mean "running". */
export interface CustomRule {
  condition?: string;
  progressingReasons?: readonly string[];
}

function conditionsOf(obj: KubeObject): Condition[] {
  const c: unknown = obj.status?.conditions;
  return Array.isArray(c) ? c.filter((x): x is Condition => !!x && typeof x === 'object' && typeof x.type === 'string') : [];
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function result(phase: Phase, reason: string | undefined, message: string | undefined, since?: string): StatusResult {
  const r: StatusResult = { phase, reason: firstLine(reason, { maxLength: 128 }) || phase, message: sanitizeText(message ?? '') };
  if (since) r.since = since;
  return r;
}

/** The phase of a custom object, by the generic rules above. Pure: the same inputs always give the same result. */
export function computeCustomStatus(obj: KubeObject, rule: CustomRule = {}): StatusResult {
  const kind = typeof obj?.kind === 'string' ? obj.kind : 'object';
  const deletion = obj?.metadata?.deletionTimestamp;
  if (typeof deletion === 'string' && deletion) return result('Progressing', 'Terminating', 'the object is being deleted', deletion);

  const st = obj?.status && typeof obj.status === 'object' ? obj.status : undefined;
  const conds = obj ? conditionsOf(obj) : [];
  const generation = num(obj?.metadata?.generation);
  const observed = num(st?.observedGeneration);
  if (generation !== undefined && observed !== undefined && observed !== generation) {
    return result('Progressing', 'LatestGenerationNotObserved', `${kind} generation is ${generation}, but latest observed generation is ${observed}`);
  }
  if (conds.length === 0) {
    if (!st || Object.keys(st).length === 0) return result('Pending', 'NotReconciled', 'waiting for its controller');
    if (rule.condition) return result('Progressing', 'Progressing', `waiting for condition ${rule.condition}`);
    return result('Ready', 'Current', 'Resource is current');
  }
  const find = (type: string) => conds.find((c) => c.type === type);

  const stalled = find('Stalled');
  if (stalled?.status === 'True') return result('Stalled', stalled.reason || 'Stalled', stalled.message, stalled.lastTransitionTime);
  const reconciling = find('Reconciling');
  if (reconciling?.status === 'True') {
    return result('Progressing', reconciling.reason || 'Reconciling', reconciling.message, reconciling.lastTransitionTime);
  }

  const type = rule.condition ?? (find('Succeeded') ? 'Succeeded' : undefined);
  if (type) {
    const c = find(type);
    if (!c) return result('Progressing', 'Progressing', `waiting for condition ${type}`);
    if (c.status === 'True') return result('Ready', c.reason || type, c.message, c.lastTransitionTime);
    if (c.status === 'False') {
      if (c.reason && rule.progressingReasons?.includes(c.reason)) return result('Progressing', c.reason, c.message, c.lastTransitionTime);
      return result('Failed', c.reason || 'Failed', c.message, c.lastTransitionTime);
    }
    return result('Progressing', c.reason || 'Progressing', c.message, c.lastTransitionTime);
  }

  const ready = find('Ready');
  if (ready?.status === 'True') return result('Ready', ready.reason || 'Ready', ready.message, ready.lastTransitionTime);
  if (ready) return result('Progressing', ready.reason || 'Progressing', ready.message, ready.lastTransitionTime);
  return result('Ready', 'Current', 'Resource is current');
}
