// Real git end to end: temporary bare remotes and work trees, the built CLI (dist/), the installed hooks, and an
// isolated state directory per test (XDG_STATE_HOME), so that what a push starts can be observed and stopped;
// useE2eCluster() gives a file the simulator-backed cluster(s) its pushes are followed on, and cleans up.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { listSessions, liveness, type StoredSession } from '../../src/session/store.js';
import { statePaths, type StatePaths } from '../../src/session/paths.js';
import type { KubeObject } from '../../src/core/types.js';
import type { ApiSimulator } from '../../src/sim/server.js';
import { git as gitStatus, ks as ksStatus } from '../../src/sim/flux-status.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startSim, type SimCluster } from './engine.js';
import { mergeKubeconfigs } from './kubeconfig.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.cjs');

/** e2e tests run the built CLI, as git hooks do. */
export function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` builds before running the tests)`);
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RepoOptions {
  /** Kubeconfig the pushes (and so the monitors) use. */
  kubeconfig: string;
  /** Content of .kiro/hooks/flux-reconciliation-monitor.yaml (undefined: a short timeout, defaults otherwise). */
  config?: string;
  /** Install the hooks (default true). */
  install?: boolean;
  /** Runs before install (e.g. to set up husky). */
  beforeInstall?: (r: TestRepo) => void;
}

export class TestRepo {
  readonly base: string;
  readonly remote: string;
  readonly work: string;
  readonly env: NodeJS.ProcessEnv;
  readonly paths: StatePaths;

  constructor(opts: RepoOptions) {
    this.base = realpathSync(mkdtempSync(join(tmpdir(), 'fm-e2e-')));
    this.remote = join(this.base, 'remote.git');
    this.work = join(this.base, 'work');
    const home = join(this.base, 'home');
    mkdirSync(home);
    this.env = {
      PATH: process.env.PATH,
      HOME: home,
      XDG_STATE_HOME: join(this.base, 'state'),
      KUBECONFIG: opts.kubeconfig,
      GIT_AUTHOR_NAME: 'Dev',
      GIT_AUTHOR_EMAIL: 'dev@example.com',
      GIT_COMMITTER_NAME: 'Dev',
      GIT_COMMITTER_EMAIL: 'dev@example.com',
      GIT_CONFIG_NOSYSTEM: '1',
      TERM: 'dumb',
      NO_COLOR: '1',
    };
    this.paths = statePaths(this.env);
    this.ok(this.base, 'init', '-q', '--bare', '-b', 'main', this.remote);
    this.ok(this.base, 'init', '-q', '-b', 'main', this.work);
    this.writeConfig(opts.config ?? 'config:\n  timeout: 20\n  polling_interval: 1\n');
    this.commit('initial');
    this.ok(this.work, 'remote', 'add', 'origin', '../remote.git');
    this.ok(this.work, 'push', '-q', '--no-verify', 'origin', 'main'); // the remote starts with history, unmonitored
    opts.beforeInstall?.(this);
    if (opts.install !== false) {
      const r = this.cli(['install']);
      if (r.status !== 0) throw new Error(`install failed: ${r.stdout}${r.stderr}`);
    }
  }

  git(args: string[], cwd = this.work): Run {
    const r = spawnSync('git', args, { cwd, env: this.env, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  ok(cwd: string, ...args: string[]): string {
    const r = this.git(args, cwd);
    if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  cli(args: string[], cwd = this.work): Run {
    const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: this.env, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  writeConfig(text: string): void {
    const file = join(this.work, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }

  /** Commits a change on the current branch; returns the new sha. */
  commit(message: string): string {
    writeFileSync(join(this.work, 'file.txt'), `${message}\n${Math.random()}\n`);
    this.ok(this.work, 'add', '-A');
    this.ok(this.work, 'commit', '-q', '-m', message);
    return this.ok(this.work, 'rev-parse', 'HEAD');
  }

  sessions(): StoredSession[] {
    return listSessions(this.paths).flatMap((e) => (e.session ? [e.session] : []));
  }

  live(): StoredSession[] {
    return this.sessions().filter((s) => liveness(s) === 'running');
  }

  hookLog(): string {
    try {
      return readFileSync(this.paths.hookLog, 'utf8');
    } catch {
      return '';
    }
  }

  /** Waits until the push helper has finished with the push of `sha` (its last log line names it); returns the log. */
  async decided(sha: string, timeoutMs = 15_000): Promise<string> {
    const done = new RegExp(`done [0-9a-f,]*${sha.slice(0, 12)}`);
    return eventually(() => (done.test(this.hookLog()) ? this.hookLog() : undefined), timeoutMs, `the hook helper to finish with ${sha.slice(0, 12)}; log:\n${this.hookLog()}`);
  }

  /** Stops every monitor this repository started (tests must not leave processes behind). */
  stopAll(): void {
    this.cli(['stop', '--all']);
  }
}

export async function eventually<T>(fn: () => T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface FluxApp {
  /** Source and Kustomization Ready at `sha`, as Flux applying it would leave them. */
  deliver(sha: string): void;
  /** The source fetched `sha` and kustomize-controller failed to build it. */
  fail(sha: string): void;
}

/**
 * A GitRepository of the test's remote (branch main) and a Kustomization from it, in the API simulator, both Ready
 * at `sha` (never reconciled, without a status, when no `sha` is given). Statuses have the shapes source-controller
 * and kustomize-controller write (src/sim/flux-status.ts).
 */
export function fluxApp(sim: ApiSimulator, r: TestRepo, name: string, sha?: string): FluxApp {
  const ref = (kind: string) => ({ kind, namespace: 'flux-system', name });
  const repo = sim.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace: 'flux-system' }, spec: { url: r.remote, ref: { branch: 'main' }, interval: '1m' } } as KubeObject);
  const ks = sim.apply({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: 'flux-system' },
    spec: { sourceRef: { kind: 'GitRepository', name }, path: './deploy', interval: '1m', prune: true },
  } as KubeObject);
  const fetch = (s: string) => sim.setStatus(ref('GitRepository'), gitStatus.ready(sim.get(ref('GitRepository')) ?? repo, `main@sha1:${s}`));
  const app: FluxApp = {
    deliver(s) {
      fetch(s);
      sim.setStatus(ref('Kustomization'), ksStatus.ready(sim.get(ref('Kustomization')) ?? ks, `main@sha1:${s}`, {}));
    },
    fail(s) {
      fetch(s);
      sim.setStatus(ref('Kustomization'), ksStatus.failed(sim.get(ref('Kustomization')) ?? ks, 'BuildFailed', 'kustomize build failed: accumulating resources: missing deploy.yaml', { revision: `main@sha1:${s}` }));
    },
  };
  if (sha) app.deliver(sha);
  return app;
}

export interface E2eCluster {
  /** The simulator (with `contexts`, the first context's). */
  readonly sim: ApiSimulator;
  /** The simulator of each context (with `contexts`). */
  readonly sims: Record<string, ApiSimulator>;
  /** The kubeconfig the repositories' pushes use (with `contexts`: one context per simulator). */
  readonly kubeconfig: string;
  /** A TestRepo on this cluster; every monitor it started is stopped after the test. */
  newRepo(opts?: Partial<RepoOptions>): TestRepo;
}

/**
 * For an e2e file (or a describe block): checks the CLI is built, starts the API simulator (one per context with
 * `contexts`, in one kubeconfig) before all tests, stops the monitors of the test's repositories after each
 * and the simulators after all.
 */
export function useE2eCluster(opts: { contexts?: string[] } = {}): E2eCluster {
  let started: SimCluster[] = [];
  let dir: string | undefined;
  let kubeconfig = '';
  const repos: TestRepo[] = [];
  beforeAll(async () => {
    requireBuild();
    const contexts = opts.contexts ?? [];
    started = await Promise.all((contexts.length ? contexts : ['']).map(() => startSim()));
    if (!contexts.length) kubeconfig = started[0]!.kubeconfig;
    else {
      dir = mkdtempSync(join(tmpdir(), 'fm-e2e-kube-'));
      kubeconfig = await mergeKubeconfigs(contexts.map((context, i) => ({ context, file: started[i]!.kubeconfig })), join(dir, 'kubeconfig'));
    }
  });
  afterEach(() => {
    for (const r of repos.splice(0)) r.stopAll();
  });
  afterAll(async () => {
    await Promise.all(started.map((c) => c.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get sim() {
      return started[0]!.sim;
    },
    get sims() {
      return Object.fromEntries((opts.contexts ?? []).map((c, i) => [c, started[i]!.sim]));
    },
    get kubeconfig() {
      return kubeconfig;
    },
    newRepo(o = {}) {
      const r = new TestRepo({ kubeconfig, ...o });
      repos.push(r);
      return r;
    },
  };
}
