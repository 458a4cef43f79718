// Which branches start a monitor after a push: `config.branches` if set; else the branches that GitRepositories
// of the pushed repository track in the cluster; else main and master.
import { mkdirSync, rmdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KubeObject, MonitorConfig } from '../core/types.js';
import { sameRepo } from '../core/giturl.js';
import { trackedBranch } from '../engine/graph.js';

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

export async function resolveWatchedBranches(config: MonitorConfig, repoUrl: string | undefined, lookup: ClusterLookup = {}): Promise<WatchedBranches> {
  if (config.branches.length) return { patterns: config.branches, source: 'config', detail: 'config.branches' };
  if (!repoUrl) return { patterns: DEFAULT_BRANCHES, source: 'default', detail: 'no remote URL to match GitRepositories with' };
  let repos: KubeObject[];
  try {
    repos = await listGitRepositories(config, lookup);
  } catch (err) {
    return { patterns: DEFAULT_BRANCHES, source: 'default', detail: `cannot list GitRepositories: ${(err as Error).message.split('\n')[0]}` };
  }
  const matched = repos.filter((o) => typeof o.spec?.url === 'string' && sameRepo(o.spec.url, repoUrl));
  const branches = [...new Set(matched.map((o) => trackedBranch(o)).filter((b): b is string => Boolean(b)))];
  if (!branches.length) {
    return { patterns: DEFAULT_BRANCHES, source: 'default', detail: matched.length ? 'matching GitRepositories track no branch' : 'no GitRepository points at this repository' };
  }
  const names = matched.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).join(', ');
  return { patterns: branches, source: 'cluster', detail: `tracked by ${names}` };
}

/** GitRepositories cluster-wide, or in `config.namespaces` when listing cluster-wide is forbidden. */
async function listGitRepositories(config: MonitorConfig, lookup: ClusterLookup): Promise<KubeObject[]> {
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
 * The cache the reference-transaction hook reads to decide whether to print its "follow this push" line:
 * `<git-common-dir>/flux-monitor/watched-branches`, one pattern per line; empty when the hook is disabled.
 * `undefined` removes it (unknown: the hook then always prints).
 */
export function writeWatchedCache(gitCommonDir: string, patterns: string[] | undefined): void {
  const file = join(gitCommonDir, 'flux-monitor', 'watched-branches');
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
