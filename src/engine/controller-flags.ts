// The flags of the Flux controllers that say how long they wait (--requeue-dependency, --interval-jitter-percentage),
// read once per session from their Deployments in the Flux namespace (spec.template.spec.containers[].args): one
// GET per controller, so the requests never grow with the objects. A Deployment that cannot be read (RBAC says
// 403, no Deployment, the controllers run elsewhere) is not an error: the waits then say they assume Flux's
// documented defaults (core/waits.ts, basis `assumed`).
import type { ClusterClient } from '../cluster/client.js';
import { controllerFlagsFromDeployment, type ControllerFlags, type ControllerName, type WaitFacts } from '../core/waits.js';

export const FLAG_CONTROLLERS: readonly ControllerName[] = ['source-controller', 'kustomize-controller', 'helm-controller'];

/** Reads the three controllers' Deployments in `namespace`; never rejects. */
export async function readControllerFlags(client: Pick<ClusterClient, 'request'>, namespace: string, signal?: AbortSignal): Promise<WaitFacts> {
  const entries = await Promise.all(
    FLAG_CONTROLLERS.map(async (name): Promise<[ControllerName, ControllerFlags]> => {
      try {
        const d = await client.request('GET', `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(name)}`, {
          signal,
          timeoutMs: 10_000,
          statsVerb: 'controller-flags',
        });
        return [name, controllerFlagsFromDeployment(d)];
      } catch {
        return [name, { read: false }];
      }
    }),
  );
  return { controllers: Object.fromEntries(entries) };
}
