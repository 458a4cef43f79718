// The custom kinds of `config.custom_kinds` (pipelines, releases of the pushed commit: docs/config.md): their
// discovery, one LIST+WATCH per kind (per namespace) with the pushed commit's label selector sent to the server,
// the objects that belong to the push, their status (core/custom.ts), and the verdict's wait for a first object.
import type { ResourceType, ServedApis } from '../cluster/discovery.js';
import { discoverCustom } from '../cluster/discovery.js';
import { ApiError } from '../cluster/errors.js';
import { computeCustomStatus, customKey, customSelector, matchesCustom, slimCustomObject } from '../core/custom.js';
import type { CategorizedError, CustomKindConfig, KubeObject, MonitorConfig, StatusResult } from '../core/types.js';
import { Reflector, type ReflectorOptions } from './reflector.js';
import type { EngineContext } from './parts.js';

/** What the custom kinds need from the Monitor besides the session: its reflector set and its error bookkeeping. */
export interface CustomKindsHost {
  reflectorTuning(): Omit<ReflectorOptions, 'client' | 'rt' | 'namespace' | 'labelSelector' | 'events'>;
  adopt(r: Reflector): void;
  drop(r: Reflector): void;
  reportError(err: CategorizedError, scope: string): void;
  recovered(scope: string): void;
  checkDone(): void;
  /** An object left the push: what was derived from it goes. */
  forget(key: string): void;
}

export class CustomKinds {
  /** The custom kinds of the configuration and what is known of each. */
  private readonly kinds: CustomKindState[];
  /** The objects of custom kinds that belong to the pushed commit, by key. */
  private readonly found = new Map<string, { obj: KubeObject; ck: CustomKindState }>();
  /** Last computeCustomStatus() result per key, with the object it was computed from. */
  private readonly memo = new Map<string, { obj: KubeObject; res: StatusResult }>();
  /** Fires when the first custom kind's wait for its objects ends, to decide the verdict then. */
  private waitTimer?: NodeJS.Timeout;
  private readonly namespaces: string[];
  /** An object came, changed or went since the last recompute: the next one is a full one. */
  changed = false;

  constructor(
    private readonly m: EngineContext,
    config: MonitorConfig,
    private readonly host: CustomKindsHost,
  ) {
    this.kinds = config.custom_kinds.map((c) => ({ c, status: 'starting', scopes: 0, seen: false }));
    this.namespaces = config.namespaces;
  }

  /** The objects of the push, by key. */
  *objects(): IterableIterator<[string, KubeObject]> {
    for (const [key, { obj }] of this.found) yield [key, obj];
  }

  has(key: string): boolean {
    return this.found.has(key);
  }

  /** computeCustomStatus(), memoised on the object. */
  statusOf(key: string, obj: KubeObject): StatusResult {
    const m = this.memo.get(key);
    if (m?.obj === obj) return m.res;
    const ck = this.found.get(key)!.ck;
    const res = computeCustomStatus(obj, { condition: ck.c.condition, progressingReasons: ck.c.progressingReasons });
    this.memo.set(key, { obj, res });
    return res;
  }

  /** The kinds whose wait for a first object still runs (for a timeout's message). */
  stillAwaited(): string[] {
    return this.kinds.filter((ck) => ck.status === 'watching' && !ck.seen && ck.c.wait > 0 && !ck.expired).map((ck) => ck.c.kind);
  }

  stop(): void {
    clearTimeout(this.waitTimer);
  }

  /**
   * The custom kinds of `config.custom_kinds`: their discovery (no request when `apis`, the Flux discovery's
   * answer, is aggregated; else one per kind), then one LIST+WATCH per kind (per
   * configured namespace), with the pushed commit's label selector sent to the server. A kind the cluster does
   * not serve (CRD not installed), or that RBAC does not let us list, is reported once as a warning and not
   * followed; the session goes on with the others.
   */
  async start(apis?: ServedApis): Promise<void> {
    await Promise.all(
      this.kinds.map(async (ck) => {
        const what = `${ck.c.kind} (${ck.c.apiVersion})`;
        if (this.m.pushed.sha.length < 40 && [ck.c.labelSelector, ck.c.annotation?.value].some((t) => t?.includes('{sha}'))) {
          this.m.warn(`${what}: {sha} stands for the full commit sha, but only ${this.m.pushed.sha} is known (pass --revision with the full sha)`);
        }
        try {
          const d = await discoverCustom(this.m.client, ck.c, apis);
          if ('missing' in d) {
            ck.status = 'unavailable';
            this.m.warn(`${what} is not followed: ${d.missing}`);
            return;
          }
          ck.rt = d.rt;
        } catch (err) {
          ck.status = 'unavailable';
          const c = this.m.categorize(err);
          this.m.warn(`${what} is not followed: discovery failed: ${c.message}`);
          return;
        }
        let scopes: Array<string | undefined> = ck.c.namespaces.length ? ck.c.namespaces : [undefined];
        let results = await Promise.allSettled(scopes.map((ns) => this.startScope(ck, ns)));
        // Cluster-wide list forbidden: the namespaces of `config.namespaces`, as for the Flux kinds.
        const forbidden = (r: PromiseSettledResult<void>) => r.status === 'rejected' && r.reason instanceof ApiError && r.reason.status === 403;
        if (!ck.c.namespaces.length && forbidden(results[0]!) && this.namespaces.length) {
          scopes = [undefined, ...this.namespaces];
          results = [results[0]!, ...(await Promise.allSettled(this.namespaces.map((ns) => this.startScope(ck, ns))))];
        }
        const refused: string[] = [];
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') return;
          const c = this.m.categorize(r.reason);
          const where = scopes[i] ? `in namespace ${scopes[i]}` : 'cluster-wide';
          refused.push(`${where}: ${c.category === 'forbidden' ? `RBAC forbids listing ${ck.rt!.plural}.${ck.rt!.group} (grant get, list and watch)` : c.message}`);
        });
        ck.status = ck.scopes > 0 ? 'watching' : 'unavailable';
        if (refused.length) this.m.warn(`${what} is not followed ${refused.join('; ')}${ck.scopes > 0 ? `; followed in ${scopes.filter((ns, i) => ns && results[i]!.status === 'fulfilled').join(', ')}` : ''}`);
      }),
    );
  }

  private startScope(ck: CustomKindState, namespace?: string): Promise<void> {
    const rt = ck.rt!;
    const scope = `custom:${rt.kind}/${namespace ?? '*'}`;
    const keys = new Set<string>();
    const sha = this.m.pushed.sha;
    let started = false;
    const forget = (k: string) => {
      if (!keys.delete(k)) return;
      this.changed = true;
      this.found.delete(k);
      this.memo.delete(k);
      this.host.forget(k);
    };
    const keep = (o: KubeObject) => {
      const k = customKey(o);
      if (!matchesCustom(ck.c, o, sha)) return forget(k);
      keys.add(k);
      ck.seen = true;
      this.changed = true;
      this.found.set(k, { obj: slimCustomObject(o), ck });
    };
    const drop = () => {
      for (const k of [...keys]) forget(k);
    };
    const r = new Reflector({
      client: this.m.client,
      rt,
      namespace,
      labelSelector: customSelector(ck.c, sha),
      ...this.host.reflectorTuning(),
      events: {
        onReplace: (objs) => {
          drop();
          for (const o of objs) keep(o);
          this.m.schedule();
        },
        onUpsert: (o) => {
          keep(o);
          this.m.schedule();
        },
        onDelete: (o) => {
          forget(customKey(o));
          this.m.schedule();
        },
        onError: (err, fatal) => {
          // Refused at the start: startCustomKinds() says so once. Refused later (the CRD was deleted, RBAC
          // revoked): said once, and the kind is no longer followed.
          const refused = err.status === 400 || err.status === 403 || err.status === 404;
          if (refused && !started) return;
          if (refused) {
            // The list or the watch (404 on a resource that is gone) is refused: stop asking.
            r.stop();
            this.host.recovered(scope);
            drop();
            if (--ck.scopes === 0) ck.status = 'unavailable';
            this.m.warn(`${ck.c.kind} (${ck.c.apiVersion}) is no longer followed${namespace ? ` in ${namespace}` : ''}: ${err.message}`);
            this.m.schedule();
            return;
          }
          this.host.reportError(err, scope);
        },
        onRecovered: () => this.host.recovered(scope),
        onModeChange: (mode, reason) => {
          if (mode !== 'poll') return;
          this.m.warn(`watching ${rt.plural}.${rt.group}${namespace ? ` in ${namespace}` : ''} is not allowed${reason ? ` (${reason})` : ''}: polling instead`);
        },
      },
    });
    this.host.adopt(r);
    return r.start().then(
      () => {
        started = true;
        ck.scopes++;
      },
      (err) => {
        r.stop();
        this.host.drop(r);
        throw err;
      },
    );
  }

  /**
   * Whether the verdict waits for a custom kind whose objects have not appeared yet (`wait`, counted from the
   * session start). Says once what it waits for, and once when a wait ends without any object; arms a timer
   * for the end of the first wait.
   */
  awaiting(): boolean {
    const now = this.m.now();
    const short = this.m.pushed.sha.slice(0, 7);
    let next = Infinity;
    let waiting = false;
    for (const ck of this.kinds) {
      if (ck.status !== 'watching' || ck.seen || ck.c.wait <= 0 || ck.expired) continue;
      const until = this.m.state.startedAt + ck.c.wait * 1000;
      if (now >= until) {
        ck.expired = true;
        this.m.warn(`no ${ck.c.kind} of ${short} appeared within ${formatWait(ck.c.wait)} (${matchDescription(ck.c)}): the verdict does not include ${ck.c.kind}s`);
        continue;
      }
      waiting = true;
      next = Math.min(next, until);
      if (!ck.waitWarned) {
        ck.waitWarned = true;
        const span = Number.isFinite(ck.c.wait) ? `up to ${formatWait(ck.c.wait)} after the push` : 'until the session timeout';
        this.m.warn(`waiting ${span} for a ${ck.c.kind} of ${short} (${matchDescription(ck.c)}) before the verdict`);
      }
    }
    if (waiting && Number.isFinite(next) && !this.waitTimer) {
      this.waitTimer = setTimeout(() => {
        this.waitTimer = undefined;
        this.host.checkDone();
      }, Math.max(0, next - now) + 10);
      this.waitTimer.unref?.();
    }
    return waiting;
  }

}

/** One custom kind of the configuration during a session. */
export interface CustomKindState {
  c: CustomKindConfig;
  /** Its served resource, once discovered. */
  rt?: ResourceType;
  /** `watching`: at least one LIST+WATCH runs; `unavailable`: not served, refused, or gone (said once). */
  status: 'starting' | 'watching' | 'unavailable';
  /** LIST+WATCHes running (one per namespace, or one cluster-wide). */
  scopes: number;
  /** An object of the pushed commit has been seen. */
  seen: boolean;
  /** The verdict's wait for a first object is over without one (said once). */
  expired?: boolean;
  /** The verdict's wait was announced. */
  waitWarned?: boolean;
}

/** `60s`, `2m`, `1m30s`. */
function formatWait(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  return s % 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s / 60}m`;
}

/** How the objects of a custom kind are found, for messages: `label pipelinesascode.tekton.dev/sha={sha}`. */
function matchDescription(c: CustomKindConfig): string {
  const parts: string[] = [];
  if (c.labelSelector) parts.push(`label ${c.labelSelector}`);
  if (c.annotation) parts.push(`annotation ${c.annotation.key}=${c.annotation.value}`);
  return parts.join(', ');
}

