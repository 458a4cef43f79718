// Reading kubeconfig files without @kubernetes/client-node. That library costs ~360 ms and ~70 MB of memory to
// load (its generated API models come with its KubeConfig), for what is, for most users, a server URL, TLS
// material and a token or client certificate. So the common cases are read here (with kubectl's merge rules),
// and only users that need an auth plugin (exec, auth-provider) or a proxy get the library, loaded on demand
// by ClusterClient. Errors are MonitorErrors of category `config`.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MonitorError } from './errors.js';

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
  /** Why this context needs @kubernetes/client-node (an exec or auth-provider user, a proxy-url); else undefined. */
  needsLibrary?: string;
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
export function resolveKubeconfig(files: string[], context?: string): ResolvedKubeconfig {
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
  const needsLibrary = isDict(u.exec) ? 'exec' : isDict(u['auth-provider']) ? 'auth-provider' : str(cluster.item['proxy-url']) ? 'proxy-url' : undefined;
  return { files, contextName, namespace: str(ctx.item.namespace), server: server.replace(/\/+$/, ''), tls, auth, needsLibrary };
}
