// Cluster access layer: the user's kubeconfig (read by kubeconfig.ts; @kubernetes/client-node, loaded only when
// needed, runs exec/OIDC auth plugins and proxies: the cluster's proxy-url, or HTTPS_PROXY/HTTP_PROXY as client-go
// picks them) and a small HTTP transport for list / watch / patch that counts
// every request it makes.
import http from 'node:http';
import https from 'node:https';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError, BadBodyError, MonitorError, WatchStallError } from './errors.js';
import { LineSplitter } from './lines.js';
import { resolveKubeconfig, type Impersonation, type ImpersonationOverride, type ResolvedKubeconfig } from './kubeconfig.js';
import { ListBodyParser } from './listbody.js';
import { redactUrl } from '../core/giturl.js';
import { sanitizeText } from '../core/sanitize.js';

export interface ClientStats {
  requests: number;
  byVerb: Record<string, number>;
  watchesOpen: number;
  watchesStarted: number;
  /** Bytes of watch streams looked at for a line end: at most the bytes received (no rescans). */
  watchScannedBytes: number;
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
   * one string. It must be a list (a JSON object whose `items` is an array, or null): anything else, or a body
   * that is not JSON, rejects with a BadBodyError, never resolves as "no objects".
   */
  list?: boolean;
  /** Largest body accepted, in bytes (default MAX_LIST_BYTES for a LIST, MAX_BODY_BYTES otherwise). */
  maxBytes?: number;
  /** The Accept header (default `application/json`), e.g. to ask for aggregated discovery (cluster/discovery.ts). */
  accept?: string;
  /** Told the status and Content-Type (the whole header, parameters included) of a 2xx answer before its body is read. */
  onResponse?(r: { status: number; contentType: string }): void;
}

/** Largest body of a non-LIST answer (an object, a discovery document, a diagnosis read). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Largest LIST body (10,000 Flux objects of 10 KB are 100 MB). */
export const MAX_LIST_BYTES = 256 * 1024 * 1024;
/** Bytes kept of an error answer (a Status, or a proxy's error page). */
export const MAX_ERROR_BODY_BYTES = 1024 * 1024;
/** Longest watch event line. */
export const MAX_WATCH_LINE_BYTES = 64 * 1024 * 1024;

/** What a LIST answers: a JSON object whose `items` is an array (or null, an empty list of some servers). */
export function isListBody(doc: unknown): doc is { items: unknown[] | null; metadata?: unknown } {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return false;
  const items = (doc as { items?: unknown }).items;
  return items === null || Array.isArray(items);
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
  /** The environment: KUBECONFIG, HOME, and the proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY). */
  env?: NodeJS.ProcessEnv;
  /** `--as`, `--as-group`, `--as-uid`: each one given replaces the kubeconfig's `as`, `as-groups`, `as-uid`. */
  impersonate?: ImpersonationOverride;
}

/** Loads the user's kubeconfig and resolves the context; errors are categorised as `config`. */
export function loadKubeConfig(opts: LoadOptions = {}): ResolvedKubeconfig {
  const env = opts.env ?? process.env;
  const paths = (opts.kubeconfig ?? env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const file = paths.length > 0 ? paths : [join(env.HOME ?? homedir(), '.kube', 'config')];
  const present = file.filter((p) => existsSync(p));
  if (present.length === 0 && opts.kubeconfig) {
    // The path the user gave: name it, and not the variables that a --kubeconfig overrides.
    throw new MonitorError({
      category: 'config',
      message: `kubeconfig ${file.join(', ')} (given with --kubeconfig) does not exist`,
      hint: 'Check the path given to --kubeconfig; without it, $KUBECONFIG or ~/.kube/config is used.',
    });
  }
  if (present.length === 0) {
    throw new MonitorError({
      category: 'config',
      message: `no kubeconfig found (looked at ${file.join(', ')})`,
      hint: 'Point KUBECONFIG or --kubeconfig at your cluster config, or try `flux-monitor demo` to see the tool without a cluster.',
    });
  }
  return resolveKubeconfig(present, opts.context, { env, impersonate: opts.impersonate });
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
  // A proxy of the environment (HTTPS_PROXY...) goes where the library looks for the kubeconfig's proxy-url.
  const proxy = cfg.proxy;
  if (proxy && proxy.from !== 'proxy-url') {
    const name = kc.getCurrentCluster()?.name;
    kc.clusters = kc.clusters.map((c) => (c.name === name ? { ...c, proxyUrl: proxy.url } : c));
  }
  return kc;
}

/** Go's header-key escaping of client-go (headerKeyEscape): bytes that are not token characters, and %, as %XX. */
function headerKeyEscape(key: string): string {
  let out = '';
  for (const b of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && /[A-Za-z0-9!#$&'*+\-.^_`|~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** UTF-8 text as the bytes of a header value (Node writes header strings as latin1). */
const headerBytes = (v: string) => Buffer.from(v, 'utf8').toString('latin1');

/** The Impersonate-* headers of client-go's impersonating round tripper. */
export function impersonationHeaders(imp: Impersonation): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { 'Impersonate-User': headerBytes(imp.user) };
  if (imp.uid) h['Impersonate-Uid'] = headerBytes(imp.uid);
  if (imp.groups.length) h['Impersonate-Group'] = imp.groups.map(headerBytes);
  for (const [k, values] of Object.entries(imp.extra)) h[`Impersonate-Extra-${headerKeyEscape(k)}`] = values.map(headerBytes);
  return h;
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
  readonly stats: ClientStats = { requests: 0, byVerb: {}, watchesOpen: 0, watchesStarted: 0, watchScannedBytes: 0 };
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
    const h = opts.headers as Record<string, string | string[]>;
    const cfg = this.config;
    const impersonate = () => {
      // Set here on both paths (the library sets only Impersonate-User, from the kubeconfig's `as`).
      for (const k of Object.keys(h)) if (/^impersonate-/i.test(k)) delete h[k];
      if (cfg.impersonate) Object.assign(h, impersonationHeaders(cfg.impersonate));
    };
    if (cfg.needsLibrary) {
      // Exec and auth-provider plugins, proxies: the library fills in TLS, the agent and the Authorization header.
      this.library ??= libraryKubeConfig(cfg);
      const kc = await this.library;
      try {
        await kc.applyToHTTPSOptions(opts);
      } catch (err) {
        // Typically an exec plugin that fails because the user is logged out of their cloud CLI.
        const first = sanitizeText(err instanceof Error ? err.message : String(err), { maxLength: 300 }).trim().split('\n')[0];
        if (cfg.proxy && cfg.needsLibrary === cfg.proxy.from) {
          throw new MonitorError({
            category: 'config',
            message: `cannot use the proxy of ${cfg.proxy.from}: ${first}`,
            hint: cfg.proxy.from === 'proxy-url' ? 'Fix the proxy-url of the cluster in the kubeconfig.' : `Fix ${cfg.proxy.from}, or add the cluster to NO_PROXY.`,
          });
        }
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
      impersonate();
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
    impersonate();
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

  /**
   * One request; resolves with the parsed JSON body or rejects with ApiError (non-2xx), BadBodyError (a 2xx body
   * that is not JSON, a LIST that is not a list, a body over the size limit: a transient `server-error`, never
   * "no objects") or a network error.
   */
  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const verb = method === 'GET' ? (path.includes('?') && /[?&]watch=/.test(path) ? 'watch' : 'get') : method.toLowerCase();
    this.count(o.statsVerb ?? verb);
    const headers: Record<string, string> = o.accept ? { Accept: o.accept } : {};
    let payload: string | undefined;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['Content-Type'] = o.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const req = await this.prepare(method, path, headers);
    const mod = req.url.protocol === 'http:' ? http : https;
    const maxBytes = o.maxBytes ?? (o.list ? MAX_LIST_BYTES : MAX_BODY_BYTES);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (err: unknown, value?: unknown) => {
        if (settled) return;
        settled = true;
        o.signal?.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(value as T);
      };
      // The abort listener holds the request, and through it the response: remove it once settled, or every
      // request made with a long-lived signal (all the LISTs of a reflector) would stay in memory.
      const onAbort = () => r.destroy(new Error('aborted'));
      const r = mod.request(req.url, req, (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const type = String(res.headers['content-type'] ?? 'no Content-Type').split(';')[0]!.trim();
        const bad = (what: string) => new BadBodyError(status, path, what);
        if (ok) o.onResponse?.({ status, contentType: String(res.headers['content-type'] ?? '') });
        // A body that never ends (or a huge one) is cut off: a 2xx one is a BadBodyError; an error answer keeps
        // its first bytes, enough for a Status or an error page.
        const limit = ok ? maxBytes : Math.min(maxBytes, MAX_ERROR_BODY_BYTES);
        let received = 0;
        let chunks: Buffer[] = [];
        let parser: ListBodyParser | undefined = o.list && ok ? new ListBodyParser() : undefined;
        let parseError = false;
        const finishError = () => {
          const text = Buffer.concat(chunks).toString('utf8');
          chunks = [];
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* keep text */
          }
          settle(new ApiError(status, path, body, parseRetryAfter(res.headers['retry-after'])));
        };
        res.on('data', (c: Buffer) => {
          if (settled) return;
          received += c.length;
          if (received > limit) {
            if (ok) settle(bad(`a body larger than ${limit} bytes (${type})`));
            else finishError();
            r.destroy();
            return;
          }
          if (!parser) {
            chunks.push(c);
            return;
          }
          if (parseError) return;
          try {
            parser.write(c);
          } catch {
            parseError = true;
          }
        });
        res.on('error', (err) => settle(err));
        // A response cut short without an error (e.g. the socket closed with no 'end'): not a complete answer.
        res.on('close', () => {
          if (!res.complete) settle(Object.assign(new Error('the response was cut short'), { code: 'ECONNRESET' }));
        });
        res.on('end', () => {
          if (settled) return;
          if (!ok) return finishError();
          if (parser) {
            let doc: unknown;
            let valid = !parseError;
            if (valid) {
              try {
                doc = parser.end();
              } catch {
                valid = false;
              }
            }
            parser = undefined;
            if (valid && doc === undefined) return settle(bad('an empty body'));
            if (!valid) return settle(bad(`a body that is not JSON or is cut short (${type}, ${received} bytes)`));
            if (!isListBody(doc)) return settle(bad(`JSON that is not a list (${type})`));
            return settle(undefined, doc);
          }
          const text = Buffer.concat(chunks).toString('utf8');
          chunks = [];
          // 204 No Content is the one answer without a body; any other 2xx carries a JSON document.
          if (status === 204 && !text.trim()) return settle(undefined, undefined);
          if (!text.trim()) return settle(bad('an empty body'));
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            return settle(bad(`a body that is not JSON or is cut short (${type}, ${received} bytes)`));
          }
          settle(undefined, body);
        });
      });
      r.on('error', (err) => settle(err));
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
        let kept = 0;
        const answer = () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* keep text */
          }
          finish(new ApiError(status, path, body, parseRetryAfter(res.headers['retry-after'])));
        };
        res.on('data', (c: Buffer) => {
          // An error page that never ends: its first bytes are enough.
          if (kept + c.length > MAX_ERROR_BODY_BYTES) return answer();
          chunks.push(c);
          kept += c.length;
        });
        res.on('end', answer);
        res.on('error', finish);
        return;
      }
      armStall();
      cb.onOpen?.();
      const lines = new LineSplitter(MAX_WATCH_LINE_BYTES);
      const onLine = (text: string): boolean => {
        const line = text.trim();
        if (!line) return true;
        let ev: WatchEvent;
        try {
          ev = JSON.parse(line) as WatchEvent;
        } catch {
          finish(Object.assign(new Error('malformed watch frame'), { code: 'EPROTO_FRAME' }));
          return false;
        }
        if (closed) return false;
        // Valid JSON that is not a watch event (no type, an object without metadata or name...) is as broken.
        if (!isWatchEvent(ev)) {
          finish(Object.assign(new Error('malformed watch frame'), { code: 'EPROTO_FRAME' }));
          return false;
        }
        cb.onEvent(ev);
        return !closed;
      };
      res.on('data', (chunk: Buffer) => {
        if (closed) return;
        armStall();
        const before = lines.scanned;
        const result = lines.write(chunk, onLine);
        this.stats.watchScannedBytes += lines.scanned - before;
        // A frame that never ends is as broken as a malformed one.
        if (result === 'too-large') finish(Object.assign(new Error('watch frame too large'), { code: 'EPROTO_FRAME' }));
      });
      // A stream that ends in the middle of a frame (an HTML page without a final newline, a cut connection) did
      // not end normally: reopening it at once, silently, would loop on a proxy that answers every watch so.
      const ended = () => finish(lines.pending > 0 ? Object.assign(new Error('malformed watch frame'), { code: 'EPROTO_FRAME' }) : undefined);
      res.on('end', ended);
      res.on('error', finish);
      res.on('close', ended);
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
