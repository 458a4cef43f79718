// The real Flux controllers (source-, kustomize-, helm-controller) as plain processes against a test cluster.
// Binaries are built from their Go modules by test/flux/build.sh (see docs/testing.md): leader election off,
// every namespace watched, metrics/health/artifact storage on loopback ports, logs kept in one file each and
// handed to the test on failure. No kube-controller-manager and no kubelet run, so Deployments never become
// ready: a Kustomization that waits for one fails its health check for real.
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, installExitHook, liveClusters, logTail, Proc, runBuildScript, startWatchdog, waitFor } from './kube-cluster.js';

export const CONTROLLERS = ['source-controller', 'kustomize-controller', 'helm-controller'] as const;
export type ControllerName = (typeof CONTROLLERS)[number];

export interface FluxControllers {
  /** Directory holding the logs (`<controller>.log`) and source-controller's artifact storage. */
  dataDir: string;
  /** http://127.0.0.1:<port> where source-controller serves artifacts. */
  storageUrl: string;
  running(name: ControllerName): boolean;
  /** Stops one controller (SIGTERM, then SIGKILL): "controllers down". */
  stop(name: ControllerName): Promise<void>;
  /** Starts it again with the same flags and waits until it is healthy. */
  start(name: ControllerName): Promise<void>;
  /** The last lines of every controller's log, for a failing test. */
  logs(lines?: number): string;
  /** The flags a controller runs with (what its Deployment's container args would say). */
  args(name: ControllerName): readonly string[];
  stopAll(): Promise<void>;
}

export interface StartFluxOptions {
  kubeconfigPath: string;
  log?: (s: string) => void;
  /** Which controllers to run (default all three). */
  controllers?: readonly ControllerName[];
  /** `--requeue-dependency` of kustomize- and helm-controller (Flux's default is 30s). */
  requeueDependency?: string;
}

export function findFluxDir(): string {
  if (process.env.FLUX_MONITOR_FLUX_DIR) return path.resolve(process.env.FLUX_MONITOR_FLUX_DIR);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'test', 'flux');
    if (existsSync(path.join(candidate, 'build.sh'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('flux-controllers: cannot find test/flux/build.sh above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let buildPromise: Promise<void> | undefined;

/** Runs test/flux/build.sh (a no-op when bin/ and crds/ are up to date). `crdsOnly` fetches only the CRDs. */
export function ensureFluxBuilt(opts: { log?: (s: string) => void; crdsOnly?: boolean } = {}): Promise<void> {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const script = opts.crdsOnly ? 'crds.sh' : 'build.sh';
  const run = () => runBuildScript(path.join(findFluxDir(), script), log, `test/flux/${script}`);
  if (opts.crdsOnly) return run();
  buildPromise ??= run().catch((err) => {
    buildPromise = undefined;
    throw err;
  });
  return buildPromise;
}

export async function startFluxControllers(opts: StartFluxOptions): Promise<FluxControllers> {
  const log = opts.log ?? (() => undefined);
  await ensureFluxBuilt({ log: opts.log });
  const bin = path.join(findFluxDir(), 'bin');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'flux-monitor-flux-'));
  const storage = path.join(dataDir, 'storage');
  await mkdir(storage);
  const pidFile = path.join(dataDir, 'pids');
  const keep = process.env.FLUX_MONITOR_KEEP_KUBE === '1';
  const procs = new Map<ControllerName, Proc>();
  const writePids = () => writeFileSync(pidFile, [...procs.values()].filter((p) => p.running).map((p) => p.child!.pid).join('\n'));
  const handle = { kill: () => [...procs.values()].forEach((p) => p.killSync()) };
  liveClusters.add(handle);
  installExitHook();
  startWatchdog(dataDir, pidFile, keep);

  const storagePort = await freePort();
  const storageAddr = `127.0.0.1:${storagePort}`;
  const healthPorts = new Map<ControllerName, number>();
  const requeue = opts.requeueDependency ?? '5s';

  const argsByName = new Map<ControllerName, string[]>();
  const argsOf = async (name: ControllerName): Promise<string[]> => {
    const health = await freePort();
    healthPorts.set(name, health);
    const common = [
      '--enable-leader-election=false',
      '--watch-all-namespaces=true',
      `--metrics-addr=127.0.0.1:${await freePort()}`,
      `--health-addr=127.0.0.1:${health}`,
      '--log-level=debug',
      '--log-encoding=json',
    ];
    switch (name) {
      case 'source-controller':
        return [...common, `--storage-path=${storage}`, `--storage-addr=${storageAddr}`, `--storage-adv-addr=${storageAddr}`];
      case 'kustomize-controller':
      case 'helm-controller':
        return [...common, `--requeue-dependency=${requeue}`];
    }
  };

  const startOne = async (name: ControllerName) => {
    // The controllers read the kubeconfig from KUBECONFIG and their own namespace from RUNTIME_NAMESPACE.
    const env = { ...process.env, KUBECONFIG: opts.kubeconfigPath, RUNTIME_NAMESPACE: 'flux-system' };
    const args = await argsOf(name);
    argsByName.set(name, args);
    const p = new Proc(name, path.join(bin, name), args, path.join(dataDir, `${name}.log`), writePids, env);
    p.start();
    procs.set(name, p);
    await waitFor(`${name} /readyz`, 120_000, async () => {
      const fail = p.failure();
      if (fail) throw Object.assign(new Error(fail), { fatal: true });
      const r = await fetch(`http://127.0.0.1:${healthPorts.get(name)}/readyz`);
      return r.ok;
    }, () => logTail(p.logFile));
    log(`flux-controllers: ${name} ready`);
  };

  const which = opts.controllers ?? CONTROLLERS;
  try {
    // One after another: each start is quick, and their logs stay readable.
    for (const name of which) await startOne(name);
  } catch (err) {
    handle.kill();
    liveClusters.delete(handle);
    throw err;
  }

  return {
    dataDir,
    storageUrl: `http://${storageAddr}`,
    running: (name) => procs.get(name)?.running ?? false,
    async stop(name) {
      await procs.get(name)?.stop(5_000);
    },
    async start(name) {
      if (procs.get(name)?.running) return;
      await startOne(name);
    },
    args: (name) => argsByName.get(name) ?? [],
    logs(lines = 60) {
      const cut = (s: string) => s.split('\n').map((l) => (l.length > 600 ? `${l.slice(0, 600)}…` : l)).join('\n');
      return [...procs.entries()].map(([n, p]) => `----- ${n} (${p.logFile})\n${cut(logTail(p.logFile, lines))}`).join('\n');
    },
    async stopAll() {
      await Promise.all([...procs.values()].map((p) => p.stop(5_000)));
      liveClusters.delete(handle);
      if (!keep) await rm(dataDir, { recursive: true, force: true });
      else log(`flux-controllers: kept ${dataDir}`);
    },
  };
}
