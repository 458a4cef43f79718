// The LIST+WATCH (or polling) of each Flux kind: one reflector per kind, cluster-wide, and where RBAC forbids
// that, one per namespace the user may read. What they deliver is kept here (slimmed, by key, and by scope for
// a relist that replaces a scope's objects); every change marks the object for the next recompute.
import { ApiError, MonitorError } from '../cluster/errors.js';
import type { ResourceType } from '../cluster/discovery.js';
import { objectKey } from '../core/graph.js';
import type { CategorizedError, KubeObject } from '../core/types.js';
import { Reflector, type ReflectorOptions } from './reflector.js';
import { slimObject } from './slim.js';
import type { NodeBuilder } from './recompute.js';
import type { EngineContext } from './parts.js';

export interface WatchesHost {
  nodes: Pick<NodeBuilder, 'stored' | 'forgot' | 'replaced'>;
  /** `config.namespaces`: where to look when listing cluster-wide is forbidden. */
  namespaces: string[];
  reflectorTuning(): Omit<ReflectorOptions, 'client' | 'rt' | 'namespace' | 'labelSelector' | 'events'>;
  adopt(r: Reflector): void;
  drop(r: Reflector): void;
  reportError(err: CategorizedError, scope: string): void;
  recovered(scope: string): void;
}

export class FluxWatches {
  /** The current objects, slimmed, by key. */
  readonly store = new Map<string, KubeObject>();
  /** Which reflector scope holds which keys (for replace-on-relist). */
  private readonly scopes = new Map<string, Set<string>>();
  /** When each object's status last changed (ms), for the controller-health part. */
  readonly lastMove = new Map<string, number>();

  constructor(
    private readonly m: EngineContext,
    private readonly h: WatchesHost,
  ) {}

  /** One reflector per kind, cluster-wide; on 403 fall back to per-namespace reflectors. */
  async startAll(resources: Iterable<ResourceType>): Promise<void> {
    const rts = [...resources];
    const results = await Promise.allSettled(rts.map((rt) => this.startScope(rt)));
    if (this.m.finished) return;
    let forbiddenKinds: ResourceType[] = [];
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        if (r.reason instanceof ApiError && r.reason.status === 403) forbiddenKinds.push(rts[i]!);
        else throw r.reason;
      }
    });
    if (forbiddenKinds.length) {
      const namespaces = await this.namespacesToTry();
      const usable: string[] = [];
      const denied = new Set<string>();
      for (const rt of forbiddenKinds) {
        const per = await Promise.allSettled(namespaces.map((ns) => this.startScope(rt, ns)));
        per.forEach((r, i) => {
          if (r.status === 'fulfilled') usable.includes(namespaces[i]!) || usable.push(namespaces[i]!);
          else if (r.reason instanceof ApiError && (r.reason.status === 403 || r.reason.status === 404)) denied.add(namespaces[i]!);
          else throw r.reason;
        });
      }
      forbiddenKinds = [];
      if (usable.length === 0) {
        throw new MonitorError({
          category: 'forbidden',
          message: `RBAC forbids listing Flux objects cluster-wide${namespaces.length ? ` and in ${namespaces.join(', ')}` : ''}`,
          hint: 'Ask for get/list/watch on Flux resources, or set `namespaces:` in .kiro/hooks/flux-reconciliation-monitor.yaml to namespaces you can read.',
        });
      }
      this.m.warn(
        `cannot list Flux objects cluster-wide (403); monitoring namespaces ${usable.join(', ')}` +
          (denied.size ? `; no access to ${[...denied].join(', ')}` : ''),
      );
    }
  }

  private async namespacesToTry(): Promise<string[]> {
    if (this.h.namespaces.length) return this.h.namespaces;
    try {
      const list = await this.m.client.request<{ items?: Array<{ metadata: { name: string } }> }>('GET', '/api/v1/namespaces', { list: true });
      return (list.items ?? []).map((n) => n.metadata.name);
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) {
        // Can't list namespaces either: try the usual Flux namespace and the kubeconfig's default namespace.
        const ctxNs = this.m.client.namespace;
        return [...new Set(['flux-system', ctxNs ?? 'default'])];
      }
      throw err;
    }
  }

  private startScope(rt: ResourceType, namespace?: string): Promise<void> {
    const scope = `${rt.kind}/${namespace ?? '*'}`;
    this.scopes.set(scope, new Set());
    const r = new Reflector({
      client: this.m.client,
      rt,
      namespace,
      ...this.h.reflectorTuning(),
      events: {
        onReplace: (objs) => {
          const keys = this.scopes.get(scope)!;
          for (const k of keys) {
            this.store.delete(k);
          }
          keys.clear();
          for (const o of objs) {
            const k = objectKey(o);
            if (!k) continue;
            keys.add(k);
            this.store.set(k, slimObject(o));
          }
          this.h.nodes.replaced();
          this.m.schedule();
        },
        onUpsert: (o) => {
          const k = objectKey(o);
          if (!k) return;
          this.lastMove.set(k, this.m.now());
          this.scopes.get(scope)!.add(k);
          this.put(k, o);
          this.m.schedule();
        },
        onDelete: (o) => {
          const k = objectKey(o);
          if (!k) return;
          this.scopes.get(scope)!.delete(k);
          this.forget(k);
          this.m.schedule();
        },
        onError: (err, fatal) => {
          if (fatal && (err.status === 403 || err.status === 404) && !this.m.synced) return this.h.recovered(scope); // the caller drops this scope
          this.h.reportError(err, scope);
        },
        onRecovered: () => this.h.recovered(scope),
        onModeChange: (mode, reason) => {
          if (mode !== 'poll') return;
          this.m.warn(
            `watching ${rt.plural}${namespace ? ` in ${namespace}` : ''} is not allowed${reason ? ` (${reason})` : ''}: polling instead (grant the \`watch\` verb for live updates)`,
          );
          if (this.m.state.mode !== 'poll') {
            this.m.update({ mode: 'poll' });
            this.m.publish();
          }
        },
      },
    });
    this.h.adopt(r);
    return r.start().catch((err) => {
      r.stop();
      this.h.drop(r);
      this.scopes.delete(scope);
      throw err;
    });
  }

  /** Keeps a new version of an object (slimmed); the graph is rebuilt only when its graph inputs changed. */
  put(key: string, o: KubeObject): void {
    const prev = this.store.get(key);
    const slim = slimObject(o);
    this.store.set(key, slim);
    this.h.nodes.stored(key, prev, slim);
  }

  /** Forgets a deleted object and what was derived from it (from every scope too). */
  forget(key: string): void {
    for (const keys of this.scopes.values()) keys.delete(key);
    this.store.delete(key);
    this.h.nodes.forgot(key);
  }

}
