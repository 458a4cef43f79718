// Cluster access layer: the user's kubeconfig (through @kubernetes/client-node, which also runs exec/OIDC auth
// plugins) and a small HTTP transport for list / watch / patch that counts every request it makes.
import http from 'node:http';
import https from 'node:https';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, MonitorError } from './errors.js';
import { redactUrl } from '../core/giturl.js';

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

/** Loads the user's kubeconfig; errors are categorised as `config`. */
export function loadKubeConfig(opts: LoadOptions = {}): KubeConfig {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
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
  try {
    if (present.length === 1) kc.loadFromFile(present[0]!);
    else {
      // Merge like kubectl: the first file that sets current-context wins.
      const merged = new KubeConfig();
      for (const p of present) {
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
      message: `cannot read kubeconfig ${present.join(', ')}: ${(err as Error).message.split('\n')[0]}`,
      hint: 'Fix the kubeconfig file (try `kubectl config view`).',
    });
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      const names = kc.getContexts().map((c) => c.name);
      throw new MonitorError({
        category: 'config',
        message: `context "${opts.context}" is not in the kubeconfig`,
        hint: names.length ? `Known contexts: ${names.join(', ')}.` : 'The kubeconfig has no contexts.',
      });
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new MonitorError({
      category: 'config',
      message: kc.currentContext ? `context "${kc.currentContext}" has no cluster server` : 'the kubeconfig has no current context',
      hint: 'Select a context with --context or `kubectl config use-context`.',
    });
  }
  return kc;
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

  constructor(readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new MonitorError({ category: 'config', message: 'no current cluster in kubeconfig', hint: 'Use --context.' });
    this.server = cluster.server.replace(/\/+$/, '');
    this.contextName = kc.currentContext;
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
    // Fills in TLS material, the agent (incl. proxies) and the Authorization header (tokens, exec plugins, OIDC).
    await this.kc.applyToHTTPSOptions(opts);
    if (opts.auth) {
      // Basic auth from the kubeconfig: pass it as a header, never in the URL.
      (opts.headers as Record<string, string>).Authorization = 'Basic ' + Buffer.from(opts.auth).toString('base64');
      delete opts.auth;
    }
    return { ...opts, url };
  }

  /** One request; resolves with the parsed JSON body or rejects with ApiError / a network error. */
  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const verb = method === 'GET' ? (path.includes('?') && /[?&]watch=/.test(path) ? 'watch' : 'get') : method.toLowerCase();
    this.count(verb);
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
      const r = mod.request(req.url, req, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* keep text */
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(body as T);
          else reject(new ApiError(status, path, body, parseRetryAfter(res.headers['retry-after'])));
        });
      });
      r.on('error', reject);
      const timeout = o.timeoutMs ?? 30_000;
      r.setTimeout(timeout, () => r.destroy(Object.assign(new Error(`request timed out after ${timeout} ms`), { code: 'ETIMEDOUT' })));
      if (o.signal) {
        if (o.signal.aborted) r.destroy(new Error('aborted'));
        o.signal.addEventListener('abort', () => r.destroy(new Error('aborted')), { once: true });
      }
      if (payload !== undefined) r.write(payload);
      r.end();
    });
  }

  /**
   * Opens a watch stream (`?watch=true`) and reports each event. Malformed frames and stalls (no bytes for
   * `stallMs`, bookmarks keep a healthy stream busy) end the stream with an error so the caller resumes it.
   */
  async watch(path: string, query: Record<string, string>, cb: WatchCallbacks, stallMs = 90_000): Promise<WatchHandle> {
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
      stallTimer = setTimeout(() => finish(Object.assign(new Error(`watch stalled: no data for ${stallMs} ms`), { code: 'ETIMEDOUT' })), stallMs);
      stallTimer.unref();
    };
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
