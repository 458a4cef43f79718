// A minimal Kubernetes REST client on node:http/https, for the FluxPlayer and tests. Works against the
// simulator (plain HTTP) and a real kube-apiserver (TLS, client certificates or bearer token).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../core/types.js';

export interface RestClientOptions {
  /** API server URL, e.g. `https://127.0.0.1:6443` or the simulator's `http://127.0.0.1:PORT`. */
  server: string;
  /** PEM CA bundle that signed the server certificate. */
  ca?: string | Buffer;
  /** PEM client certificate and key (client certificate authentication). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Bearer token. */
  token?: string;
  insecureSkipTLSVerify?: boolean;
  /** TLS server name to verify instead of the URL's host. */
  tlsServerName?: string;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
}

/** A non-2xx answer: `status` is the HTTP status, `body` the parsed Status object (or raw text). */
export class RestError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly reason: string | undefined;

  constructor(status: number, body: unknown, method: string, path: string) {
    const b = body as { message?: string; reason?: string } | undefined;
    super(`${method} ${path}: ${status}${b?.reason ? ' ' + b.reason : ''}${b?.message ? ': ' + b.message : typeof body === 'string' && body ? ': ' + body.slice(0, 200) : ''}`);
    this.name = 'RestError';
    this.status = status;
    this.body = body;
    this.reason = b?.reason;
  }
}

export interface KubeList<T = KubeObject> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export type Query = Record<string, string | number | boolean | undefined>;

/** `/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]` (core group: `/api/v1/...`). */
export function resourcePath(r: { group: string; version: string; plural: string; namespace?: string; name?: string; subresource?: string }): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespace !== undefined) p += `/namespaces/${encodeURIComponent(r.namespace)}`;
  p += `/${r.plural}`;
  if (r.name !== undefined) p += `/${encodeURIComponent(r.name)}`;
  if (r.subresource) p += `/${r.subresource}`;
  return p;
}

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Array<{ name: string; cluster: Record<string, unknown> }>;
  users?: Array<{ name: string; user: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context: { cluster: string; user?: string } }>;
}

/** Options for RestClient from kubeconfig text; relative file paths resolve against `baseDir`. */
export function optionsFromKubeconfig(text: string, opts: { context?: string; baseDir?: string } = {}): RestClientOptions {
  const kc = (parseYaml(text) ?? {}) as KubeconfigFile;
  const ctxName = opts.context ?? kc['current-context'];
  const ctx = kc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`kubeconfig: context ${ctxName ?? '(none)'} not found`);
  const cluster = kc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== 'string') throw new Error(`kubeconfig: cluster ${ctx.cluster} not found or has no server`);
  const user = (ctx.user ? kc.users?.find((u) => u.name === ctx.user)?.user : undefined) ?? {};
  const file = (v: unknown): Buffer | undefined => {
    if (typeof v !== 'string' || v === '') return undefined;
    return readFileSync(isAbsolute(v) || !opts.baseDir ? v : resolve(opts.baseDir, v));
  };
  const data = (v: unknown): Buffer | undefined => (typeof v === 'string' && v !== '' ? Buffer.from(v, 'base64') : undefined);
  const tokenFile = file(user['tokenFile'] ?? user['token-file']);
  return {
    server: cluster.server,
    ca: data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
    cert: data(user['client-certificate-data']) ?? file(user['client-certificate']),
    key: data(user['client-key-data']) ?? file(user['client-key']),
    token: typeof user.token === 'string' ? user.token : tokenFile?.toString('utf8').trim(),
  };
}

export class RestClient {
  readonly server: string;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly opts: RestClientOptions;

  constructor(opts: RestClientOptions) {
    this.opts = opts;
    this.server = opts.server.replace(/\/+$/, '');
    this.base = new URL(this.server);
    this.agent = this.base.protocol === 'https:'
      ? new https.Agent({
          keepAlive: true,
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          rejectUnauthorized: !opts.insecureSkipTLSVerify,
          servername: opts.tlsServerName,
        })
      : new http.Agent({ keepAlive: true });
  }

  static fromKubeconfig(path: string, opts: { context?: string } = {}): RestClient {
    return new RestClient(optionsFromKubeconfig(readFileSync(path, 'utf8'), { ...opts, baseDir: dirname(path) }));
  }

  static fromKubeconfigString(text: string, opts: { context?: string; baseDir?: string } = {}): RestClient {
    return new RestClient(optionsFromKubeconfig(text, opts));
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  /** One request; resolves with the parsed JSON body (undefined when empty), rejects with RestError on non-2xx. */
  request<T = unknown>(method: string, path: string, opts: { body?: unknown; contentType?: string; query?: Query } = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string | number> = { Accept: 'application/json', 'User-Agent': 'flux-monitor-sim/1' };
    if (this.opts.token) headers.Authorization = `Bearer ${this.opts.token}`;
    if (payload) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<T>((resolvePromise, reject) => {
      const req = lib.request(url, { method, headers, agent: this.agent, timeout: this.opts.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // keep raw text
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolvePromise(body as T);
          else reject(new RestError(status, body, method, path));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  get<T = KubeObject>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  /** One page of a collection (`limit`/`continue` in `query`). */
  list<T = KubeObject>(path: string, query?: Query): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', path, { query });
  }

  /** All items of a collection, following continue tokens. */
  async listAll<T = KubeObject>(path: string, query: Query = {}, pageSize = 500): Promise<KubeList<T>> {
    let cont: string | undefined;
    let first: KubeList<T> | undefined;
    const items: T[] = [];
    do {
      const page = await this.list<T>(path, { ...query, limit: pageSize, continue: cont });
      first ??= page;
      items.push(...page.items);
      cont = page.metadata.continue;
    } while (cont);
    return { ...first, metadata: { resourceVersion: first.metadata.resourceVersion }, items };
  }

  /** POST to a collection path. */
  create<T = KubeObject>(collectionPath: string, obj: unknown): Promise<T> {
    return this.request<T>('POST', collectionPath, { body: obj });
  }

  /** PUT to an object path (metadata.resourceVersion required by custom resources). */
  replace<T = KubeObject>(path: string, obj: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body: obj });
  }

  mergePatch<T = KubeObject>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body: patch, contentType: 'application/merge-patch+json' });
  }

  jsonPatch<T = KubeObject>(path: string, ops: unknown[]): Promise<T> {
    return this.request<T>('PATCH', path, { body: ops, contentType: 'application/json-patch+json' });
  }

  replaceStatus<T = KubeObject>(path: string, obj: unknown): Promise<T> {
    return this.request<T>('PUT', `${path}/status`, { body: obj });
  }

  mergePatchStatus<T = KubeObject>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', `${path}/status`, { body: patch, contentType: 'application/merge-patch+json' });
  }

  delete<T = unknown>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
}
