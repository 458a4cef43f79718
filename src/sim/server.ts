// ApiSimulator: an embedded HTTP server that speaks the Kubernetes REST API for the Flux kinds (plus core
// namespaces and events), closely enough that @kubernetes/client-node and kubectl work against it unmodified.
//
// Plain HTTP on loopback (no TLS). @kubernetes/client-node 1.x refuses `http:` servers unless the cluster entry
// has `insecure-skip-tls-verify: true`, so kubeconfig() always sets it (kubectl accepts that too).
//
// Users: requests bearing `adminToken` are the cluster admin: never subject to RBAC injection or fault
// injection, and counted apart in stats(). All other requests are the user `options.user`, who must present
// `options.token` when one is set.
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { stringify as yamlStringify, parse as yamlParse } from 'yaml';
import type { KubeObject } from '../core/types.js';
import { ApiError, statusObject, type StatusReason } from './errors.js';
import { jsonPatch, mergePatch, PatchError } from './patch.js';
import { AGGREGATED_CONTENT_TYPE, aggregatedList, apiGroup, discoveryETag, negotiateDiscovery, resourceList, servedGroups } from './discovery.js';
import { apiVersionOf, qualifiedResource, resourceTypes, type FluxApiMode, type ResourceType } from './resources.js';
import { EVENT_FIELDS, parseFieldSelector, parseLabelSelector, type Matcher } from './selectors.js';
import { Store, withApiVersion, type Entry, type StoreEvent } from './store.js';

export interface ApiSimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port; kept across setUnavailable(false)). */
  port?: number;
  /** Served Flux API versions: current (v1/v1/v2, default), legacy (v1beta2/v1beta2/v2beta2), both, none (CRDs absent). */
  fluxApi?: FluxApiMode;
  /** Require `Authorization: Bearer <token>` from the (non-admin) user; else 401. */
  token?: string;
  /** User name in Forbidden messages. Default `developer`. */
  user?: string;
  /** Token of the admin user (no RBAC, no faults). Default: random. */
  adminToken?: string;
  /** 403 for any request in these namespaces. */
  forbidNamespaces?: string[];
  /** Only these namespaces are allowed (implies forbidClusterWide). */
  allowNamespaces?: string[];
  /** 403 for cluster-scope requests (list/watch across namespaces, namespaces themselves). */
  forbidClusterWide?: boolean;
  /** Reject watch requests: `true`/403 = RBAC without the watch verb, 405 = MethodNotAllowed. */
  disableWatch?: boolean | 403 | 405;
  /** Number of change events kept for watch resumption (older resourceVersions get 410). Default 10000. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that allow them. Default 1000 ms. */
  bookmarkIntervalMs?: number;
  /** Reported by GET /version. Default 1.34.1. */
  kubernetesVersion?: string;
  /** More custom resources to serve, described as their CRD would (e.g. Tekton's PipelineRuns). */
  customResources?: ResourceType[];
  /**
   * Answer aggregated discovery (an APIGroupDiscoveryList) to a client that asks for it, as Kubernetes >= 1.26
   * does. Default true; false: the plain APIGroupList only, as an older server (or a proxy that strips the
   * Accept header's parameters) answers.
   */
  aggregatedDiscovery?: boolean;
}

export interface SimStats {
  /** Requests from the (non-admin) user, including rejected ones. */
  requests: number;
  /** By verb: get, list, watch, create, update, patch, delete, discovery, other. */
  requestsByVerb: Record<string, number>;
  openWatches: number;
  watchesStarted: number;
  /** Requests made with the admin token (e.g. by the FluxPlayer). */
  adminRequests: number;
}

export interface FailRule {
  /** HTTP status to answer with. */
  status: 500 | 429 | 503 | number;
  /** How many requests to fail. Default 1. */
  count?: number;
  /** Sent as `Retry-After` and in the Status details (429/503). */
  retryAfterSeconds?: number;
  /** Only requests whose path (without query) contains this string / matches this RegExp. */
  pathMatch?: string | RegExp;
  /** Only requests of this verb (get, list, watch, create, update, patch, delete, discovery). */
  verb?: string;
}

/** An object reference for the in-process API (kind is any served kind: Flux kinds, Namespace, Event). */
export interface SimRef {
  kind: string;
  namespace?: string;
  name: string;
}

interface Watcher {
  res: ServerResponse;
  type: ResourceType;
  apiVersion: string;
  namespace?: string;
  match: Matcher;
  queue: string[];
  timers: NodeJS.Timeout[];
  admin: boolean;
}

interface Route {
  type: ResourceType;
  version: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  watchPath: boolean;
}

const MAX_BODY = 3 * 1024 * 1024;
/** A watcher whose unsent output grows beyond this is cut off, as the real server drops slow watchers. */
const MAX_WATCH_BACKLOG = 32 * 1024 * 1024;

type Column = { name: string; type: 'string' | 'date'; get: (o: KubeObject) => unknown };
const READY: Column = { name: 'Ready', type: 'string', get: (o) => (o.status?.conditions as Array<{ type: string; status?: string }> | undefined)?.find((c) => c.type === 'Ready')?.status ?? '' };
const STATUS: Column = { name: 'Status', type: 'string', get: (o) => (o.status?.conditions as Array<{ type: string; message?: string }> | undefined)?.find((c) => c.type === 'Ready')?.message ?? '' };
/** Like k8s.io/apimachinery's duration.HumanDuration: the API server renders date columns as ages. */
function humanAge(iso: string | undefined): string {
  if (!iso) return '<unknown>';
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  if (h < 192) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y${d % 365}d`;
}
const AGE: Column = { name: 'Age', type: 'date', get: (o) => humanAge(o.metadata.creationTimestamp) };
const URL_COL: Column = { name: 'URL', type: 'string', get: (o) => o.spec?.url ?? '' };
/** The additionalPrinterColumns of the Flux CRDs (what `kubectl get` shows). */
const PRINTER_COLUMNS: Record<string, Column[]> = {
  GitRepository: [URL_COL, AGE, READY, STATUS],
  OCIRepository: [URL_COL, READY, STATUS, AGE],
  HelmRepository: [URL_COL, AGE, READY, STATUS],
  HelmChart: [
    { name: 'Chart', type: 'string', get: (o) => o.spec?.chart ?? '' },
    { name: 'Version', type: 'string', get: (o) => o.spec?.version ?? '' },
    { name: 'Source Kind', type: 'string', get: (o) => o.spec?.sourceRef?.kind ?? '' },
    { name: 'Source Name', type: 'string', get: (o) => o.spec?.sourceRef?.name ?? '' },
    AGE, READY, STATUS,
  ],
  Bucket: [{ name: 'Endpoint', type: 'string', get: (o) => o.spec?.endpoint ?? '' }, AGE, READY, STATUS],
  Kustomization: [AGE, READY, STATUS],
  HelmRelease: [AGE, READY, STATUS],
  Namespace: [{ name: 'Status', type: 'string', get: (o) => o.status?.phase ?? '' }, AGE],
};

function statusLine(code: number): StatusReason {
  switch (code) {
    case 400: return 'BadRequest';
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 409: return 'Conflict';
    case 410: return 'Gone';
    case 429: return 'TooManyRequests';
    case 503: return 'ServiceUnavailable';
    case 504: return 'Timeout';
    default: return 'InternalError';
  }
}

function injectedMessage(code: number): string {
  switch (code) {
    case 429: return 'Too many requests, please try again later.';
    case 503: return 'the server is currently unable to handle the request';
    case 504: return 'Timeout: request did not complete within the allowed duration';
    default: return 'Internal error occurred: injected fault';
  }
}

function wantsTable(req: IncomingMessage): boolean {
  return /;\s*as=Table/.test(req.headers.accept ?? '');
}

export class ApiSimulator {
  readonly store: Store;
  readonly adminToken: string;
  readonly fluxApi: FluxApiMode;
  /** Runtime-settable RBAC / auth injection. */
  token: string | undefined;
  user: string;
  forbidNamespaces: string[];
  allowNamespaces: string[] | undefined;
  forbidClusterWide: boolean;
  disableWatch: boolean | 403 | 405;

  private readonly host: string;
  private port: number;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly watchers = new Set<Watcher>();
  private readonly watchersByPlural = new Map<string, Set<Watcher>>();
  private faults: Array<FailRule & { remaining: number }> = [];
  private stalledUntil = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private counters = { requests: 0, requestsByVerb: {} as Record<string, number>, watchesStarted: 0, adminRequests: 0 };
  private readonly bookmarkIntervalMs: number;
  private readonly kubernetesVersion: string;
  private readonly served: ResourceType[];
  private readonly aggregatedDiscovery: boolean;
  /** Group-versions the aggregated answer marks `freshness: Stale` (setDiscoveryStale). */
  private readonly staleGroupVersions = new Set<string>();

  constructor(opts: ApiSimulatorOptions = {}) {
    this.fluxApi = opts.fluxApi ?? 'current';
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.token = opts.token;
    this.user = opts.user ?? 'developer';
    this.adminToken = opts.adminToken ?? randomBytes(16).toString('hex');
    this.forbidNamespaces = opts.forbidNamespaces ?? [];
    this.allowNamespaces = opts.allowNamespaces;
    this.forbidClusterWide = opts.forbidClusterWide ?? false;
    this.disableWatch = opts.disableWatch ?? false;
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 1000;
    this.kubernetesVersion = opts.kubernetesVersion ?? '1.34.1';
    this.aggregatedDiscovery = opts.aggregatedDiscovery ?? true;
    const types = [...resourceTypes(this.fluxApi), ...(opts.customResources ?? [])];
    this.store = new Store(types, opts.historyLimit ?? 10_000);
    this.served = types.filter((t) => t.versions.length > 0);
    this.store.subscribe((e) => this.fanOut(e));
  }

  // ---------------------------------------------------------------------------------------------- lifecycle

  /** Base URL, e.g. `http://127.0.0.1:40123` (valid after start()). */
  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** Starts listening; resolves with the URL. */
  async start(): Promise<string> {
    if (this.server) return this.url;
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.sendStatus(res, statusObject(500, 'InternalError', `Internal error occurred: ${String(err)}`));
        else res.destroy();
      });
    });
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this.url;
  }

  /** Closes the server, all connections and watches. */
  async stop(): Promise<void> {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    await this.closeServer();
  }

  private async closeServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const w of [...this.watchers]) this.closeWatcher(w, true);
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  /** `true`: close the listening socket and every connection (clients get ECONNREFUSED); `false`: listen again on the same port. */
  async setUnavailable(unavailable: boolean): Promise<void> {
    if (unavailable) await this.closeServer();
    else await this.start();
  }

  /**
   * Kubeconfig YAML for this simulator: cluster `flux-sim` (server = url, insecure-skip-tls-verify), user with
   * the user token (or the admin token with `admin: true`, or an explicit `token`), current context set.
   */
  kubeconfig(opts: { admin?: boolean; token?: string; namespace?: string; context?: string } = {}): string {
    const name = opts.context ?? 'flux-sim';
    const token = opts.token ?? (opts.admin ? this.adminToken : this.token);
    return yamlStringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name, cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: `${name}-user`, user: token ? { token } : {} }],
      contexts: [{ name, context: { cluster: name, user: `${name}-user`, ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
      'current-context': name,
      preferences: {},
    });
  }

  /** Writes kubeconfig() to `path` with mode 0600; returns the path. */
  async writeKubeconfig(path: string, opts: Parameters<ApiSimulator['kubeconfig']>[0] = {}): Promise<string> {
    await writeFile(path, this.kubeconfig(opts), { mode: 0o600 });
    await chmod(path, 0o600);
    return path;
  }

  // ---------------------------------------------------------------------------------------------- in-process store API

  private typeOf(kind: string): ResourceType {
    const t = this.store.typeByKind(kind);
    if (!t) throw new Error(`unknown kind ${kind}`);
    return t;
  }

  private out(e: Entry): KubeObject {
    const t = e.type;
    const version = t.versions[0] ?? (t.group === 'helm.toolkit.fluxcd.io' ? 'v2' : 'v1');
    return JSON.parse(withApiVersion(e.json, apiVersionOf(t.group, version))) as KubeObject;
  }

  /**
   * Creates the object, or replaces its spec/metadata (labels, annotations, finalizers...) keeping uid and
   * creation time; generation bumps when the spec changes. `status`, when given, is written too (as a
   * controller would through /status). Missing namespaces are created. Returns the stored object.
   */
  apply(obj: KubeObject): KubeObject {
    const t = this.typeOf(obj.kind);
    const ns = t.namespaced ? obj.metadata.namespace ?? 'default' : undefined;
    const existing = this.store.get(t, ns, obj.metadata.name);
    if (!existing) return this.out(this.store.create(t, ns, { ...obj, metadata: { ...obj.metadata, namespace: ns } }, { withStatus: true, autoNamespace: true }));
    const body = { ...obj, metadata: { ...obj.metadata, resourceVersion: existing.obj.metadata.resourceVersion } };
    let e = this.store.update(t, ns, obj.metadata.name, body);
    if (obj.status !== undefined) e = this.store.update(t, ns, obj.metadata.name, { ...e.obj, status: obj.status }, { subresource: 'status' });
    return this.out(e);
  }

  /** Replaces the status (like PUT /status). Throws when the object does not exist. */
  setStatus(ref: SimRef, status: unknown): KubeObject {
    const t = this.typeOf(ref.kind);
    const cur = this.store.get(t, ref.namespace, ref.name);
    if (!cur) throw new Error(`${ref.kind} ${ref.namespace ?? ''}/${ref.name} not found`);
    return this.out(this.store.update(t, ref.namespace, ref.name, { ...cur.obj, status } as KubeObject, { subresource: 'status' }));
  }

  /** Merge-patches the status (RFC 7386, like PATCH /status with application/merge-patch+json). */
  patchStatus(ref: SimRef, patch: Record<string, unknown>): KubeObject {
    const t = this.typeOf(ref.kind);
    const cur = this.store.get(t, ref.namespace, ref.name);
    if (!cur) throw new Error(`${ref.kind} ${ref.namespace ?? ''}/${ref.name} not found`);
    return this.setStatus(ref, mergePatch(cur.obj.status ?? {}, patch));
  }

  /** Deletes (honouring finalizers: then only marks deletionTimestamp). Returns false when it did not exist. */
  delete(ref: SimRef): boolean {
    const t = this.typeOf(ref.kind);
    if (!this.store.get(t, ref.namespace, ref.name)) return false;
    this.store.delete(t, ref.namespace, ref.name);
    return true;
  }

  get(ref: SimRef): KubeObject | undefined {
    const e = this.store.get(this.typeOf(ref.kind), ref.namespace, ref.name);
    return e ? this.out(e) : undefined;
  }

  /** All objects of a kind (all Flux kinds when omitted), sorted by namespace/name. */
  list(kind?: string): KubeObject[] {
    const types = kind ? [this.typeOf(kind)] : this.store.types.filter((t) => t.categories.includes('fluxcd'));
    return types.flatMap((t) => this.store.list(t).map((e) => this.out(e)));
  }

  /** Drops the watch history: watches resuming from an older resourceVersion, and old continue tokens, get 410. */
  compact(): void {
    this.store.compact();
  }

  /** The current global resourceVersion. */
  get resourceVersion(): string {
    return String(this.store.rv);
  }

  stats(): SimStats {
    return {
      requests: this.counters.requests,
      requestsByVerb: { ...this.counters.requestsByVerb },
      openWatches: this.watchers.size,
      watchesStarted: this.counters.watchesStarted,
      adminRequests: this.counters.adminRequests,
    };
  }

  resetStats(): void {
    this.counters = { requests: 0, requestsByVerb: {}, watchesStarted: 0, adminRequests: 0 };
  }

  // ---------------------------------------------------------------------------------------------- fault injection

  /**
   * Marks a group-version (`group/version`) stale in the aggregated discovery answer, as the kube-aggregator does
   * for an APIService it cannot reach, or fresh again. Its own `GET /apis/<group>/<version>` still answers.
   */
  setDiscoveryStale(groupVersion: string, stale = true): void {
    if (stale) this.staleGroupVersions.add(groupVersion);
    else this.staleGroupVersions.delete(groupVersion);
  }

  /** Destroys the sockets of all open watches mid-stream. Returns how many were dropped. */
  dropWatchesNow(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) this.closeWatcher(w, true);
    return n;
  }

  /** Ends all open watch streams cleanly (as the API server does when a watch times out). Returns how many. */
  closeWatchesNow(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) this.closeWatcher(w, false);
    return n;
  }

  /** The next `count` matching user requests fail with `status` (a Status body; Retry-After for 429/503 when given). */
  failNext(rule: FailRule): void {
    this.faults.push({ ...rule, remaining: rule.count ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /**
   * For `ms`, open watches (and new ones) receive nothing: events and bookmarks are held back, then delivered
   * in order, as if the stream had stalled in the network.
   */
  stallWatches(ms: number): void {
    this.stalledUntil = Date.now() + ms;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      this.stalledUntil = 0;
      for (const w of this.watchers) this.flush(w);
    }, ms);
    this.stallTimer.unref?.();
  }

  /** Sends a line of broken JSON on every open watch. */
  malformedWatchFrame(): void {
    for (const w of this.watchers) this.write(w, '{"type":"MODIFIED","object":{"kind":\n');
  }

  // ---------------------------------------------------------------------------------------------- HTTP

  private send(res: ServerResponse, code: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(code, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Content-Length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
  }

  private sendJson(res: ServerResponse, code: number, value: unknown): void {
    this.send(res, code, JSON.stringify(value));
  }

  private sendStatus(res: ServerResponse, s: ReturnType<typeof statusObject>, headers: Record<string, string> = {}): void {
    this.send(res, s.code, JSON.stringify(s), headers);
  }

  private classify(method: string, path: string, q: URLSearchParams): string {
    if (method === 'GET' && (path === '/version' || path === '/api' || path === '/apis' || /^\/api\/[^/]+$/.test(path) || /^\/apis\/[^/]+(\/[^/]+)?$/.test(path))) {
      return 'discovery';
    }
    switch (method) {
      case 'GET': {
        const segs = path.split('/').filter(Boolean);
        let rest = segs[0] === 'api' ? segs.slice(2) : segs.slice(3);
        if (rest[0] === 'watch' || q.get('watch') === '1' || q.get('watch') === 'true') return 'watch';
        if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
        return rest.length >= 2 ? 'get' : 'list';
      }
      case 'POST': return 'create';
      case 'PUT': return 'update';
      case 'PATCH': return 'patch';
      case 'DELETE': return 'delete';
      default: return 'other';
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization ?? '';
    const bearer = auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const admin = bearer === this.adminToken;
    const verb = this.classify(method, path, url.searchParams);
    if (admin) this.counters.adminRequests++;
    else {
      this.counters.requests++;
      this.counters.requestsByVerb[verb] = (this.counters.requestsByVerb[verb] ?? 0) + 1;
    }

    if (path === '/healthz' || path === '/readyz' || path === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (!admin && this.token !== undefined && bearer !== this.token) {
      this.sendStatus(res, statusObject(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (!admin) {
      const fault = this.faults.find(
        (f) =>
          f.remaining > 0 &&
          (f.verb === undefined || f.verb === verb) &&
          (f.pathMatch === undefined || (typeof f.pathMatch === 'string' ? path.includes(f.pathMatch) : f.pathMatch.test(path))),
      );
      if (fault) {
        fault.remaining--;
        this.faults = this.faults.filter((f) => f.remaining > 0);
        const headers: Record<string, string> = {};
        const details = fault.retryAfterSeconds !== undefined ? { retryAfterSeconds: fault.retryAfterSeconds } : undefined;
        if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
        this.sendStatus(res, statusObject(fault.status, statusLine(fault.status), injectedMessage(fault.status), details), headers);
        return;
      }
    }

    try {
      if (method === 'GET' && this.discovery(path, req, res)) return;
      const route = this.route(path);
      const body = method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE' ? await this.readBody(req) : '';
      await this.resource(req, res, route, method, url.searchParams, body, admin);
    } catch (err) {
      if (err instanceof ApiError) this.sendStatus(res, err.toStatus());
      else throw err;
    }
  }

  private readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY}`));
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  // ---------------------------------------------------------------------------------------------- discovery

  /**
   * `/api` or `/apis` asked for aggregated discovery (negotiateDiscovery): the APIGroupDiscoveryList with the
   * headers kube-apiserver 1.34 sends (ETag, `Vary: Accept`, `Cache-Control: public`; 304 for a matching
   * If-None-Match), or 406 for a conversion it does not serve. False: the plain answer is due.
   */
  private aggregatedAnswer(req: IncomingMessage, res: ServerResponse, core: boolean): boolean {
    const how = negotiateDiscovery(req.headers.accept, this.aggregatedDiscovery);
    if (how === 'plain') return false;
    if (how === 'not-acceptable') {
      throw new ApiError(406, 'NotAcceptable', 'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf');
    }
    const body = JSON.stringify(aggregatedList(this.served, core, this.staleGroupVersions));
    const etag = discoveryETag(body);
    const headers = { 'Content-Type': AGGREGATED_CONTENT_TYPE, 'Cache-Control': 'public', ETag: etag, Vary: 'Accept' };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      res.end();
    } else this.send(res, 200, body, headers);
    return true;
  }

  /** Answers discovery paths; false when `path` is not one. */
  private discovery(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (path === '/version') {
      const [major, minor] = this.kubernetesVersion.split('.');
      this.sendJson(res, 200, {
        major, minor, gitVersion: `v${this.kubernetesVersion}`, gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean', buildDate: '2025-01-01T00:00:00Z', goVersion: 'go1.24.0', compiler: 'gc', platform: 'linux/amd64',
      });
      return true;
    }
    if (path === '/api') {
      if (this.aggregatedAnswer(req, res, true)) return true;
      this.sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${this.host}:${this.port}` }] });
      return true;
    }
    if (path === '/api/v1') {
      this.sendJson(res, 200, resourceList(this.served, '', 'v1'));
      return true;
    }
    if (path === '/apis') {
      if (this.aggregatedAnswer(req, res, false)) return true;
      this.sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [...servedGroups(this.served)].map(([g, v]) => apiGroup(g, v)) });
      return true;
    }
    const m = path.match(/^\/apis\/([^/]+)(?:\/([^/]+))?$/);
    if (m) {
      const versions = servedGroups(this.served).get(m[1]!);
      if (!versions || (m[2] && !versions.includes(m[2]))) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      this.sendJson(res, 200, m[2] ? resourceList(this.served, m[1]!, m[2]) : { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(m[1]!, versions) });
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------------- resources

  private route(path: string): Route {
    const notFound = () => new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs.length >= 2) {
      group = '';
      version = segs[1]!;
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs.length >= 3) {
      group = segs[1]!;
      version = segs[2]!;
      rest = segs.slice(3);
    } else throw notFound();
    let watchPath = false;
    if (rest[0] === 'watch') {
      watchPath = true;
      rest = rest.slice(1);
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest;
    const type = plural ? this.served.find((t) => t.plural === plural && t.group === group && t.versions.includes(version)) : undefined;
    if (!type || extra.length > 0) throw notFound();
    if (namespace !== undefined && !type.namespaced) throw notFound();
    if (subresource !== undefined && (subresource !== 'status' || !type.statusSubresource)) throw notFound();
    return { type, version, namespace, name, subresource, watchPath };
  }

  private forbidden(route: Route, verb: string, admin: boolean): void {
    if (admin) return;
    const ns = route.namespace;
    const clusterScope = ns === undefined;
    const denied = clusterScope
      ? this.forbidClusterWide || this.allowNamespaces !== undefined
      : this.forbidNamespaces.includes(ns) || (this.allowNamespaces !== undefined && !this.allowNamespaces.includes(ns));
    if (denied) throw this.forbiddenError(route, verb);
  }

  private forbiddenError(route: Route, verb: string): ApiError {
    const t = route.type;
    const res = route.subresource ? `${t.plural}/${route.subresource}` : t.plural;
    const subject = route.name ? `${qualifiedResource(t)} "${route.name}"` : qualifiedResource(t);
    const scope = route.namespace === undefined ? 'at the cluster scope' : `in the namespace "${route.namespace}"`;
    return new ApiError(403, 'Forbidden', `${subject} is forbidden: User "${this.user}" cannot ${verb} resource "${res}" in API group "${t.group}" ${scope}`, {
      ...(route.name ? { name: route.name } : {}), group: t.group, kind: t.plural,
    });
  }

  private parseBody(body: string, t: ResourceType): KubeObject {
    let obj: unknown;
    try {
      obj = JSON.parse(body);
    } catch (e) {
      throw new ApiError(400, 'BadRequest', `the object provided is unrecognized (must be of type ${t.kind}): couldn't get version/kind; json parse error: ${(e as Error).message}`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ApiError(400, 'BadRequest', `the object provided is unrecognized (must be of type ${t.kind})`);
    const o = obj as KubeObject;
    if (!o.metadata || typeof o.metadata !== 'object') o.metadata = {} as KubeObject['metadata'];
    return o;
  }

  private checkKind(o: KubeObject, route: Route): void {
    const expected = apiVersionOf(route.type.group, route.version);
    if (o.kind !== undefined && o.kind !== route.type.kind) {
      throw new ApiError(400, 'BadRequest', `the object provided is unrecognized (must be of type ${route.type.kind}): kind ${o.kind}`);
    }
    if (o.apiVersion !== undefined && o.apiVersion !== expected && !route.type.versions.some((v) => apiVersionOf(route.type.group, v) === o.apiVersion)) {
      throw new ApiError(400, 'BadRequest', `the API version in the data (${o.apiVersion}) does not match the expected API version (${expected})`);
    }
  }

  private async resource(
    req: IncomingMessage, res: ServerResponse, route: Route, method: string, q: URLSearchParams, body: string, admin: boolean,
  ): Promise<void> {
    const { type, namespace, name, subresource } = route;
    if (type.namespaced && name !== undefined && namespace === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (q.has('dryRun')) throw new ApiError(400, 'BadRequest', 'dryRun is not supported by the API simulator');
    const apiVersion = apiVersionOf(type.group, route.version);
    const isWatch = route.watchPath || q.get('watch') === '1' || q.get('watch') === 'true';

    if (method === 'GET' && name === undefined) {
      this.forbidden(route, isWatch ? 'watch' : 'list', admin);
      if (isWatch) return this.watch(res, route, q, admin);
      return this.listResponse(req, res, route, q);
    }
    if (name === undefined && method !== 'POST') {
      throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
    switch (method) {
      case 'GET': {
        this.forbidden(route, 'get', admin);
        const e = this.store.get(type, namespace, name!);
        if (!e) throw new ApiError(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, { name, group: type.group, kind: type.plural });
        if (wantsTable(req)) this.sendJson(res, 200, this.table(type, apiVersion, [e], { resourceVersion: e.obj.metadata.resourceVersion }, q));
        else this.send(res, 200, withApiVersion(e.json, apiVersion));
        return;
      }
      case 'POST': {
        if (name !== undefined) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        this.forbidden(route, 'create', admin);
        const o = this.parseBody(body, type);
        this.checkKind(o, route);
        if (o.metadata.namespace !== undefined && type.namespaced && o.metadata.namespace !== namespace) {
          throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
        }
        const e = this.store.create(type, namespace, o);
        this.send(res, 201, withApiVersion(e.json, apiVersion));
        return;
      }
      case 'PUT': {
        this.forbidden(route, 'update', admin);
        const o = this.parseBody(body, type);
        this.checkKind(o, route);
        const e = this.store.update(type, namespace, name!, o, { subresource: subresource as 'status' | undefined, requireResourceVersion: true });
        this.send(res, 200, withApiVersion(e.json, apiVersion));
        return;
      }
      case 'PATCH': {
        this.forbidden(route, 'patch', admin);
        const e = this.patch(route, (req.headers['content-type'] ?? '').split(';')[0]!.trim(), body);
        this.send(res, 200, withApiVersion(e.json, apiVersion));
        return;
      }
      case 'DELETE': {
        this.forbidden(route, 'delete', admin);
        if (subresource) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const cur = this.store.get(type, namespace, name!);
        if (cur && body.trim()) {
          const opts = this.parseBody(body, type) as unknown as { preconditions?: { resourceVersion?: string; uid?: string } };
          const pre = opts.preconditions;
          if ((pre?.resourceVersion && pre.resourceVersion !== cur.obj.metadata.resourceVersion) || (pre?.uid && pre.uid !== cur.obj.metadata.uid)) {
            throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": Precondition failed: UID in precondition: ${pre.uid ?? ''}, UID in object meta: ${cur.obj.metadata.uid}`, { name, group: type.group, kind: type.plural });
          }
        }
        const e = this.store.delete(type, namespace, name!);
        if (this.store.get(type, namespace, name!)) {
          this.send(res, 200, withApiVersion(e.json, apiVersion));
        } else {
          this.sendJson(res, 200, {
            kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success',
            details: { name, group: type.group, kind: type.plural, uid: e.obj.metadata.uid },
          });
        }
        return;
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  private patch(route: Route, contentType: string, body: string): Entry {
    const { type, namespace, name, subresource } = route;
    const cur = this.store.get(type, namespace, name!);
    let patched: unknown;
    if (contentType === 'application/apply-patch+yaml') {
      // Server-side apply, simplified: create when missing, else merge the applied fields (no field ownership).
      let applied: KubeObject;
      try {
        applied = yamlParse(body) as KubeObject;
      } catch (e) {
        throw new ApiError(400, 'BadRequest', `error decoding YAML: ${(e as Error).message}`);
      }
      if (!cur) return this.store.create(type, namespace, { ...applied, metadata: { ...applied.metadata, name: name! } });
      patched = mergePatch(cur.obj, { ...applied, metadata: { ...applied.metadata, resourceVersion: undefined } });
    } else {
      if (!cur) throw new ApiError(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, { name, group: type.group, kind: type.plural });
      let p: unknown;
      try {
        p = JSON.parse(body);
      } catch (e) {
        throw new ApiError(400, 'BadRequest', `error decoding patch: ${(e as Error).message}`);
      }
      if (contentType === 'application/merge-patch+json' || (!type.generation && contentType === 'application/strategic-merge-patch+json')) {
        patched = mergePatch(cur.obj, p);
      } else if (contentType === 'application/json-patch+json') {
        try {
          patched = jsonPatch(cur.obj, p);
        } catch (e) {
          if (e instanceof PatchError) throw new ApiError(422, 'Invalid', e.message);
          throw e;
        }
      } else {
        throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
      }
    }
    const next = patched as KubeObject;
    // A resourceVersion in the patch is a precondition; without one the patch applies to the current object.
    if (!next.metadata || typeof next.metadata !== 'object') throw new ApiError(422, 'Invalid', 'metadata must be an object');
    if (next.metadata.resourceVersion === undefined) next.metadata.resourceVersion = cur!.obj.metadata.resourceVersion;
    return this.store.update(type, namespace, name!, next, { subresource: subresource as 'status' | undefined });
  }

  /** A meta.k8s.io/v1 Table, as the server answers `Accept: application/json;as=Table;...` (kubectl get). */
  private table(type: ResourceType, apiVersion: string, entries: Entry[], metadata: Record<string, unknown>, q: URLSearchParams): unknown {
    const cols = PRINTER_COLUMNS[type.kind] ?? [AGE];
    const include = q.get('includeObject') ?? 'Metadata';
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata,
      columnDefinitions: [
        { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
        ...cols.map((c) => ({ name: c.name, type: c.type, format: '', description: c.name, priority: 0 })),
      ],
      rows: entries.map((e) => ({
        cells: [e.obj.metadata.name, ...cols.map((c) => c.get(e.obj))],
        ...(include === 'None' ? {} : include === 'Object'
          ? { object: JSON.parse(withApiVersion(e.json, apiVersion)) }
          : { object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: e.obj.metadata } }),
      })),
    };
  }

  private listResponse(req: IncomingMessage, res: ServerResponse, route: Route, q: URLSearchParams): void {
    const { type, namespace } = route;
    const match = this.matcher(type, q);
    const apiVersion = apiVersionOf(type.group, route.version);
    const limit = Number(q.get('limit') ?? 0);
    const cont = q.get('continue');
    let listRv = this.store.rv;
    let entries = this.store.list(type, namespace);
    if (cont) {
      let token: { rv: number; start: string };
      try {
        token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { rv: number; start: string };
        if (typeof token.rv !== 'number' || typeof token.start !== 'string') throw new Error('bad token');
      } catch {
        throw new ApiError(400, 'BadRequest', `continue key is not valid: invalid continue token`);
      }
      if (token.rv < this.store.historyStartRv) {
        throw new ApiError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      }
      listRv = token.rv;
      const keyOf = (e: Entry) => `${e.obj.metadata.namespace ?? ''}/${e.obj.metadata.name}`;
      let lo = 0;
      let hi = entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (keyOf(entries[mid]!) <= token.start) lo = mid + 1;
        else hi = mid;
      }
      entries = entries.slice(lo);
    }
    const selected = match ? entries.filter((e) => match(e.obj)) : entries;
    const page = limit > 0 ? selected.slice(0, limit) : selected;
    const meta: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (limit > 0 && selected.length > limit) {
      const last = page[page.length - 1]!.obj.metadata;
      meta.continue = Buffer.from(JSON.stringify({ rv: listRv, start: `${last.namespace ?? ''}/${last.name}` })).toString('base64url');
      if (!match) meta.remainingItemCount = selected.length - limit;
    }
    if (wantsTable(req)) {
      this.sendJson(res, 200, this.table(type, apiVersion, page, meta, q));
      return;
    }
    const items = page.map((e) => withApiVersion(e.json, apiVersion)).join(',');
    this.send(res, 200, `{"apiVersion":${JSON.stringify(apiVersion)},"kind":"${type.kind}List","metadata":${JSON.stringify(meta)},"items":[${items}]}`);
  }

  private matcher(type: ResourceType, q: URLSearchParams): Matcher | undefined {
    const labels = q.get('labelSelector');
    const fields = q.get('fieldSelector');
    if (!labels && !fields) return undefined;
    const l = parseLabelSelector(labels);
    const f = parseFieldSelector(fields, type.kind === 'Event' ? EVENT_FIELDS : []);
    return (o) => l(o) && f(o);
  }

  // ---------------------------------------------------------------------------------------------- watch

  private watch(res: ServerResponse, route: Route, q: URLSearchParams, admin: boolean): void {
    const { type, namespace } = route;
    if (!admin && this.disableWatch) {
      if (this.disableWatch === 405) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      throw this.forbiddenError(route, 'watch');
    }
    const apiVersion = apiVersionOf(type.group, route.version);
    const match = this.matcher(type, q) ?? (() => true);
    const rvParam = q.get('resourceVersion') ?? '';
    const sendInitial = q.get('sendInitialEvents') === 'true';
    const bookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
    let replay: StoreEvent[] | undefined;
    let expired = false;
    if (rvParam !== '' && rvParam !== '0' && !sendInitial) {
      const rv = Number(rvParam);
      if (!Number.isInteger(rv) || rv < 0) throw new ApiError(400, 'BadRequest', `invalid resource version: ${rvParam}`);
      replay = this.store.eventsSince(rv);
      expired = replay === undefined;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    if (expired) {
      // What the real server does for a resourceVersion older than its window: one ERROR event, then close.
      const s = statusObject(410, 'Expired', `too old resource version: ${rvParam} (${this.store.historyStartRv + 1})`);
      res.end(`{"type":"ERROR","object":${JSON.stringify(s)}}\n`);
      if (!admin) this.counters.watchesStarted++;
      return;
    }
    const w: Watcher = { res, type, apiVersion, namespace, match, queue: [], timers: [], admin };
    if (!admin) this.counters.watchesStarted++;
    if (replay) {
      for (const e of replay) if (this.wants(w, e)) this.write(w, this.frame(e, apiVersion));
    } else {
      for (const e of this.store.list(type, namespace)) {
        if (match(e.obj)) this.write(w, `{"type":"ADDED","object":${withApiVersion(e.json, apiVersion)}}\n`);
      }
      if (sendInitial && bookmarks) this.write(w, this.bookmark(w, { 'k8s.io/initial-events-end': 'true' }));
    }
    this.watchers.add(w);
    let set = this.watchersByPlural.get(type.plural);
    if (!set) this.watchersByPlural.set(type.plural, (set = new Set()));
    set.add(w);
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0) w.timers.push(setTimeout(() => this.closeWatcher(w, false), timeout * 1000));
    if (bookmarks) w.timers.push(setInterval(() => this.write(w, this.bookmark(w)), this.bookmarkIntervalMs));
    // The response closes when the stream ends or the client goes away.
    res.on('close', () => this.closeWatcher(w, false));
  }

  private bookmark(w: Watcher, annotations?: Record<string, string>): string {
    const metadata = { resourceVersion: String(this.store.rv), ...(annotations ? { annotations } : {}) };
    return `{"type":"BOOKMARK","object":${JSON.stringify({ kind: w.type.kind, apiVersion: w.apiVersion, metadata })}}\n`;
  }

  private frame(e: StoreEvent, apiVersion: string): string {
    if (!e.frames) e.frames = new Map();
    let f = e.frames.get(apiVersion);
    if (!f) {
      f = `{"type":"${e.type}","object":${withApiVersion(e.json, apiVersion)}}\n`;
      e.frames.set(apiVersion, f);
    }
    return f;
  }

  private wants(w: Watcher, e: StoreEvent): boolean {
    if (e.resource !== w.type) return false;
    if (w.namespace !== undefined && e.obj.metadata.namespace !== w.namespace) return false;
    return w.match(e.obj);
  }

  private fanOut(e: StoreEvent): void {
    const set = this.watchersByPlural.get(e.resource.plural);
    if (!set) return;
    for (const w of set) if (this.wants(w, e)) this.write(w, this.frame(e, w.apiVersion));
  }

  private write(w: Watcher, frame: string): void {
    if (Date.now() < this.stalledUntil) {
      w.queue.push(frame);
      return;
    }
    if (w.queue.length) this.flush(w);
    w.res.write(frame);
    if (w.res.writableLength > MAX_WATCH_BACKLOG) this.closeWatcher(w, true);
  }

  private flush(w: Watcher): void {
    const q = w.queue;
    w.queue = [];
    if (q.length && !w.res.destroyed) w.res.write(q.join(''));
  }

  /** Ends a watch: gracefully (end of stream) or by destroying its socket (a dropped connection). */
  private closeWatcher(w: Watcher, destroy: boolean): void {
    if (!this.watchers.delete(w)) return;
    this.watchersByPlural.get(w.type.plural)?.delete(w);
    for (const t of w.timers) clearTimeout(t);
    if (destroy) w.res.socket?.destroy();
    else if (!w.res.writableEnded) w.res.end();
  }
}
