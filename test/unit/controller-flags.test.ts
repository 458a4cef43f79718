// The controllers' flags, read once from their Deployments (src/engine/controller-flags.ts): one GET per
// controller whatever the number of objects; a 403 or 404 is not an error, it makes the waits say they assume
// Flux's defaults. (The real-apiserver path: test/conformance/kustomize.test.ts, case dependency-retry.)
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/cluster/errors.js';
import { readControllerFlags } from '../../src/engine/controller-flags.js';
import { computeWait } from '../../src/core/waits.js';
import type { KubeObject } from '../../src/core/types.js';

/** A Flux install's kustomize-controller Deployment (as `flux install` writes it, args trimmed to those read here). */
const deployment = (args: string[]) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'kustomize-controller', namespace: 'flux-system' },
  spec: { template: { spec: { containers: [{ name: 'manager', image: 'ghcr.io/fluxcd/kustomize-controller:v1.9.6', args }] } } },
});

function client(answers: Record<string, unknown | ApiError>) {
  const paths: string[] = [];
  return {
    paths,
    async request(method: string, path: string) {
      paths.push(`${method} ${path}`);
      const name = path.split('/').at(-1)!;
      const a = answers[name] ?? new ApiError(404, path, { kind: 'Status', reason: 'NotFound' });
      if (a instanceof ApiError) throw a;
      return a;
    },
  };
}

const waiting: KubeObject = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name: 'apps', namespace: 'flux-system', generation: 1 },
  spec: { dependsOn: [{ name: 'infra' }] },
  status: { conditions: [{ type: 'Ready', status: 'False', reason: 'DependencyNotReady', message: "dependency 'flux-system/infra' is not ready", lastTransitionTime: '2026-05-04T10:00:00Z' }] },
};

describe('readControllerFlags', () => {
  it('reads each controller Deployment once, in the Flux namespace', async () => {
    const c = client({
      'kustomize-controller': deployment(['--watch-all-namespaces=true', '--requeue-dependency=10s']),
      'source-controller': deployment(['--interval-jitter-percentage=10']),
    });
    const facts = await readControllerFlags(c, 'flux-system');
    expect(c.paths.sort()).toEqual([
      'GET /apis/apps/v1/namespaces/flux-system/deployments/helm-controller',
      'GET /apis/apps/v1/namespaces/flux-system/deployments/kustomize-controller',
      'GET /apis/apps/v1/namespaces/flux-system/deployments/source-controller',
    ]);
    expect(facts.controllers).toEqual({
      'kustomize-controller': { read: true, requeueDependencyMs: 10_000 },
      'source-controller': { read: true, jitterPercent: 10 },
      'helm-controller': { read: false },
    });
    expect(computeWait(waiting, { phase: 'Waiting', reason: 'DependencyNotReady' }, facts)).toMatchObject({ ms: 10_000, basis: 'flag' });
  });

  it('a 403 is not an error: the documented default, said to be assumed', async () => {
    const forbidden = new ApiError(403, '/apis/apps/v1/namespaces/flux-system/deployments/kustomize-controller', { kind: 'Status', reason: 'Forbidden' });
    const facts = await readControllerFlags(client({ 'kustomize-controller': forbidden }), 'flux-system');
    expect(facts.controllers?.['kustomize-controller']).toEqual({ read: false });
    expect(computeWait(waiting, { phase: 'Waiting', reason: 'DependencyNotReady' }, facts)).toMatchObject({ ms: 30_000, basis: 'assumed' });
  });

  it('a Deployment without the flag: the controller runs with its default', async () => {
    const facts = await readControllerFlags(client({ 'kustomize-controller': deployment(['--log-level=info']) }), 'flux-system');
    expect(computeWait(waiting, { phase: 'Waiting', reason: 'DependencyNotReady' }, facts)).toMatchObject({ ms: 30_000, basis: 'default' });
  });
});
