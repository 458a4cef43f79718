// Controllers down: a reconcile request (ours or anyone's `flux reconcile`) not handled within NOT_HANDLED_MS,
// or a consumer that has not moved for STILL_MS while its source already holds the pushed commit, points at the
// controller that should act. Its Deployment in the Flux namespace says whether it runs (where RBAC allows): not
// running ends the session with an error that says so; running, or not visible, gives a warning that names the
// controller. Requests grow with the controllers, never with the objects.
import { ApiError } from '../cluster/errors.js';
import { kindInfo } from '../core/kinds.js';
import { sanitizeText } from '../core/sanitize.js';
import { isFluxKind, type CategorizedError } from '../core/types.js';
import type { Graph } from '../core/graph.js';
import { REQUESTED_AT } from './slim.js';
import type { EngineContext } from './parts.js';

/** A reconcile request not handled after this long points at a controller that does not act. */
export const NOT_HANDLED_MS = 10_000;
/** A consumer whose source holds the pushed commit and that has not moved for this long: same. */
export const STILL_MS = 30_000;

/** Flux's namespace: FLUX_SYSTEM_NAMESPACE as the flux CLI reads it, else flux-system. */
export function fluxNamespace(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLUX_SYSTEM_NAMESPACE || 'flux-system';
}

export interface HealthInputs {
  /** When each object's status last changed (ms), kept by the Monitor from the watch events. */
  lastMove: ReadonlyMap<string, number>;
  /** The reconcile requests the session made (auto_reconcile). */
  requests: ReadonlyMap<string, { at: number }>;
  /** The current graph, if built. */
  graph(): Graph | undefined;
  notHandledMs?: number;
  stillMs?: number;
}

export class ControllerHealth {
  /** Controllers found not running or not acting, so each is reported once (a running one is looked at again later). */
  private readonly diagnosed = new Set<string>();

  constructor(
    private readonly m: EngineContext,
    private readonly h: HealthInputs,
  ) {}

  /** Looks for controllers that do not act (run every 2 s over every node: the cheap tests first, the graph last). */
  check(): void {
    const m = this.m;
    if (m.finished || !m.synced) return;
    const now = m.now();
    const suspects = new Map<string, string>();
    const nodes = m.state.nodes;
    const stillMs = this.h.stillMs ?? STILL_MS;
    for (const key in nodes) {
      const n = nodes[key]!;
      if (!n.affected || n.settled || n.deleted) continue;
      const controller = isFluxKind(n.kind) ? kindInfo(n.kind).controller : undefined;
      if (!controller || suspects.has(controller) || this.diagnosed.has(controller)) continue;
      const obj = m.objects.get(n.key);
      if (!obj) continue;
      const requested = obj.metadata.annotations?.[REQUESTED_AT];
      if (requested && requested !== obj.status?.lastHandledReconcileAt) {
        const since = this.h.requests.get(n.key)?.at ?? this.h.lastMove.get(n.key) ?? m.state.startedAt;
        if (now - since >= (this.h.notHandledMs ?? NOT_HANDLED_MS)) {
          suspects.set(controller, `${n.kind} ${n.namespace}/${n.name} has not handled the reconcile request of ${Math.round((now - since) / 1000)}s ago`);
          continue;
        }
      }
      if (n.phase !== 'Pending' || (n.kind !== 'Kustomization' && n.kind !== 'HelmRelease')) continue;
      const still = now - (this.h.lastMove.get(n.key) ?? m.state.startedAt);
      if (still < stillMs) continue;
      // What delivers the commit to it: a Kustomization's sourceRef; a HelmRelease's chart (its HelmChart or
      // chartRef), not the HelmRepository or GitRepository the chart is built from.
      let sourceHasCommit = false;
      for (const e of this.h.graph()?.out.get(n.key) ?? []) {
        if (e.type === 'source' && nodes[e.to]?.phase === 'Ready' && (n.kind !== 'HelmRelease' || e.to.startsWith('HelmChart/') || e.to.startsWith('OCIRepository/'))) {
          sourceHasCommit = true;
          break;
        }
      }
      if (sourceHasCommit) {
        suspects.set(controller, `${n.kind} ${n.namespace}/${n.name} has not moved for ${Math.round(still / 1000)}s although its source holds the pushed commit`);
      }
    }
    for (const [controller, why] of suspects) {
      this.diagnosed.add(controller);
      void this.checkController(controller, why);
    }
  }

  private async checkController(name: string, why: string): Promise<void> {
    const m = this.m;
    const ns = fluxNamespace();
    try {
      const d = await m.client.request<{ spec?: { replicas?: number }; status?: { availableReplicas?: number } }>(
        'GET',
        `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/deployments/${encodeURIComponent(name)}`,
      );
      if (m.finished) return;
      const want = d.spec?.replicas ?? 1;
      const available = d.status?.availableReplicas ?? 0;
      if (available > 0) {
        m.warn(`${name} is running (${available}/${want} available) but does not act: ${why}; see \`kubectl -n ${ns} logs deploy/${name}\``);
        // Look again later (it may be busy, or go down).
        setTimeout(() => this.diagnosed.delete(name), this.h.stillMs ?? STILL_MS).unref?.();
        return;
      }
      const message = `${name} is not running: Deployment ${ns}/${name} has ${available}/${want} replicas available (${why})`;
      const hint = want === 0
        ? `It is scaled to zero: \`kubectl -n ${ns} scale deployment ${name} --replicas=1\`. Nothing is applied until it runs.`
        : `See \`kubectl -n ${ns} describe deployment ${name}\` and \`flux check\`. Nothing is applied until it runs.`;
      const err: CategorizedError = { category: 'controller-down', message: sanitizeText(message, { maxLength: 500 }), hint };
      m.failWith(err);
    } catch (e) {
      if (m.finished) return;
      const status = e instanceof ApiError ? e.status : undefined;
      if (status === 404) m.warn(`${why}; there is no Deployment ${ns}/${name}: is ${name} installed and running? (\`flux check\`)`);
      else if (status === 403) m.warn(`${why}; is ${name} running? (RBAC does not allow reading Deployments in ${ns}; \`flux check\` tells)`);
      else m.warn(`${why}; is ${name} running? (\`flux check\`)`);
    }
  }
}
