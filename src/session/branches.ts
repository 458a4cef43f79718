// Which branches start a monitor after a push: `config.branches` if set; else the branches that GitRepositories
// of the pushed repository track in the cluster; else main and master. Which tags do: those a GitRepository of
// the pushed repository follows (by name, or by a semver range the tag satisfies).
import { mkdirSync, rmdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KubeObject, MonitorConfig } from '../core/types.js';
import { sameRepo } from '../core/giturl.js';
import { firstLine } from '../core/sanitize.js';
import { effectiveRef, trackedBranch } from '../core/graph.js';

export interface WatchedBranches {
  /** Branch names or shell-style patterns (`release/*`). */
  patterns: string[];
  source: 'config' | 'cluster' | 'default';
  /** Why the default applies, or which GitRepositories were found. */
  detail: string;
}

export const DEFAULT_BRANCHES = ['main', 'master'];

export interface ClusterLookup {
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** The GitRepositories of the cluster whose URL is the pushed repository's (rejects when they cannot be listed). */
export type SourceLister = () => Promise<KubeObject[]>;

/** Lists the GitRepositories whose URL is `repoUrl` on first call; later calls share that answer. */
export function gitRepositoriesOf(config: MonitorConfig, repoUrl: string, lookup: ClusterLookup = {}): SourceLister {
  let listed: Promise<KubeObject[]> | undefined;
  return () => (listed ??= listGitRepositories(config, lookup).then((repos) => repos.filter((o) => typeof o.spec?.url === 'string' && sameRepo(o.spec.url, repoUrl))));
}

export async function resolveWatchedBranches(config: MonitorConfig, repoUrl: string | undefined, lookup: ClusterLookup = {}, sources?: SourceLister): Promise<WatchedBranches> {
  if (config.branches.length) return { patterns: config.branches, source: 'config', detail: 'config.branches' };
  if (!repoUrl) return { patterns: DEFAULT_BRANCHES, source: 'default', detail: 'no remote URL to match GitRepositories with' };
  let matched: KubeObject[];
  try {
    matched = await (sources ?? gitRepositoriesOf(config, repoUrl, lookup))();
  } catch (err) {
    // The cluster's error text goes to hooks.log: sanitised (no escapes, no credentials), one line.
    return { patterns: DEFAULT_BRANCHES, source: 'default', detail: `cannot list GitRepositories: ${firstLine(err, { maxLength: 500 })}` };
  }
  const branches = [...new Set(matched.map((o) => trackedBranch(o)).filter((b): b is string => Boolean(b)))];
  if (!branches.length) {
    return { patterns: DEFAULT_BRANCHES, source: 'default', detail: matched.length ? 'matching GitRepositories track no branch' : 'no GitRepository points at this repository' };
  }
  const names = matched.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).join(', ');
  return { patterns: branches, source: 'cluster', detail: `tracked by ${names}` };
}

/** Shell patterns (for the pre-push hint) of the tags that may move these GitRepositories: a followed tag
 * itself; for a semver range, any tag shaped like a version. */
export function watchedTagPatterns(repos: KubeObject[]): string[] {
  const out = new Set<string>();
  for (const o of repos) {
    const r = effectiveRef(o);
    if (r.type === 'tag') out.add(r.tag);
    if (r.type === 'semver') {
      out.add('v[0-9]*.[0-9]*.[0-9]*');
      out.add('[0-9]*.[0-9]*.[0-9]*');
    }
  }
  return [...out];
}

/**
 * GitRepositories cluster-wide, or in `config.namespaces` when listing cluster-wide is forbidden; on every
 * cluster of `config.contexts` (all that answer; rejects only when none does), else on `lookup.context` or the
 * current context.
 */
async function listGitRepositories(config: MonitorConfig, lookup: ClusterLookup): Promise<KubeObject[]> {
  const contexts: Array<string | undefined> = lookup.context ? [lookup.context] : config.contexts.length ? config.contexts : [undefined];
  const results = await Promise.allSettled(contexts.map((context) => listGitRepositoriesOn(config, { ...lookup, context })));
  const ok = results.filter((r): r is PromiseFulfilledResult<KubeObject[]> => r.status === 'fulfilled');
  if (!ok.length) throw (results[0] as PromiseRejectedResult).reason;
  return ok.flatMap((r) => r.value);
}


async function listGitRepositoriesOn(config: MonitorConfig, lookup: ClusterLookup): Promise<KubeObject[]> {
  // Loaded lazily: the cluster client is heavy and most hook runs never get here.
  const [{ ClusterClient, loadKubeConfig }, { discoverFlux }, { ApiError }] = await Promise.all([
    import('../cluster/client.js'),
    import('../cluster/discovery.js'),
    import('../cluster/errors.js'),
  ]);
  const client = new ClusterClient(loadKubeConfig({ kubeconfig: lookup.kubeconfig, context: lookup.context, env: lookup.env }));
  const timeoutMs = lookup.timeoutMs ?? 5000;
  const found = await discoverFlux(client, ['GitRepository']);
  const rt = found.resources.get('GitRepository');
  if (!rt) return [];
  const list = (path: string) => client.request<{ items?: KubeObject[] }>('GET', path, { timeoutMs }).then((l) => l.items ?? []);
  try {
    return await list(`/apis/${rt.apiVersion}/${rt.plural}`);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403 && config.namespaces.length)) throw err;
    const perNs = await Promise.all(config.namespaces.map((ns) => list(`/apis/${rt.apiVersion}/namespaces/${encodeURIComponent(ns)}/${rt.plural}`)));
    return perNs.flat();
  }
}

/**
 * The caches the hooks read to decide whether to print their "follow this push" line, one pattern per line:
 * `<git-common-dir>/flux-monitor/watched-branches` (reference-transaction) and `watched-tags` (pre-push); empty
 * when the hook is disabled. `undefined` removes the file (unknown: the hook then always prints).
 */
export function writeWatchedCache(gitCommonDir: string, patterns: string[] | undefined, name: 'watched-branches' | 'watched-tags' = 'watched-branches'): void {
  const file = join(gitCommonDir, 'flux-monitor', name);
  if (patterns === undefined) {
    try {
      unlinkSync(file);
      rmdirSync(dirname(file)); // only if empty
    } catch {
      /* absent, or the directory holds something else */
    }
    return;
  }
  mkdirSync(join(gitCommonDir, 'flux-monitor'), { recursive: true });
  writeFileSync(file, patterns.map((p) => p + '\n').join(''));
}
