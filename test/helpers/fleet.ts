// The usual test fleet on the API simulator, as Flux left it after SHA_OLD: GitRepository flux-system (FLEET_URL) →
// Kustomization infra → apps (dependsOn infra), which applies HelmRelease apps/podinfo; optionally an unrelated
// repository's GitRepository `other` and Kustomization `other-app`. Statuses are the shapes of ./flux.ts.
// (test/integration/fleet.ts is the same fleet on the real apiserver, one namespace per test.)
import type { ApiSimulator } from '../../src/sim/server.js';
import { FLEET_URL } from './engine.js';
import { SHA_NEW, SHA_OLD, gitReady, gitRepository, helmRelease, hrFailed, hrReady, invId, kustomization, ksProgressing, ksReady } from './flux.js';

export const GIT = { kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' };
export const HR = { kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' };
export const ks = (name: string) => ({ kind: 'Kustomization', namespace: 'flux-system', name });
/** apps' inventory: the HelmRelease. */
export const APPS_INVENTORY = [invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease')];
/** The keys of the objects a push of FLEET_URL affects. */
export const FLEET_KEYS = ['GitRepository/flux-system/flux-system', 'HelmRelease/apps/podinfo', 'Kustomization/flux-system/apps', 'Kustomization/flux-system/infra'];

/** Creates the fleet at SHA_OLD; `unrelated: false` leaves out the other repository's objects. */
export function seedFleet(sim: ApiSimulator, opts: { unrelated?: boolean } = {}): void {
  sim.apply({ ...gitRepository('flux-system', FLEET_URL), status: gitReady(SHA_OLD) });
  sim.apply({ ...kustomization('infra'), status: ksReady(SHA_OLD) });
  sim.apply({ ...kustomization('apps', { dependsOn: ['infra'] }), status: ksReady(SHA_OLD, APPS_INVENTORY) });
  const hr = sim.apply(helmRelease('podinfo'));
  sim.setStatus(HR, hrReady(hr.metadata.generation!));
  if (opts.unrelated === false) return;
  sim.apply({ ...gitRepository('other', 'https://github.com/acme/other.git'), status: gitReady(SHA_OLD) });
  sim.apply({ ...kustomization('other-app', { source: 'other' }), status: ksReady(SHA_OLD) });
}

/**
 * Plays Flux applying SHA_NEW: the source fetches it, infra builds and applies it, apps applies it (bumping
 * podinfo's values, so a new generation) and helm-controller upgrades podinfo, or fails to (`'fail'`).
 */
export function applyNewCommit(sim: ApiSimulator, hrOutcome: 'ok' | 'fail' = 'ok'): void {
  sim.setStatus(GIT, gitReady(SHA_NEW));
  sim.setStatus(ks('infra'), ksProgressing(SHA_NEW, SHA_OLD));
  sim.setStatus(ks('infra'), ksReady(SHA_NEW));
  const hr = sim.apply({ ...helmRelease('podinfo'), spec: { ...helmRelease('podinfo').spec, values: { replicaCount: 2 } } });
  sim.setStatus(ks('apps'), ksReady(SHA_NEW, APPS_INVENTORY));
  const gen = hr.metadata.generation!;
  sim.setStatus(HR, hrOutcome === 'ok' ? hrReady(gen) : hrFailed(gen, "values don't meet the specifications of the schema(s): replicaCount: Invalid type"));
}
