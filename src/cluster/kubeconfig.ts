// Reading kubeconfig files without @kubernetes/client-node. That library costs ~360 ms and ~70 MB of memory to
// load (its generated API models come with its KubeConfig), for what is, for most users, a server URL, TLS
// material and a token or client certificate. So the common cases are read here (with kubectl's merge rules),
// and only users that need an auth plugin (exec, auth-provider) or a proxy get the library, loaded on demand
// by ClusterClient. Errors are MonitorErrors of category `config`.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MonitorError } from './errors.js';
import { proxyFromEnvironment } from './proxy.js';

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure: boolean;
  servername?: string;
}

export type StaticAuth =
  | { type: 'none' }
  | { type: 'token'; token: string }
  | { type: 'tokenFile'; path: string }
  | { type: 'basic'; username: string; password: string };

/** The selected context of the merged kubeconfig files. */
export interface ResolvedKubeconfig {
  /** The files that were merged (those that exist), in precedence order. */
  files: string[];
  contextName: string;
  /** Default namespace of the context, if any. */
  namespace?: string;
  server: string;
  tls: TlsMaterial;
  auth: StaticAuth;
  /** Why this context needs @kubernetes/client-node (an exec or auth-provider user, a proxy); else undefined. */
  needsLibrary?: string;
  /**
   * The proxy requests go through, as client-go picks it: the cluster's `proxy-url`, else HTTPS_PROXY (https
   * servers) or HTTP_PROXY (http servers) unless NO_PROXY matches the server (see proxy.ts). Undefined: direct.
   */
  proxy?: { url: string; from: string };
  /** Whom requests act as (kubectl's `as`, `as-groups`, `as-uid`, `as-user-extra`, and `--as`...): Impersonate-* headers. */
  impersonate?: Impersonation;
}

/** An identity to act as (the Impersonate-* headers of every request). */
export interface Impersonation {
  user: string;
  uid?: string;
  groups: string[];
  /** Impersonate-Extra-<key>: values. */
  extra: Record<string, string[]>;
}

/** What `--as`, `--as-group` and `--as-uid` set: each field given replaces the kubeconfig's, as in kubectl. */
export interface ImpersonationOverride {
  user?: string;
  uid?: string;
  groups?: string[];
}

export interface ResolveOptions {
  /** The environment the proxy variables come from (default process.env). */
  env?: NodeJS.ProcessEnv;
  impersonate?: ImpersonationOverride;
}

type Dict = Record<string, unknown>;
interface Named {
  item: Dict;
  /** Directory of the file the entry came from: relative paths in it are relative to that file. */
  dir: string;
}

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function configError(message: string, hint = 'Fix the kubeconfig file (try `kubectl config view`).'): MonitorError {
  return new MonitorError({ category: 'config', message, hint });
}

/** Parses one file; its lists of named entries must be lists of mappings with a name. */
function readOne(file: string): Dict {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    // The YAML parser's first line says what and where (`... at line 1, column 7:`, then an excerpt).
    const what = String((err as Error).message).split('\n')[0]!.replace(/:\s*$/, '');
    throw configError(`cannot read kubeconfig ${file}: ${(err as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a directory' : what}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isDict(doc)) throw configError(`cannot read kubeconfig ${file}: it is not a YAML mapping`);
  for (const list of ['clusters', 'users', 'contexts']) {
    const v = doc[list];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) throw configError(`cannot read kubeconfig ${file}: ${list} must be a list`);
    v.forEach((e, i) => {
      if (!isDict(e) || !str(e.name)) throw configError(`cannot read kubeconfig ${file}: ${list}[${i}].name is missing`);
    });
  }
  return doc;
}

function fileData(entry: Named, dataKey: string, pathKey: string, what: string): Buffer | undefined {
  const data = str(entry.item[dataKey]);
  if (data) return Buffer.from(data, 'base64');
  const p = str(entry.item[pathKey]);
  if (!p) return undefined;
  const full = isAbsolute(p) ? p : resolve(entry.dir, p);
  try {
    return readFileSync(full);
  } catch (err) {
    throw configError(`cannot read the ${what} ${full} named in the kubeconfig: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Merges the files like kubectl (the first file to set a cluster, user, context or current-context wins) and
 * resolves `context` (default: current-context).
 */
export function resolveKubeconfig(files: string[], context?: string, opts: ResolveOptions = {}): ResolvedKubeconfig {
  const clusters = new Map<string, Named>();
  const users = new Map<string, Named>();
  const contexts = new Map<string, Named>();
  let current: string | undefined;
  for (const file of files) {
    const doc = readOne(file);
    const dir = dirname(resolve(file));
    const add = (into: Map<string, Named>, list: unknown, field: string) => {
      for (const e of (Array.isArray(list) ? list : []) as Dict[]) {
        const name = e.name as string;
        if (!into.has(name)) into.set(name, { item: isDict(e[field]) ? (e[field] as Dict) : {}, dir });
      }
    };
    add(clusters, doc.clusters, 'cluster');
    add(users, doc.users, 'user');
    add(contexts, doc.contexts, 'context');
    current ??= str(doc['current-context']);
  }
  const contextName = context ?? current;
  if (!contextName) throw configError('the kubeconfig has no current context', 'Select a context with --context or `kubectl config use-context`.');
  const ctx = contexts.get(contextName);
  if (!ctx) {
    const names = [...contexts.keys()];
    throw configError(
      context ? `context "${contextName}" is not in the kubeconfig` : `the current context "${contextName}" is not in the kubeconfig`,
      names.length ? `Known contexts: ${names.join(', ')}.` : 'The kubeconfig has no contexts.',
    );
  }
  const clusterName = str(ctx.item.cluster);
  const cluster = clusterName ? clusters.get(clusterName) : undefined;
  const server = str(cluster?.item.server);
  if (!cluster || !server) {
    throw configError(
      cluster ? `context "${contextName}" has no cluster server` : `context "${contextName}" names cluster "${clusterName ?? ''}", which is not in the kubeconfig`,
      'Select a context with --context or `kubectl config use-context`.',
    );
  }
  try {
    new URL(server);
  } catch {
    throw configError(`context "${contextName}" has an invalid server URL`);
  }
  const userName = str(ctx.item.user);
  const user: Named = (userName && users.get(userName)) || { item: {}, dir: cluster.dir };
  const u = user.item;
  const tls: TlsMaterial = {
    ca: fileData(cluster, 'certificate-authority-data', 'certificate-authority', 'certificate authority'),
    cert: fileData(user, 'client-certificate-data', 'client-certificate', 'client certificate'),
    key: fileData(user, 'client-key-data', 'client-key', 'client key'),
    insecure: cluster.item['insecure-skip-tls-verify'] === true,
    servername: str(cluster.item['tls-server-name']),
  };
  let auth: StaticAuth = { type: 'none' };
  const token = str(u.token);
  const tokenFile = str(u.tokenFile);
  if (token) auth = { type: 'token', token };
  else if (tokenFile) auth = { type: 'tokenFile', path: isAbsolute(tokenFile) ? tokenFile : resolve(user.dir, tokenFile) };
  else if (str(u.username) || str(u.password)) auth = { type: 'basic', username: str(u.username) ?? '', password: str(u.password) ?? '' };
  const url = server.replace(/\/+$/, '');
  const proxyUrl = str(cluster.item['proxy-url']);
  let proxy: ResolvedKubeconfig['proxy'];
  if (proxyUrl) proxy = { url: proxyUrl, from: 'proxy-url' };
  else {
    try {
      proxy = proxyFromEnvironment(url, opts.env ?? process.env);
    } catch (err) {
      throw configError((err as Error).message, 'Fix the proxy variable (e.g. HTTPS_PROXY=http://proxy.example:3128), or set NO_PROXY for this cluster.');
    }
  }
  const impersonate = impersonation(userName ?? '', u, opts.impersonate);
  const needsLibrary = isDict(u.exec) ? 'exec' : isDict(u['auth-provider']) ? 'auth-provider' : proxy ? proxy.from : undefined;
  return { files, contextName, namespace: str(ctx.item.namespace), server: url, tls, auth, needsLibrary, proxy, impersonate };
}

/** A header value: no control characters (a newline would end the header); UTF-8 bytes sent as they are. */
function headerValue(v: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) throw configError(`the kubeconfig's ${what} contains a control character`);
  return v;
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw configError(`the kubeconfig's ${what} must be a list of strings`);
  return (v as string[]).map((x) => headerValue(x, what));
}

/**
 * kubectl's impersonation: the user's `as`, `as-uid`, `as-groups`, `as-user-extra`, each replaced by the flag that
 * sets it (`--as`, `--as-uid`, `--as-group`), as client-go merges its overrides. A uid, groups or extra without a
 * user is an error, as in kubectl ("requesting uid, groups or user-extra ... without impersonating a user").
 */
function impersonation(userName: string, u: Dict, over: ImpersonationOverride = {}): Impersonation | undefined {
  for (const key of ['as', 'as-uid'] as const) {
    if (u[key] !== undefined && u[key] !== null && typeof u[key] !== 'string') throw configError(`the kubeconfig's ${key} of user "${userName}" must be a string`);
  }
  const extraIn = u['as-user-extra'];
  if (extraIn !== undefined && extraIn !== null && !isDict(extraIn)) throw configError(`the kubeconfig's as-user-extra of user "${userName}" must be a mapping`);
  const extra: Record<string, string[]> = {};
  for (const [k, v] of Object.entries((extraIn as Dict | undefined) ?? {})) {
    const values = stringList(v, `as-user-extra.${k}`);
    if (k && values.length) extra[k] = values;
  }
  const user = over.user || str(u.as);
  const uid = over.uid || str(u['as-uid']);
  const groups = over.groups?.length ? over.groups.map((g) => headerValue(g, 'impersonated group')) : stringList(u['as-groups'], 'as-groups');
  if (!user) {
    if (uid || groups.length || Object.keys(extra).length) {
      throw configError(
        `requesting uid, groups or user-extra for "${userName}" without impersonating a user`,
        'Name the user to act as too (`as` in the kubeconfig, or --as), as kubectl requires.',
      );
    }
    return undefined;
  }
  return { user: headerValue(user, 'impersonated user'), uid: uid ? headerValue(uid, 'impersonated uid') : undefined, groups, extra };
}
