// LIST + WATCH of one kind in one scope (cluster-wide or one namespace), kept in sync like client-go's reflector:
// resume from the last resourceVersion, relist on 410 Gone, fall back to polling when watch is refused.
// Requests made grow with the number of kinds and scopes, never with the number of objects.
//
// What is an error: a request that fails (network, 5xx, 401...). What is not: a relist after 410 Gone, a watch the
// server ends or that stays quiet (re-opened), a short 429 waited out as Retry-After asks (an apiserver that is
// starting answers "storage is (re)initializing" for a moment). client-go's informers do all of these silently.
// A 2xx LIST whose body is not a list (an HTML login page, JSON cut short) is a transient failure, retried like a
// 503: the kind keeps the objects it knew. Retry-After is honoured on 429 and 5xx answers alike.
import pRetry, { AbortError } from 'p-retry';
import type { KubeObject, CategorizedError } from '../core/types.js';
import { isKubeObject, type ClusterClient, type WatchHandle } from '../cluster/client.js';
import type { ResourceType } from '../cluster/discovery.js';
import { ApiError, BadBodyError, categorize, isTransient, WatchStallError } from '../cluster/errors.js';

export interface ReflectorEvents {
  /** The full set of objects in scope after a (re)list: the consumer replaces what it had for this scope. */
  onReplace(objects: KubeObject[]): void;
  onUpsert(obj: KubeObject): void;
  onDelete(obj: KubeObject): void;
  /** A failed request; `fatal` failures stop the reflector (e.g. 403/404 on the list itself). */
  onError(err: CategorizedError, fatal: boolean): void;
  /** Communication works again after errors (a list succeeded or a watch was accepted). Once per failure period. */
  onRecovered(): void;
  /** `reason` says why (e.g. the watch verb was refused with HTTP 403). */
  onModeChange?(mode: 'watch' | 'poll', reason?: string): void;
}

export interface ReflectorOptions {
  client: ClusterClient;
  rt: ResourceType;
  /** Undefined = cluster-wide. */
  namespace?: string;
  /** Server-side label selector of the LIST and WATCH requests (custom kinds: the pushed commit's label). */
  labelSelector?: string;
  events: ReflectorEvents;
  /** Current polling interval (ms), asked each time: the engine adapts it to activity. */
  pollIntervalMs(): number;
  /** Force polling (no watch). */
  pollOnly?: boolean;
  /** No bytes on an open watch for this long: it is re-opened (silently; only a failing re-open is reported). */
  stallMs?: number;
  /** Page size of LIST requests (default: no paging, one request per list). */
  pageSize?: number;
  /** Base delay of backoff (ms), for tests. */
  backoffMs?: number;
  /** Max delay of backoff (ms). */
  maxBackoffMs?: number;
  /** How the reflector waits between attempts (tests record the delays asked; default: a timer). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

interface KubeList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubeObject[];
}

/**
 * 429 answers in a row that are waited out (as Retry-After asks) before throttling is reported: like client-go's
 * REST client, which retries them 10 times before its caller hears of it. A starting apiserver answers 429
 * "storage is (re)initializing" for a second or two; that is not news.
 */
export const QUIET_THROTTLES = 10;

const timerSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class Reflector {
  private readonly ac = new AbortController();
  private watchHandle?: WatchHandle;
  private rv = '';
  private known = new Map<string, string>(); // uid or ns/name -> resourceVersion, for poll diffs
  private failing = false;
  /** 429 answers in a row (reset by any success). */
  private throttled = 0;
  /** Delay before the next watch attempt asked by the server (Retry-After of a 429 or a 5xx). */
  private retryAfterMs?: number;
  private stopped = false;
  mode: 'watch' | 'poll';
  private pollReason?: string;
  /** Number of LISTs done (including relists after 410). */
  lists = 0;

  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(private readonly o: ReflectorOptions) {
    this.mode = o.pollOnly ? 'poll' : 'watch';
    this.sleep = o.sleep ?? timerSleep;
  }

  get path(): string {
    const { group, version, plural } = this.o.rt;
    return this.o.namespace ? `/apis/${group}/${version}/namespaces/${encodeURIComponent(this.o.namespace)}/${plural}` : `/apis/${group}/${version}/${plural}`;
  }

  /** Runs until stop(); resolves after the first successful list (or rejects on a fatal list error). */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let first = true;
      this.loop(() => {
        if (first) {
          first = false;
          resolve();
        }
      }).catch((err) => {
        if (first) {
          first = false;
          reject(err);
        }
      });
    });
  }

  stop(): void {
    this.stopped = true;
    this.ac.abort();
    this.watchHandle?.abort();
  }

  private fail(err: unknown, fatal: boolean): void {
    this.failing = true;
    this.o.events.onError(categorize(err, this.o.client.displayServer), fatal);
  }

  /** A failure that is reported, unless it is one of the first QUIET_THROTTLES 429s in a row. */
  private failOrWait(err: unknown): void {
    if (err instanceof ApiError && err.status === 429 && ++this.throttled <= QUIET_THROTTLES) return;
    this.fail(err, false);
  }

  private ok(): void {
    this.throttled = 0;
    if (this.failing) {
      this.failing = false;
      this.o.events.onRecovered();
    }
  }

  /** LIST with pagination and retries on transient errors (network, 5xx, 429 honouring Retry-After). */
  private async list(): Promise<ListResult> {
    return pRetry(
      async () => {
        if (this.stopped) throw new AbortError('stopped');
        const items: KubeObject[] = [];
        let cont: string | undefined;
        let rv = '';
        do {
          // One request per kind by default: requests must not grow with the number of objects.
          const q = new URLSearchParams(this.o.pageSize ? { limit: String(this.o.pageSize) } : {});
          if (this.o.labelSelector) q.set('labelSelector', this.o.labelSelector);
          if (cont) q.set('continue', cont);
          let page: KubeList;
          try {
            const qs = q.toString();
            page = await this.o.client.request<KubeList>('GET', qs ? `${this.path}?${qs}` : this.path, { signal: this.ac.signal, list: true });
          } catch (err) {
            // An expired continue token: start the list again from the beginning.
            if (err instanceof ApiError && err.status === 410 && cont) {
              cont = undefined;
              items.length = 0;
              continue;
            }
            throw err;
          }
          // Not a list (the client rejects such bodies; this guards any other client): never "no objects", which
          // would forget every object of the kind. A transient failure: the kind keeps what it knew.
          if (!page || typeof page !== 'object' || Array.isArray(page) || (page.items !== null && !Array.isArray(page.items))) {
            throw new BadBodyError(200, this.path, 'JSON that is not a list');
          }
          for (const it of Array.isArray(page.items) ? page.items : []) {
            if (!isKubeObject(it)) continue; // not an object the API could have stored: nothing to monitor
            // Lists omit kind/apiVersion on items.
            it.kind ??= this.o.rt.kind;
            it.apiVersion ??= this.o.rt.apiVersion;
            items.push(it);
          }
          rv = typeof page?.metadata?.resourceVersion === 'string' ? page.metadata.resourceVersion : rv;
          cont = typeof page?.metadata?.continue === 'string' && page.metadata.continue ? page.metadata.continue : undefined;
        } while (cont);
        this.lists++;
        return { items, resourceVersion: rv };
      },
      {
        retries: Number.MAX_SAFE_INTEGER,
        minTimeout: this.o.backoffMs ?? 500,
        maxTimeout: this.o.maxBackoffMs ?? 30_000,
        factor: 2,
        randomize: true,
        signal: this.ac.signal,
        shouldRetry: ({ error }) => !this.stopped && isTransient(error),
        onFailedAttempt: async ({ error }) => {
          if (this.stopped) return;
          this.failOrWait(error);
          const ra = (error as ApiError).retryAfterMs;
          if (ra) await this.sleep(Math.min(ra, 60_000), this.ac.signal);
        },
      },
    );
  }

  /** Lists and replaces what is known (an Error carrying the failure as its cause when the list failed). */
  private async relist(): Promise<true | Error> {
    let res: ListResult;
    try {
      res = await this.list();
    } catch (err) {
      return new Error('list failed', { cause: err });
    }
    this.ok();
    this.replace(res);
    return true;
  }

  private replace(res: ListResult): void {
    this.rv = res.resourceVersion;
    this.known = new Map(res.items.map((o) => [objId(o), o.metadata.resourceVersion ?? '']));
    this.o.events.onReplace(res.items);
  }

  private async loop(onFirstList: () => void): Promise<void> {
    let needList = true;
    let backoff = this.o.backoffMs ?? 500;
    while (!this.stopped) {
      if (needList) {
        // In its own function: a list held in this loop's frame would stay alive for the life of the watch
        // (the suspended async function keeps it), a second copy of every object the watch has since replaced.
        const listed = await this.relist();
        if (listed instanceof Error) {
          if (this.stopped) return;
          const err = listed.cause;
          // Not transient (401/403/404...): report; a 401 may heal (refreshed token), so keep trying slowly. A 400
          // (a label selector the server refuses) never heals.
          this.fail(err, true);
          if (err instanceof ApiError && (err.status === 400 || err.status === 403 || err.status === 404)) throw err;
          await this.sleep(Math.min(backoff *= 2, this.o.maxBackoffMs ?? 30_000), this.ac.signal);
          continue;
        }
        onFirstList();
        needList = false;
        backoff = this.o.backoffMs ?? 500;
      }
      if (this.stopped) return;
      if (this.mode === 'poll') {
        await this.sleep(this.o.pollIntervalMs(), this.ac.signal);
        if (this.stopped) return;
        try {
          await this.listAndDiff();
        } catch (err) {
          if (this.stopped) return;
          this.fail(err, false);
          await this.sleep(Math.min(backoff *= 2, this.o.maxBackoffMs ?? 30_000), this.ac.signal);
        }
        continue;
      }
      const outcome = await this.watchOnce();
      if (this.stopped) return;
      if (outcome === 'relist') needList = true;
      else if (outcome === 'poll') {
        this.mode = 'poll';
        this.o.events.onModeChange?.('poll', this.pollReason);
      } else if (outcome === 'retry') {
        const ra = this.retryAfterMs;
        this.retryAfterMs = undefined;
        await this.sleep(ra !== undefined ? Math.min(Math.max(ra, backoff), 60_000) : Math.min(backoff, this.o.maxBackoffMs ?? 30_000), this.ac.signal);
        backoff = Math.min(backoff * 2, this.o.maxBackoffMs ?? 30_000);
      } else backoff = this.o.backoffMs ?? 500;
    }
  }

  /** One poll: a list compared with what we knew (in its own function, so the list is not kept; see loop()). */
  private async listAndDiff(): Promise<void> {
    const res = await this.list();
    this.ok();
    this.diff(res);
  }

  /** Compares a fresh list with what we knew and reports the differences (polling mode). */
  private diff(res: ListResult): void {
    const next = new Map<string, string>();
    for (const o of res.items) {
      const id = objId(o);
      const rv = o.metadata.resourceVersion ?? '';
      next.set(id, rv);
      if (this.known.get(id) !== rv) this.o.events.onUpsert(o);
    }
    for (const [id] of this.known) {
      if (!next.has(id)) {
        const [namespace, name] = id.split('/');
        this.o.events.onDelete({ apiVersion: this.o.rt.apiVersion, kind: this.o.rt.kind, metadata: { namespace, name: name! } });
      }
    }
    this.known = next;
    this.rv = res.resourceVersion;
  }

  /** One watch stream. Resolves with what to do next. */
  private watchOnce(): Promise<'resume' | 'relist' | 'poll' | 'retry'> {
    return new Promise((resolve) => {
      let gotEvent = false;
      const settle = (v: 'resume' | 'relist' | 'poll' | 'retry') => {
        this.watchHandle = undefined;
        resolve(v);
      };
      // Like client-go: ask the server to end the watch after a random 5-10 minutes, then resume.
      const timeoutSeconds = String(300 + Math.floor(Math.random() * 300));
      this.o.client
        .watch(
          this.path,
          { resourceVersion: this.rv, allowWatchBookmarks: 'true', timeoutSeconds, ...(this.o.labelSelector ? { labelSelector: this.o.labelSelector } : {}) },
          {
            // A watch the server accepts means the cluster is reachable again, even before any event.
            onOpen: () => this.ok(),
            onEvent: (ev) => {
              if (!gotEvent && ev.type !== 'ERROR') {
                gotEvent = true;
                this.ok();
              }
              const obj = ev.object as KubeObject;
              switch (ev.type) {
                case 'ADDED':
                case 'MODIFIED':
                  obj.kind ??= this.o.rt.kind;
                  obj.apiVersion ??= this.o.rt.apiVersion;
                  this.rv = obj.metadata?.resourceVersion ?? this.rv;
                  this.known.set(objId(obj), obj.metadata?.resourceVersion ?? '');
                  this.o.events.onUpsert(obj);
                  break;
                case 'DELETED':
                  obj.kind ??= this.o.rt.kind;
                  this.rv = obj.metadata?.resourceVersion ?? this.rv;
                  this.known.delete(objId(obj));
                  this.o.events.onDelete(obj);
                  break;
                case 'BOOKMARK': {
                  const rv: unknown = obj?.metadata?.resourceVersion;
                  if (typeof rv === 'string' && rv) this.rv = rv;
                  break;
                }
                case 'ERROR': {
                  const code = (ev.object as { code?: number })?.code;
                  if (code === 410) {
                    // Expired resourceVersion (compaction, an apiserver restart): relisting is routine, not an error.
                    this.watchHandle?.abort();
                    settle('relist');
                  } else {
                    this.fail(new ApiError(code ?? 500, this.path, ev.object), false);
                    this.watchHandle?.abort();
                    settle('relist');
                  }
                  break;
                }
              }
            },
            onClose: (err) => {
              // Ended by the server (timeoutSeconds), or quiet for stallMs: re-open it; a failing re-open is reported.
              // A stream that ended normally without a single event (not even a bookmark) is re-opened after a
              // backoff, silently, as client-go does with a "very short watch": a proxy that answers every watch
              // 200 and closes would otherwise be asked again at once, in a tight loop.
              if (!err && !gotEvent) return settle('retry');
              if (!err || err instanceof WatchStallError) return settle('resume');
              if (err instanceof ApiError) {
                if (err.status === 410) return settle('relist');
                // The server refuses the watch verb (RBAC without watch, proxies without streaming): poll instead.
                // Not an error state: the monitor says so once, as a warning, when the mode changes.
                if (err.status === 403 || err.status === 405 || err.status === 501) {
                  this.pollReason = `HTTP ${err.status}`;
                  return settle('poll');
                }
                if (err.status === 429) {
                  this.failOrWait(err);
                  this.retryAfterMs = err.retryAfterMs;
                  return settle('retry');
                }
                // A 503 (or any 5xx) with Retry-After: the server says when to come back, as for a 429.
                if (err.status >= 500) this.retryAfterMs = err.retryAfterMs;
              }
              this.fail(err, false);
              settle('retry');
            },
          },
          this.o.stallMs,
        )
        .then(
          (h) => {
            if (this.stopped) h.abort();
            else this.watchHandle = h;
          },
          (err) => {
            this.fail(err, false);
            settle('retry');
          },
        );
    });
  }
}

function objId(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}
