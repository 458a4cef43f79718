// The defaults the real Flux CRDs declare in their OpenAPI schemas, which kube-apiserver fills in on every write
// (structural schema defaulting). The simulator fills in the same ones, so that what it stores is what a real
// cluster stores. Taken from the CRDs of source-controller v1.9.6, kustomize-controller v1.9.6 and
// helm-controller v1.6.2 (config/crd/bases; the conformance suite applies those CRDs, see docs/testing.md).
import type { KubeObject } from '../core/types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** Sets `key` in `o` to `value` when absent; `o` must be an object already (defaults never create parents). */
function dflt(o: unknown, key: string, value: unknown): void {
  if (isObj(o) && o[key] === undefined) o[key] = value;
}

const SPEC_DEFAULTS: Record<string, (spec: Obj) => void> = {
  GitRepository: (s) => {
    dflt(s, 'timeout', '60s');
    dflt(s.verify, 'mode', 'HEAD');
  },
  HelmRepository: (s) => dflt(s, 'provider', 'generic'),
  OCIRepository: (s) => {
    dflt(s, 'provider', 'generic');
    dflt(s, 'timeout', '60s');
    dflt(s.verify, 'provider', 'cosign');
  },
  Bucket: (s) => {
    dflt(s, 'provider', 'generic');
    dflt(s, 'timeout', '60s');
  },
  HelmChart: (s) => {
    dflt(s, 'reconcileStrategy', 'ChartVersion');
    dflt(s, 'version', '*');
    dflt(s.verify, 'provider', 'cosign');
  },
  Kustomization: (s) => {
    dflt(s, 'force', false);
    const from = isObj(s.postBuild) ? s.postBuild.substituteFrom : undefined;
    if (Array.isArray(from)) for (const f of from) dflt(f, 'optional', false);
  },
  HelmRelease: (s) => {
    const chart = isObj(s.chart) ? s.chart.spec : undefined;
    dflt(chart, 'reconcileStrategy', 'ChartVersion');
    dflt(chart, 'version', '*');
    dflt(isObj(chart) ? chart.verify : undefined, 'provider', 'cosign');
    dflt(s.uninstall, 'deletionPropagation', 'background');
  },
};

/** Whether the simulator defaults this kind as its CRD does. */
export function hasCrdDefaults(kind: string): boolean {
  return kind in SPEC_DEFAULTS;
}

/**
 * Fills in, in place, the spec defaults of the kind's CRD and, on a new object, the status default
 * (`{observedGeneration: -1}`: every Flux CRD declares it, so a new object shows it until its controller acts).
 */
export function applyCrdDefaults(obj: KubeObject, opts: { created: boolean }): KubeObject {
  const spec = SPEC_DEFAULTS[obj.kind];
  if (!spec) return obj;
  if (isObj(obj.spec)) spec(obj.spec as Obj);
  if (opts.created && obj.status === undefined) obj.status = { observedGeneration: -1 };
  return obj;
}
