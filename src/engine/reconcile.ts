// auto_reconcile: asking Flux to act now instead of at its next interval, as `flux reconcile` does (a new
// `reconcile.fluxcd.io/requestedAt` token). The matched sources at the start; OCIRepositories waiting for CI's
// artifact again every ARTIFACT_POLL_MS; dependents as soon as their dependencies are Ready with the push. One
// PATCH per object asked, never per watch event. The requests made are kept: the controller-health part reads them.
import { CI_WAIT_REASONS } from '../core/status.js';
import type { FluxKind } from '../core/types.js';
import type { Graph } from '../core/graph.js';
import { REQUESTED_AT } from './slim.js';
import type { EngineContext } from './parts.js';

/**
 * While CI has not published the pushed commit's artifact, a matched OCIRepository is asked to look at the
 * registry again this often (its own `interval` may be minutes; nothing tells Flux that CI pushed).
 */
export const ARTIFACT_POLL_MS = 10_000;

export class ReconcileRequests {
  /** Reconcile requests sent: key → token and when. */
  readonly requests = new Map<string, { token: string; at: number }>();
  /** Dependents asked to reconcile, by key: each once per session. */
  private readonly nudged = new Set<string>();

  constructor(
    private readonly m: EngineContext,
    private readonly artifactPollMs = ARTIFACT_POLL_MS,
  ) {}

  /** The matched sources that do not hold the pushed commit yet are asked to fetch now. */
  async requestSources(): Promise<void> {
    for (const key of this.m.state.matchedSources) {
      const n = this.m.state.nodes[key];
      if (!n || n.phase === 'Ready' || n.phase === 'Superseded') continue;
      // An ExternalArtifact's producer is not a Flux controller: nothing is known to handle the request.
      if (n.kind === 'ExternalArtifact') continue;
      await this.annotate(key);
    }
  }

  /**
   * While CI has not published: the request made at the start usually comes before CI has pushed the artifact,
   * and an OCIRepository's `interval` may be minutes. Every `artifactPollMs`, each matched OCIRepository still
   * waiting for the pushed commit's artifact is asked again, as `flux reconcile source oci` would: one PATCH per
   * waiting source until the artifact arrives or `ci_timeout`. A request that source-controller has not handled
   * yet is not repeated (the controller-health part judges it).
   */
  pollArtifacts(): void {
    const m = this.m;
    if (m.finished || m.concluding || !m.synced || m.state.ci?.artifactAt !== undefined) return;
    const now = m.now();
    for (const key of m.state.matchedSources) {
      const n = m.state.nodes[key];
      if (!n || n.kind !== 'OCIRepository' || !CI_WAIT_REASONS.has(n.reason ?? '')) continue;
      const last = this.requests.get(key);
      if (last && (now - last.at < this.artifactPollMs || m.objects.get(key)?.status?.lastHandledReconcileAt !== last.token)) continue;
      void this.annotate(key);
    }
  }

  /**
   * Flux re-checks a dependent whose dependency was not ready only after its dependency requeue interval (30 s by
   * default), a delay per level of a dependsOn chain. As soon as every dependency of a waiting object is Ready
   * with the pushed commit, its reconciliation is asked for (once).
   */
  nudgeDependents(g: Graph): void {
    const nodes = this.m.state.nodes;
    for (const n of Object.values(nodes)) {
      if (!n.affected || n.phase !== 'Waiting' || this.nudged.has(n.key)) continue;
      const deps = (g.out.get(n.key) ?? []).filter((e) => e.type === 'dependsOn');
      if (deps.length === 0 || !deps.every((e) => nodes[e.to]?.phase === 'Ready')) continue;
      this.nudged.add(n.key);
      void this.annotate(n.key);
    }
  }

  /** Asks Flux to reconcile an object now: a new `reconcile.fluxcd.io/requestedAt` token (a merge patch). */
  async annotate(key: string): Promise<void> {
    const m = this.m;
    const obj = m.objects.get(key);
    const rt = obj && m.resources.get(obj.kind as FluxKind);
    if (!obj || !rt) return;
    const token = new Date(m.now()).toISOString();
    const path = `/apis/${rt.group}/${rt.version}/namespaces/${encodeURIComponent(obj.metadata.namespace ?? '')}/${rt.plural}/${encodeURIComponent(obj.metadata.name)}`;
    try {
      await m.client.request('PATCH', path, {
        body: { metadata: { annotations: { [REQUESTED_AT]: token } } },
        contentType: 'application/merge-patch+json',
      });
      this.requests.set(key, { token, at: m.now() });
    } catch (err) {
      const c = m.categorize(err);
      m.warn(`auto_reconcile: could not annotate ${key}: ${c.message}. ${c.hint}`);
    }
  }
}
