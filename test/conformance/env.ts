// The real-Flux conformance environment: a real kube-apiserver + etcd with the real Flux CRDs, the real
// source-, kustomize- and helm-controller, and a git smart-HTTP server on loopback. One environment serves the
// whole suite; every case lives in its own namespace with its own repository, so cases never see each other.
import { KINDS } from '../../src/core/kinds.js';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { startKubeCluster, type KubeCluster } from '../harness/kube-cluster.js';
import { CONTROLLERS, startFluxControllers, type FluxControllers } from '../harness/flux-controllers.js';
import { git, startGitServer, type GitServer } from '../harness/git-server.js';

export interface FluxEnv {
  cluster: KubeCluster;
  flux: FluxControllers;
  gitServer: GitServer;
  kubeconfig: string;
  stop(): Promise<void>;
}

export async function startFluxEnv(opts: { requeueDependency?: string } = {}): Promise<FluxEnv> {
  const log = (s: string) => {
    if (process.env.FLUX_MONITOR_KUBE_LOG === '1') console.log(s);
  };
  let cluster: KubeCluster | undefined;
  let flux: FluxControllers | undefined;
  let gitServer: GitServer | undefined;
  try {
    cluster = await startKubeCluster({ log });
    flux = await startFluxControllers({ kubeconfigPath: cluster.adminKubeconfigPath, log, requeueDependency: opts.requeueDependency });
    gitServer = await startGitServer();
  } catch (err) {
    await flux?.stopAll();
    await cluster?.stop();
    throw new Error(
      'The real-Flux conformance suite cannot run: starting kube-apiserver, etcd or the Flux controllers failed.\n' +
        'It builds them with `bash test/kube/build.sh` and `bash test/flux/build.sh` (Go and the Go module proxy).\n' +
        'This is a failure, not a skip (see docs/testing.md).\n' +
        `Cause: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const c = cluster;
  const f = flux;
  const g = gitServer;
  for (const name of CONTROLLERS) await setControllerDeployment(c, name, true, f.args(name));
  return {
    cluster: c,
    flux: f,
    gitServer: g,
    kubeconfig: c.adminKubeconfigPath,
    async stop() {
      await f.stopAll();
      await g.close();
      await c.stop();
    },
  };
}

// ------------------------------------------------------------------------------------------------ objects

/** Creates (or replaces) objects through the real API; `yamlText` may hold several documents. */
export async function apply(cluster: KubeCluster, objs: unknown[] | string): Promise<void> {
  const docs = typeof objs === 'string' ? YAML.parseAllDocuments(objs).map((d) => d.toJSON()).filter(Boolean) : objs;
  for (const o of docs as Array<{ apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }>) {
    const p = collectionPath(o.apiVersion, o.kind, o.metadata.namespace);
    const r = await cluster.request('POST', p, o);
    if (r.status === 409) {
      const cur = await cluster.request('GET', `${p}/${o.metadata.name}`);
      const next = { ...o, metadata: { ...o.metadata, resourceVersion: cur.body.metadata.resourceVersion } };
      const u = await cluster.request('PUT', `${p}/${o.metadata.name}`, next);
      if (u.status >= 300) throw new Error(`replace ${o.kind} ${o.metadata.name}: ${u.status} ${u.text}`);
    } else if (r.status >= 300) throw new Error(`create ${o.kind} ${o.metadata.name}: ${r.status} ${r.text}`);
  }
}

const PLURALS: Record<string, string> = {
  Namespace: 'namespaces',
  ConfigMap: 'configmaps',
  Deployment: 'deployments',
  ...Object.fromEntries(KINDS.map((k) => [k.kind, k.plural])),
};

export function collectionPath(apiVersion: string, kind: string, namespace?: string): string {
  const plural = PLURALS[kind];
  if (!plural) throw new Error(`conformance env: no plural known for ${kind}`);
  const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace ? `${prefix}/namespaces/${namespace}/${plural}` : `${prefix}/${plural}`;
}

export async function getObject(cluster: KubeCluster, apiVersion: string, kind: string, namespace: string, name: string): Promise<any> {
  const r = await cluster.request('GET', `${collectionPath(apiVersion, kind, namespace)}/${name}`);
  return r.status === 200 ? r.body : undefined;
}

export async function mergePatch(cluster: KubeCluster, apiVersion: string, kind: string, namespace: string, name: string, patch: unknown): Promise<void> {
  const r = await cluster.request('PATCH', `${collectionPath(apiVersion, kind, namespace)}/${name}`, patch, { contentType: 'application/merge-patch+json' });
  if (r.status >= 300) throw new Error(`patch ${kind} ${namespace}/${name}: ${r.status} ${r.text}`);
}

/**
 * The controllers run as processes here, not as Pods, so no Deployment reports them. Each gets a Deployment in
 * flux-system whose status is written by hand with the shape kube-controller-manager's deployment controller
 * writes (k8s.io/kubernetes pkg/controller/deployment, calculateStatus and the Available/Progressing
 * conditions): 1/1 available while the process runs, 0/1 with Available=False MinimumReplicasUnavailable
 * once it is stopped. flux-monitor's controllers-down diagnosis reads exactly this. Its container's args are the
 * flags the process runs with (`args`, when it is created), as a Flux install's Deployment carries them:
 * flux-monitor reads --requeue-dependency there (src/engine/controller-flags.ts).
 */
export async function setControllerDeployment(cluster: KubeCluster, name: string, running: boolean, args?: readonly string[]): Promise<void> {
  const path = `/apis/apps/v1/namespaces/flux-system/deployments`;
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'flux-system', labels: { 'app.kubernetes.io/part-of': 'flux', app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'manager', image: `ghcr.io/fluxcd/${name}`, ...(args ? { args: [...args] } : {}) }] } },
    },
  };
  const created = await cluster.request('POST', path, deployment);
  if (created.status >= 300 && created.status !== 409) throw new Error(`create Deployment ${name}: ${created.status} ${created.text}`);
  await writeDeploymentStatus(cluster, 'flux-system', name, running);
}

/**
 * Writes a Deployment's status as kube-controller-manager's deployment controller does (see above): available
 * (1/1, Available=True MinimumReplicasAvailable) or not. Workloads in the test cluster never become ready by
 * themselves (no kube-controller-manager, no kubelet): this is what "the rollout finished" looks like.
 */
export async function writeDeploymentStatus(cluster: KubeCluster, namespace: string, name: string, running: boolean): Promise<void> {
  const path = `/apis/apps/v1/namespaces/${namespace}/deployments`;
  const cur = await cluster.request('GET', `${path}/${name}`);
  if (cur.status >= 300) throw new Error(`get Deployment ${namespace}/${name}: ${cur.status} ${cur.text}`);
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const progressing = { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${name}-7d9c5b8f4" has successfully progressed.`, lastUpdateTime: t, lastTransitionTime: t };
  const status = running
    ? { observedGeneration: cur.body.metadata.generation, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: t, lastTransitionTime: t }, progressing] }
    : { observedGeneration: cur.body.metadata.generation, replicas: 1, updatedReplicas: 1, unavailableReplicas: 1, conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: t, lastTransitionTime: t }, progressing] };
  const r = await cluster.request('PUT', `${path}/${name}/status`, { ...cur.body, status });
  if (r.status >= 300) throw new Error(`write Deployment ${name} status: ${r.status} ${r.text}`);
}

// ------------------------------------------------------------------------------------------------ repositories

/**
 * A working clone of a repository on the git server. Commits use fixed dates and identity, so the same
 * sequence of trees gives the same commit ids in every run (the recorded transcripts name them).
 */
export class WorkRepo {
  private commits = 0;
  private constructor(
    readonly dir: string,
    readonly url: string,
  ) {}

  static async create(server: GitServer, name: string): Promise<WorkRepo> {
    const url = await server.createRepo(name);
    const dir = await mkdtemp(path.join(os.tmpdir(), `flux-monitor-work-${name}-`));
    await git(dir, ['init', '--initial-branch=main', '.']);
    await git(dir, ['remote', 'add', 'origin', url]);
    return new WorkRepo(dir, url);
  }

  /** Writes files (path → content; `null` deletes) and commits them; returns the commit id. */
  async commit(message: string, files: Record<string, string | null>): Promise<string> {
    for (const [rel, content] of Object.entries(files)) {
      const p = path.join(this.dir, rel);
      if (content === null) await rm(p, { recursive: true, force: true });
      else {
        await mkdir(path.dirname(p), { recursive: true });
        await writeFile(p, content);
      }
    }
    await git(this.dir, ['add', '-A']);
    const date = `2026-01-01T00:${String(Math.floor(this.commits / 60)).padStart(2, '0')}:${String(this.commits % 60).padStart(2, '0')}Z`;
    this.commits++;
    await git(this.dir, ['commit', '--allow-empty', '-q', '-m', message], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
    return git(this.dir, ['rev-parse', 'HEAD']);
  }

  /** A second clone of the same repository (a teammate's), with main checked out. */
  static async clone(url: string, name: string): Promise<WorkRepo> {
    const dir = await mkdtemp(path.join(os.tmpdir(), `flux-monitor-work-${name}-`));
    await git(dir, ['clone', '-q', '--branch', 'main', url, '.']);
    const r = new WorkRepo(dir, url);
    r.commits = 30; // its commit dates differ from the first clone's (commit ids stay the same run to run)
    return r;
  }

  /** Moves HEAD back `n` commits, keeping nothing of them (to rewrite history before a force push). */
  async resetHard(n: number): Promise<void> {
    await git(this.dir, ['reset', '-q', '--hard', `HEAD~${n}`]);
  }

  /** The parents of a commit. */
  async parents(sha: string): Promise<string[]> {
    return (await git(this.dir, ['rev-list', '--parents', '-n', '1', sha])).split(/\s+/).slice(1);
  }

  async push(env: NodeJS.ProcessEnv = {}, opts: { force?: boolean } = {}): Promise<void> {
    await git(this.dir, ['push', '-q', ...(opts.force ? ['--force'] : []), 'origin', 'HEAD:refs/heads/main'], env);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
