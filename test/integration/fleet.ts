// A small hand-written fleet on the real cluster (one namespace per test, one repository URL per test, so
// tests in a file do not see each other's pushes): GitRepository flux-system → Kustomization infra → apps
// (dependsOn infra) applying HelmRelease podinfo; plus an unrelated repository and Kustomization.
import { SHA_NEW, SHA_OLD, type FluxObjects, type Ref } from './support.js';
import {
  gitReady,
  gitRepository,
  helmRelease,
  hrFailed,
  hrReady,
  invId,
  kustomization,
  ksProgressing,
  ksReady,
} from '../helpers/flux.js';

export interface Fleet {
  ns: string;
  url: string;
  git: Ref;
  infra: Ref;
  apps: Ref;
  hr: Ref;
  other: Ref;
  otherKs: Ref;
  /** Keys of the objects the push affects. */
  affected: string[];
}

export const keyOf = (r: Ref) => `${r.kind}/${r.namespace}/${r.name}`;

/** The fleet in namespace `ns`; `tag` prefixes the names (and names the repository) for several fleets per namespace. */
export function fleetIn(ns: string, tag = ''): Fleet {
  const n = (s: string) => (tag ? `${tag}-${s}` : s);
  const ref = (kind: Ref['kind'], name: string): Ref => ({ kind, namespace: ns, name: n(name) });
  const git = ref('GitRepository', 'flux-system');
  const infra = ref('Kustomization', 'infra');
  const apps = ref('Kustomization', 'apps');
  const hr = ref('HelmRelease', 'podinfo');
  return {
    ns,
    url: `https://github.com/acme/${tag || ns}.git`,
    git,
    infra,
    apps,
    hr,
    other: ref('GitRepository', 'other'),
    otherKs: ref('Kustomization', 'other-app'),
    affected: [git, hr, apps, infra].map(keyOf).sort(),
  };
}

const hrInventory = (f: Fleet) => [invId(f.ns, f.hr.name, 'helm.toolkit.fluxcd.io', 'HelmRelease')];

/** Creates the fleet in namespace `ns` as Flux left it after applying SHA_OLD. */
export async function seedFleet(objs: FluxObjects, ns: string, tag = ''): Promise<Fleet> {
  const f = fleetIn(ns, tag);
  await objs.ensureNamespace(ns);
  await objs.create({ ...gitRepository(f.git.name, f.url, 'main', ns), status: gitReady(SHA_OLD) });
  await objs.create({ ...kustomization(f.infra.name, { ns, source: f.git.name }), status: ksReady(SHA_OLD) });
  await objs.create({ ...kustomization(f.apps.name, { ns, source: f.git.name, dependsOn: [f.infra.name] }), status: ksReady(SHA_OLD, hrInventory(f)) });
  const hr = await objs.create(helmRelease(f.hr.name, ns));
  await objs.setStatus(f.hr, hrReady(hr.metadata.generation!));
  await objs.create({ ...gitRepository(f.other.name, `${f.url.replace(/\.git$/, '')}-other.git`, 'main', ns), status: gitReady(SHA_OLD) });
  await objs.create({ ...kustomization(f.otherKs.name, { ns, source: f.other.name }), status: ksReady(SHA_OLD) });
  return f;
}

/** The source-controller fetched SHA_NEW. */
export const fetchNew = (objs: FluxObjects, f: Fleet) => objs.setStatus(f.git, gitReady(SHA_NEW));

/** kustomize-controller is building SHA_NEW for `ks`. */
export const ksBuilding = (objs: FluxObjects, ks: Ref) => objs.setStatus(ks, ksProgressing(SHA_NEW, SHA_OLD));

/** kustomize-controller applied SHA_NEW for infra. */
export const applyInfra = (objs: FluxObjects, f: Fleet) => objs.setStatus(f.infra, ksReady(SHA_NEW));

/** apps applied SHA_NEW (bumping podinfo's values, so a new generation); helm-controller upgraded podinfo. */
export async function applyApps(objs: FluxObjects, f: Fleet, hrOutcome: 'ok' | 'fail' = 'ok'): Promise<void> {
  const hr = await objs.patch(f.hr, { spec: { values: { replicaCount: 2 } } });
  await objs.setStatus(f.apps, ksReady(SHA_NEW, hrInventory(f)));
  const gen = hr.metadata.generation!;
  await objs.setStatus(f.hr, hrOutcome === 'ok' ? hrReady(gen) : hrFailed(gen, "values don't meet the specifications of the schema(s): replicaCount: Invalid type"));
}

/** Flux applied SHA_NEW everywhere after the source fetched it. */
export async function applyNew(objs: FluxObjects, f: Fleet, hrOutcome: 'ok' | 'fail' = 'ok'): Promise<void> {
  await applyInfra(objs, f);
  await applyApps(objs, f, hrOutcome);
}
