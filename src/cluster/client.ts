// Cluster access layer: the user's kubeconfig (read by kubeconfig.ts; @kubernetes/client-node, loaded only when
// needed, runs exec/OIDC auth plugins and proxies) and a small HTTP transport for list / watch / patch that counts
// every request it makes.
import http from 'node:http';
import https from 'node:https';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError, MonitorError, WatchStallError } from './errors.js';
import { resolveKubeconfig, type ResolvedKubeconfig } from './kubeconfig.js';
import { ListBodyParser } from './listbody.js';
import { redactUrl } from '../core/giturl.js';
import { sanitizeText } from '../core/sanitize.js';

export interface ClientStats {
  requests: number;
  byVerb: Record<string, number>;
  watchesOpen: number;
  watchesStarted: number;
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Counted under this name in stats.byVerb instead of the HTTP verb (e.g. 'confirm' for the verdict's check). */
  statsVerb?: string;
  /**
   * A LIST: a successful body is parsed as it arrives, item by item (ListBodyParser), instead of as one buffer and
   * one string. A body that is not JSON then resolves as an empty string (no items) instead of its text.
   */
  list?: boolean;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR' | string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  object: any;
}

export interface WatchHandle {
  /** Stop the watch; `onClose` is not called after this. */
  abort(): void;
}

export interface WatchCallbacks {
  /** The server accepted the watch (HTTP 200): the stream is open, even if no event comes for a while. */
  onOpen?(): void;
  onEvent(ev: WatchEvent): void;
  /** The stream ended: `err` is undefined when the server closed it normally. */
  onClose(err?: unknown): void;
}

export interface LoadOptions {
  /** Path(s) of the kubeconfig (default: $KUBECONFIG, then ~/.kube/config). */
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
}

/** Loads the user's kubeconfig and resolves the context; errors are categorised as `config`. */
export function loadKubeConfig(opts: LoadOptions = {}): ResolvedKubeconfig {
  const env = opts.env ?? process.env;
  const paths = (opts.kubeconfig ?? env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const file = paths.length > 0 ? paths : [join(env.HOME ?? homedir(), '.kube', 'config')];
  const present = file.filter((p) => existsSync(p));
  if (present.length === 0) {
    throw new MonitorError({
      category: 'config',
      message: `no kubeconfig found (looked at ${file.join(', ')})`,
      hint: 'Point KUBECONFIG or --kubeconfig at your cluster config, or try `flux-monitor demo` to see the tool without a cluster.',
    });
  }
  return resolveKubeconfig(present, opts.context);
}

/** The same files and context in @kubernetes/client-node, for the auth plugins and proxies it implements. */
async function libraryKubeConfig(cfg: ResolvedKubeconfig): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (cfg.files.length === 1) kc.loadFromFile(cfg.files[0]!);
    else {
      // Merge like kubectl: the first file that sets current-context wins.
      const merged = new KubeConfig();
      for (const p of cfg.files) {
        const one = new KubeConfig();
        one.loadFromFile(p);
        merged.mergeConfig(one, true);
        if (!merged.currentContext) merged.setCurrentContext(one.currentContext);
      }
      kc.loadFromString(merged.exportConfig());
    }
  } catch (err) {
    throw new MonitorError({
      category: 'config',
      message: `cannot read kubeconfig ${cfg.files.join(', ')}: ${(err as Error).message.split('\n')[0]}`,
      hint: 'Fix the kubeconfig file (try `kubectl config view`).',
    });
  }
  kc.setCurrentContext(cfg.contextName);
  return kc;
}

/** An object as the API returns it, enough for the engine: metadata with a name, string fields where strings belong. */
export function isKubeObject(o: unknown): o is KubeObjectShape {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return false;
  const { kind, apiVersion, metadata: m } = o as { kind?: unknown; apiVersion?: unknown; metadata?: unknown };
  if ((kind !== undefined && typeof kind !== 'string') || (apiVersion !== undefined && typeof apiVersion !== 'string')) return false;
  if (!m || typeof m !== 'object' || Array.isArray(m)) return false;
  const { name, namespace, resourceVersion } = m as { name?: unknown; namespace?: unknown; resourceVersion?: unknown };
  return (
    typeof name === 'string' &&
    name !== '' &&
    (namespace === undefined || typeof namespace === 'string') &&
    (resourceVersion === undefined || typeof resourceVersion === 'string')
  );
}
type KubeObjectShape = { kind?: string; apiVersion?: string; metadata: { name: string; namespace?: string; resourceVersion?: string } };

/** A watch event: a string type; an object that isKubeObject() for ADDED/MODIFIED/DELETED; metadata for BOOKMARK. */
function isWatchEvent(ev: unknown): ev is WatchEvent {
  if (!ev || typeof ev !== 'object' || Array.isArray(ev)) return false;
  const { type, object } = ev as { type?: unknown; object?: unknown };
  if (typeof type !== 'string') return false;
  if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') return isKubeObject(object);
  if (type === 'BOOKMARK') return !!object && typeof object === 'object' && !!(object as { metadata?: unknown }).metadata;
  return true; // ERROR (its object may be anything) and types added by future servers, which are ignored
}

function parseRetryAfter(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const n = Number(s);
  if (Number.isFinite(n)) return Math.max(0, n * 1000);
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/** Kubernetes REST client with request accounting. */
export class ClusterClient {
  readonly stats: ClientStats = { requests: 0, byVerb: {}, watchesOpen: 0, watchesStarted: 0 };
  readonly server: string;
  readonly contextName: string;
  /** Default namespace of the context, if it sets one. */
  readonly namespace?: string;
  private agent?: https.Agent;
  private library?: Promise<KubeConfig>;

  constructor(readonly config: ResolvedKubeconfig) {
    this.server = config.server;
    this.contextName = config.contextName;
    this.namespace = config.namespace;
  }

  /** The server URL without credentials, for display. */
  get displayServer(): string {
    return redactUrl(this.server);
  }

  private count(verb: string): void {
    this.stats.requests++;
    this.stats.byVerb[verb] = (this.stats.byVerb[verb] ?? 0) + 1;
  }

  private async prepare(method: string, path: string, headers: Record<string, string>): Promise<http.RequestOptions & { url: URL }> {
    const url = new URL(this.server + path);
    const opts: https.RequestOptions = { method, headers: { Accept: 'application/json', 'User-Agent': 'flux-monitor', ...headers } };
    const h = opts.headers as Record<string, string>;
    const cfg = this.config;
    if (cfg.needsLibrary) {
      // Exec and auth-provider plugins, proxies: the library fills in TLS, the agent and the Authorization header.
      this.library ??= libraryKubeConfig(cfg);
      const kc = await this.library;
      try {
        await kc.applyToHTTPSOptions(opts);
      } catch (err) {
        // Typically an exec plugin that fails because the user is logged out of their cloud CLI.
        const first = sanitizeText(err instanceof Error ? err.message : String(err), { maxLength: 300 }).trim().split('\n')[0];
        throw new MonitorError({
          category: 'unauthorized',
          message: `the kubeconfig's credential plugin (${cfg.needsLibrary}) failed: ${first}`,
          hint: 'Log in again with the tool the plugin uses (e.g. `aws sso login`, `gcloud auth login`, `az login`), then check `kubectl auth whoami`.',
        });
      }
      if (opts.auth) {
        // Basic auth from the kubeconfig: pass it as a header, never in the URL.
        h.Authorization = 'Basic ' + Buffer.from(opts.auth).toString('base64');
        delete opts.auth;
      }
      return { ...opts, url };
    }
    if (url.protocol === 'https:') {
      const { ca, cert, key, insecure, servername } = cfg.tls;
      this.agent ??= new https.Agent({ keepAlive: true, ca, cert, key, rejectUnauthorized: !insecure, servername });
      opts.agent = this.agent;
    }
    const auth = cfg.auth;
    if (auth.type === 'token') h.Authorization = `Bearer ${auth.token}`;
    else if (auth.type === 'tokenFile') h.Authorization = `Bearer ${this.readTokenFile(auth.path)}`;
    else if (auth.type === 'basic') h.Authorization = 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
    return { ...opts, url };
  }

  /** A tokenFile is read on every request: the token in it may be rotated (projected service account tokens). */
  private readTokenFile(path: string): string {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new MonitorError({
        category: 'config',
        message: `cannot read the token file ${path} named in the kubeconfig: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        hint: 'Fix the kubeconfig file (try `kubectl config view`).',
      });
    }
  }

  /** One request; resolves with the parsed JSON body or rejects with ApiError / a network error. */
  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const verb = method === 'GET' ? (path.includes('?') && /[?&]watch=/.test(path) ? 'watch' : 'get') : method.toLowerCase();
    this.count(o.statsVerb ?? verb);
    const headers: Record<string, string> = {};
    let payload: string | undefined;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['Content-Type'] = o.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const req = await this.prepare(method, path, headers);
    const mod = req.url.protocol === 'http:' ? http : https;
    return new Promise<T>((resolve, reject) => {
      // The abort listener holds the request, and through it the response: remove it once settled, or every
      // request made with a long-lived signal (all the LISTs of a reflector) would stay in memory.
      const onAbort = () => r.destroy(new Error('aborted'));
      const done = () => o.signal?.removeEventListener('abort', onAbort);
      const r = mod.request(req.url, req, (res) => {
        const status = res.statusCode ?? 0;
        if (o.list && status >= 200 && status < 300) {
          const parser = new ListBodyParser();
          let failed = false;
          res.on('data', (c: Buffer) => {
            if (failed) return;
            try {
              parser.write(c);
            } catch {
              failed = true;
            }
          });
          res.on('error', (err) => {
            done();
            reject(err);
          });
          res.on('end', () => {
            done();
            let body: unknown = '';
            if (!failed) {
              try {
                body = parser.end();
              } catch {
                body = '';
              }
            }
            resolve(body as T);
          });
          return;
        }
        let chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => {
          done();
          reject(err);
        });
        res.on('end', () => {
          done();
          const text = Buffer.concat(chunks).toString('utf8');
          chunks = [];
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* keep text */
          }
          if (status >= 200 && status < 300) resolve(body as T);
          else reject(new ApiError(status, path, body, parseRetryAfter(res.headers['retry-after'])));
        });
      });
      r.on('error', (err) => {
        done();
        reject(err);
      });
      const timeout = o.timeoutMs ?? 30_000;
      r.setTimeout(timeout, () => r.destroy(Object.assign(new Error(`request timed out after ${timeout} ms`), { code: 'ETIMEDOUT' })));
      if (o.signal) {
        if (o.signal.aborted) r.destroy(new Error('aborted'));
        else o.signal.addEventListener('abort', onAbort, { once: true });
      }
      if (payload !== undefined) r.write(payload);
      r.end();
    });
  }

  /**
   * Opens a watch stream (`?watch=true`) and reports each event. Malformed frames end the stream with an error.
   * A request the server does not answer within `openTimeoutMs` fails (ETIMEDOUT: the cluster cannot be reached).
   * An accepted stream that stays silent for `stallMs` (bookmarks keep a healthy stream busy; without them a quiet
   * kind sends nothing) ends with a WatchStallError: not a failure, the caller re-opens it.
   */
  async watch(path: string, query: Record<string, string>, cb: WatchCallbacks, stallMs = 90_000, openTimeoutMs = 30_000): Promise<WatchHandle> {
    this.count('watch');
    const qs = new URLSearchParams({ ...query, watch: 'true' }).toString();
    const req = await this.prepare('GET', `${path}?${qs}`, {});
    const mod = req.url.protocol === 'http:' ? http : https;
    let closed = false;
    let aborted = false;
    let stallTimer: NodeJS.Timeout | undefined;
    this.stats.watchesStarted++;
    this.stats.watchesOpen++;
    const finish = (err?: unknown) => {
      if (closed) return;
      closed = true;
      this.stats.watchesOpen--;
      if (stallTimer) clearTimeout(stallTimer);
      r.destroy();
      if (!aborted) cb.onClose(err);
    };
    const armStall = () => {
      if (stallTimer) clearTimeout(stallTimer);
      stallTimer = setTimeout(() => finish(new WatchStallError(stallMs)), stallMs);
      stallTimer.unref();
    };
    // Until the server answers, silence is a failed request, not a quiet watch.
    stallTimer = setTimeout(
      () => finish(Object.assign(new Error(`no answer to a watch request within ${openTimeoutMs} ms`), { code: 'ETIMEDOUT' })),
      openTimeoutMs,
    );
    stallTimer.unref();
    const r = mod.request(req.url, req, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* keep text */
          }
          finish(new ApiError(status, path, body, parseRetryAfter(res.headers['retry-after'])));
        });
        res.on('error', finish);
        return;
      }
      armStall();
      cb.onOpen?.();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        armStall();
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          let ev: WatchEvent;
          try {
            ev = JSON.parse(line) as WatchEvent;
          } catch {
            finish(Object.assign(new Error('malformed watch frame'), { code: 'EPROTO_FRAME' }));
            return;
          }
          if (closed) return;
          // Valid JSON that is not a watch event (no type, an object without metadata or name...) is as broken.
          if (!isWatchEvent(ev)) {
            finish(Object.assign(new Error('malformed watch frame'), { code: 'EPROTO_FRAME' }));
            return;
          }
          cb.onEvent(ev);
        }
        // A frame that never ends is as broken as a malformed one.
        if (buf.length > 64 * 1024 * 1024) finish(new Error('watch frame too large'));
      });
      res.on('end', () => finish());
      res.on('error', finish);
      res.on('close', () => finish());
    });
    r.on('error', finish);
    r.end();
    return {
      abort: () => {
        aborted = true;
        finish();
      },
    };
  }
}
