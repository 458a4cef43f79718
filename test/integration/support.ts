// Shared helpers of the real-cluster integration tests: starting the cluster (loudly), driving the engine,
// writing Flux objects and statuses through the real API, waiting without fixed sleeps, and a TCP gate that
// cuts the engine's connections while the apiserver stays up.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { startKubeCluster, type KubeCluster, type StartKubeClusterOptions } from '../harness/kube-cluster.js';
import type { RunOptions } from '../../src/engine/run.js';
import { KINDS as FLUX_KINDS } from '../../src/core/kinds.js';
import * as engine from '../helpers/engine.js';
import type { EngineRun } from '../helpers/engine.js';
import { pluralOf } from '../../src/cluster/discovery.js';
import { DEFAULT_CONFIG, type FluxKind, type KubeObject } from '../../src/core/types.js';
import { RestClient, RestError } from '../../src/sim/rest.js';

export type { KubeCluster };

/**
 * Starts the real etcd + kube-apiserver. Never skips: if the binaries are missing and cannot be built, the
 * suite fails with a message that says what is needed (CI must not go green without the real cluster).
 */
export async function startCluster(opts: StartKubeClusterOptions = {}): Promise<KubeCluster> {
  const log = (s: string) => {
    if (process.env.FLUX_MONITOR_KUBE_LOG === '1') console.log(s);
  };
  try {
    return await startKubeCluster({ log, ...opts });
  } catch (err) {
    throw new Error(
      'The real-cluster integration suite cannot run: starting etcd + kube-apiserver failed.\n' +
        'It builds test/kube/bin/ with `bash test/kube/build.sh` (needs Go >= 1.24 on PATH or in /usr/local/go/bin, and the Go module proxy).\n' +
        'This is a failure, not a skip: fix the build or the environment (see docs/testing.md).\n' +
        `Cause: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

// ------------------------------------------------------------------------------------------------ waiting

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `pred` until it holds; fails with `what` after `ms` (generous by default: the machine may be slow). */
export const waitFor = (what: string, pred: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> => engine.waitFor(what, pred, ms);

// ------------------------------------------------------------------------------------------------ the engine

export type { EngineRun } from '../helpers/engine.js';
export { errorsOf, phasesOf, stopEngines, summaryOf } from '../helpers/engine.js';
export { SHA_NEW, SHA_OLD } from '../helpers/flux.js';

/** The Flux kinds the real CRDs serve and the engine reads with the default config: one watch each. */
export const KINDS = FLUX_KINDS.length;

/** Fast backoff so recoveries take well under a second; long stall detection (real watches are healthy). */
export const TUNING: NonNullable<RunOptions['tuning']> = { backoffMs: 100, maxBackoffMs: 1000, stallMs: 60_000, settleDelayMs: 500 };

/** Starts runMonitor like `flux-monitor watch` would (test/helpers/engine.ts), with a 90 s timeout and TUNING. */
export const startEngine = (over: Partial<RunOptions> & { kubeconfig: string }): EngineRun =>
  engine.startEngine({ repoUrl: undefined, config: { ...DEFAULT_CONFIG, timeout: 90 }, tuning: TUNING, ...over });

// ------------------------------------------------------------------------------------------------ objects

export interface Ref {
  kind: FluxKind;
  namespace: string;
  name: string;
}

const GROUP: Record<FluxKind, string> = {
  GitRepository: 'source.toolkit.fluxcd.io',
  OCIRepository: 'source.toolkit.fluxcd.io',
  HelmRepository: 'source.toolkit.fluxcd.io',
  HelmChart: 'source.toolkit.fluxcd.io',
  Bucket: 'source.toolkit.fluxcd.io',
  ExternalArtifact: 'source.toolkit.fluxcd.io',
  Kustomization: 'kustomize.toolkit.fluxcd.io',
  HelmRelease: 'helm.toolkit.fluxcd.io',
};

/** Flux objects on the real cluster through the admin identity: create, status writes, spec patches. */
export class FluxObjects {
  /** Version used per API group (what the CRDs serve; a test may switch one). */
  readonly versions: Record<string, string> = {
    'source.toolkit.fluxcd.io': 'v1',
    'kustomize.toolkit.fluxcd.io': 'v1',
    'helm.toolkit.fluxcd.io': 'v2',
  };

  constructor(readonly admin: RestClient) {}

  static forCluster(cluster: KubeCluster): FluxObjects {
    return new FluxObjects(RestClient.fromKubeconfig(cluster.adminKubeconfigPath));
  }

  path(r: Pick<Ref, 'kind' | 'namespace'> & { name?: string }): string {
    const g = GROUP[r.kind];
    const base = `/apis/${g}/${this.versions[g]}/namespaces/${encodeURIComponent(r.namespace)}/${pluralOf(r.kind)}`;
    return r.name === undefined ? base : `${base}/${encodeURIComponent(r.name)}`;
  }

  async ensureNamespace(name: string): Promise<void> {
    try {
      await this.admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    } catch (e) {
      if (!(e instanceof RestError && e.status === 409)) throw e;
    }
  }

  /** Creates the object (the server drops `status` on create), then writes its status if it has one. */
  async create(obj: KubeObject): Promise<KubeObject> {
    const ref = refOf(obj);
    const { status, ...rest } = obj;
    rest.apiVersion = `${GROUP[ref.kind]}/${this.versions[GROUP[ref.kind]]}`;
    let created = await this.admin.create<KubeObject>(this.path({ kind: ref.kind, namespace: ref.namespace }), rest);
    if (status !== undefined) created = await this.setStatus(ref, status);
    return created;
  }

  get(ref: Ref): Promise<KubeObject> {
    return this.admin.get<KubeObject>(this.path(ref));
  }

  /** Replaces the whole status through PUT …/status (read-modify-write, retried on conflicts). */
  async setStatus(ref: Ref, status: unknown): Promise<KubeObject> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(ref);
      try {
        return await this.admin.replaceStatus<KubeObject>(this.path(ref), { ...cur, status });
      } catch (e) {
        if (e instanceof RestError && e.status === 409 && attempt < 5) continue;
        throw e;
      }
    }
  }

  /** JSON merge patch of the object (spec/metadata); bumps generation when the spec changes. */
  patch(ref: Ref, patch: unknown): Promise<KubeObject> {
    return this.admin.mergePatch<KubeObject>(this.path(ref), patch);
  }

  async delete(ref: Ref): Promise<void> {
    await this.admin.delete(this.path(ref));
  }
}

export function refOf(obj: KubeObject): Ref {
  return { kind: obj.kind as FluxKind, namespace: obj.metadata.namespace!, name: obj.metadata.name };
}

// ------------------------------------------------------------------------------------------------ TCP gate

/**
 * A TCP pass-through in front of the apiserver. `cut()` destroys every connection and refuses new ones (the
 * engine sees resets, as with a network outage) while the apiserver keeps running, so tests can change objects
 * exactly while the engine is disconnected. TLS goes through untouched (the serving cert is for 127.0.0.1).
 */
export class TcpGate {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private blocked = false;
  port = 0;
  /** Connections accepted and forwarded. */
  forwarded = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<number> {
    this.server = net.createServer((client) => {
      if (this.blocked) {
        client.destroy();
        return;
      }
      this.forwarded++;
      const upstream = net.connect(this.target.port, this.target.host);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Drops all connections and refuses new ones until open(). Returns how many client connections were cut. */
  cut(): number {
    this.blocked = true;
    let n = 0;
    for (const s of [...this.sockets]) {
      n++;
      s.destroy();
    }
    this.sockets.clear();
    return Math.ceil(n / 2);
  }

  open(): void {
    this.blocked = false;
  }

  get openConnections(): number {
    return this.sockets.size / 2;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Writes a copy of `kubeconfigPath` whose cluster server is `server`; returns the new path. */
export async function kubeconfigWithServer(kubeconfigPath: string, server: string, file: string): Promise<string> {
  const cfg = YAML.parse(await readFile(kubeconfigPath, 'utf8'));
  for (const c of cfg.clusters) c.cluster.server = server;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, YAML.stringify(cfg), { mode: 0o600 });
  return file;
}

export function serverPort(cluster: KubeCluster): number {
  return Number(new URL(cluster.server).port);
}

/** A real cluster with a TCP gate in front of it (to cut the engine's connections) and its fixtures. */
export interface GatedCluster {
  cluster: KubeCluster;
  objs: FluxObjects;
  gate: TcpGate;
  /** Admin kubeconfig that goes through the gate. */
  gatedKubeconfig: string;
}

/**
 * Registers beforeAll/afterEach/afterAll hooks that start a cluster behind a TcpGate, reopen the gate and stop
 * the engines after each test, and tear everything down; the returned object is filled in by beforeAll.
 */
export function useGatedCluster(hooks: { beforeAll: typeof import('vitest').beforeAll; afterEach: typeof import('vitest').afterEach; afterAll: typeof import('vitest').afterAll }, opts: StartKubeClusterOptions = {}): GatedCluster {
  const g = {} as GatedCluster;
  hooks.beforeAll(async () => {
    g.cluster = await startCluster(opts);
    g.objs = FluxObjects.forCluster(g.cluster);
    g.gate = new TcpGate({ host: '127.0.0.1', port: serverPort(g.cluster) });
    await g.gate.start();
    g.gatedKubeconfig = await kubeconfigWithServer(g.cluster.adminKubeconfigPath, `https://127.0.0.1:${g.gate.port}`, `${g.cluster.dataDir}/gated.kubeconfig`);
  });
  hooks.afterEach(async () => {
    g.gate?.open();
    await engine.stopEngines();
  });
  hooks.afterAll(async () => {
    await g.gate?.stop();
    g.objs?.admin.close();
    await g.cluster?.stop();
  });
  return g;
}

// ------------------------------------------------------------------------------------------------ other CRDs

/**
 * Tekton's real PipelineRun CRD (tektoncd/pipeline v1.3.0), copied from its Go module by test/tekton/crds.sh
 * (a module download, no build).
 */
export async function tektonPipelineRunCrd(): Promise<any> {
  const dir = path.resolve(import.meta.dirname, '..', 'tekton');
  await new Promise<void>((resolve, reject) =>
    execFile('bash', [path.join(dir, 'crds.sh')], { env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin` } }, (err, _out, stderr) =>
      err ? reject(new Error(`test/tekton/crds.sh failed (needs Go and the Go module proxy): ${stderr || err.message}`)) : resolve(),
    ),
  );
  return YAML.parse(await readFile(path.join(dir, 'crds', '300-pipelinerun.yaml'), 'utf8'));
}

/** Creates a CRD on the real cluster and waits until it is Established and every served version can be listed. */
export async function installCrd(cluster: KubeCluster, crd: any): Promise<void> {
  const base = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  const r = await cluster.request('POST', base, crd);
  if (r.status !== 201 && r.status !== 409) throw new Error(`create CRD ${crd.metadata.name}: HTTP ${r.status} ${r.text}`);
  await waitFor(`CRD ${crd.metadata.name} Established`, async () => {
    const c = await cluster.request('GET', `${base}/${crd.metadata.name}`);
    return (c.body?.status?.conditions ?? []).some((x: any) => x.type === 'Established' && x.status === 'True');
  }, 60_000);
  for (const v of crd.spec.versions.filter((x: any) => x.served)) {
    await waitFor(`list ${crd.spec.names.plural}.${crd.spec.group}/${v.name}`, async () => (await cluster.request('GET', `/apis/${crd.spec.group}/${v.name}/${crd.spec.names.plural}`)).status === 200, 60_000);
  }
}
