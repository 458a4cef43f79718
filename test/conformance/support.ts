// The case runner of the real-Flux conformance suite: sets a case up in its own namespace, pushes real
// commits, runs flux-monitor's engine on the push, records what the controllers did, and saves the transcript.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { relateCommit } from '../../src/git/relate.js';
import { summaryEvent } from '../../src/core/events.js';
import { countPhases, DEFAULT_CONFIG, EXIT_CODES, type MonitorConfig, type MonitorEvent, type SessionState } from '../../src/core/types.js';
import { apply, startFluxEnv, WorkRepo, type FluxEnv } from './env.js';
import { Recorder, type Transcript } from './recorder.js';
import { CONTROLLER_VERSIONS, namespace } from './cases.js';
import { runToVerdict, summaryOf } from '../helpers/engine.js';

const execFileP = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const TRANSCRIPT_DIR = path.resolve(here, '..', 'fixtures', 'transcripts');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `pred` until it holds; fails with `what` (and the controllers' logs) after a generous ceiling. */
export async function waitUntil(env: FluxEnv, what: string, pred: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}\n${env.flux.logs(30)}`);
    await sleep(100);
  }
}

export interface MonitorRun {
  state: SessionState;
  events: MonitorEvent[];
  summary: Extract<MonitorEvent, { type: 'summary' }>;
}

export class Case {
  readonly ns: string;
  repo!: WorkRepo;
  recorder!: Recorder;
  readonly pushes: Transcript['pushes'] = [];
  private last?: MonitorRun;
  /** Recorder time when the last monitored session ended: the transcript stops there (what follows is clean-up). */
  private endedAt?: number;
  /** Recorder time when the last monitored session returned its verdict. */
  private decidedAt?: number;
  /** The commit the last monitored session followed. */
  private monitoredSha?: string;
  /** host:port of the OCI registry the case pushes artifacts to (replaced in the transcript). */
  registry?: string;

  constructor(
    readonly env: FluxEnv,
    readonly name: string,
    readonly description: string,
  ) {
    this.ns = `c-${name}`;
  }

  /** Namespace, repository with its first commit pushed, the recorder, then the Flux objects. */
  async setup(files: Record<string, string>, objects: (ns: string, url: string) => unknown[]): Promise<string> {
    await apply(this.env.cluster, [namespace(this.ns)]);
    this.repo = await WorkRepo.create(this.env.gitServer, this.name);
    const sha = await this.repo.commit('initial', files);
    await this.repo.push();
    this.recorder = new Recorder(this.env.kubeconfig, this.ns, { git: this.env.gitServer.url, storage: this.env.flux.storageUrl, registry: this.registry });
    await this.recorder.start();
    await apply(this.env.cluster, objects(this.ns, this.repo.url));
    return sha;
  }

  /** The latest status of every object of the case, for a failing test's message. */
  describe(): string {
    const seen = new Map<string, any>();
    for (const e of this.recorder?.entries ?? []) seen.set(`${e.object.kind}/${e.object.metadata.name}`, e.object);
    return [...seen.entries()]
      .map(([k, o]) => {
        const st = o.status ?? {};
        const conds = (st.conditions ?? []).map((c: any) => `    ${c.type}=${c.status} ${c.reason}: ${String(c.message).slice(0, 300)}`).join('\n');
        const revs = ['lastAttemptedRevision', 'lastAppliedRevision'].filter((f) => st[f]).map((f) => `${f}=${st[f]}`).join(' ');
        return `  ${k} gen=${o.metadata.generation} observed=${st.observedGeneration} ${revs} artifact=${st.artifact?.revision ?? ''}\n${conds}`;
      })
      .join('\n');
  }

  latest(kind: string, name: string): any {
    return this.recorder.latest(kind, name);
  }

  ready(kind: string, name: string, revisionIncludes?: string): boolean {
    const o = this.latest(kind, name);
    const ready = o?.status?.conditions?.find((c: any) => c.type === 'Ready');
    if (ready?.status !== 'True' || o.status.observedGeneration !== o.metadata.generation) return false;
    if (!revisionIncludes) return true;
    const revs = [o.status.lastAppliedRevision, o.status.artifact?.revision, o.status.lastAttemptedRevision, o.status.history?.[0]?.chartVersion];
    return revs.some((r) => typeof r === 'string' && r.includes(revisionIncludes.slice(0, 12)));
  }

  async waitReady(objs: Array<[string, string]>, revision?: string, ms?: number): Promise<void> {
    await waitUntil(this.env, `${objs.map(([k, n]) => `${k}/${n}`).join(', ')} Ready${revision ? ` at ${revision.slice(0, 7)}` : ''} in ${this.ns}`, () => objs.every(([k, n]) => this.ready(k, n, revision)), ms);
  }

  /** Commits and pushes a change; returns the new commit id. */
  async push(subject: string, files: Record<string, string | null>, opts: { from?: WorkRepo; force?: boolean } = {}): Promise<string> {
    const repo = opts.from ?? this.repo;
    const sha = await repo.commit(subject, files);
    await repo.push({}, { force: opts.force });
    this.pushes.push({ sha, subject, t: this.recorder.now(), parents: await repo.parents(sha) });
    return sha;
  }

  /** Runs flux-monitor's engine on the pushed commit, as `flux-monitor watch` does, to its verdict. */
  async monitor(sha: string, config: Partial<MonitorConfig> = {}, opts: { signal?: AbortSignal; onEvent?: (e: MonitorEvent) => void } = {}): Promise<MonitorRun> {
    this.monitoredSha = sha;
    const { final: state, events } = await runToVerdict({
      pushed: { sha, branch: 'main' },
      repoUrl: this.repo.url,
      branch: 'main',
      kubeconfig: this.env.kubeconfig,
      config: { ...DEFAULT_CONFIG, timeout: 180, auto_reconcile: true, ...config },
      tuning: undefined, // the engine's own, as in `flux-monitor watch`
      onEvent: opts.onEvent,
      // As the CLI does: the monitoring clone fetches a commit it does not have from its remote.
      relateCommit: (other) => relateCommit(this.repo.dir, sha, other, { remote: 'origin', branch: 'main' }),
      signal: opts.signal,
    });
    const summary = summaryOf(events);
    this.last = { state, events, summary };
    this.decidedAt = this.recorder.now();
    await this.sync();
    this.endedAt = this.recorder.now();
    return this.last;
  }

  /** The phase flux-monitor reported last for an object, by `Kind/name` in this case's namespace. */
  node(run: MonitorRun, kind: string, name: string) {
    const n = Object.values(run.state.nodes).find((x) => x.kind === kind && x.name === name && x.namespace === this.ns);
    if (!n) throw new Error(`${kind}/${name} is not in the session: ${Object.keys(run.state.nodes).join(', ')}`);
    return n;
  }

  /** Takes a session that ran elsewhere (the detached monitor) as this case's result. */
  async adopt(state: SessionState): Promise<void> {
    this.decidedAt = this.recorder.now();
    await this.sync();
    this.endedAt = this.recorder.now();
    this.last = { state, events: [], summary: summaryEvent({ ...state, verdict: state.verdict ?? 'timeout' }) };
  }

  /** Saves the transcript (FLUX_MONITOR_RECORD=1) and stops recording. */
  /** Waits until the recorder has everything the controllers have written so far. */
  async sync(): Promise<void> {
    await this.recorder?.catchUp(async (p) => {
      const r = await this.env.cluster.request('GET', p);
      const kind = r.body?.kind?.replace(/List$/, '');
      return (r.body?.items ?? []).map((i: any) => ({ ...i, kind }));
    });
  }

  async finish(): Promise<Transcript | undefined> {
    if (this.endedAt === undefined) await this.sync();
    this.recorder?.stop();
    await this.repo?.remove();
    if (!this.last) return undefined;
    const { state, summary } = this.last;
    const phases: Transcript['expected']['phases'] = {};
    for (const n of Object.values(state.nodes)) if (n.affected) phases[`${n.kind}/${n.name}`] = { phase: n.phase, reason: n.reason, resourceVersion: n.resourceVersion };
    const t: Transcript = {
      case: this.name,
      description: this.description,
      controllers: { ...CONTROLLER_VERSIONS },
      kubernetes: 'v1.34.4',
      namespace: this.ns,
      repoUrl: `http://git.conformance.test/git/${this.name}.git`,
      branch: 'main',
      pushes: this.pushes,
      ...(this.monitoredSha && this.monitoredSha !== this.pushes.at(-1)?.sha ? { monitored: this.monitoredSha } : {}),
      expected: { verdict: summary.verdict, exitCode: summary.exitCode, phases },
      decidedAt: this.decidedAt,
      entries: this.recorder.entries.filter((e) => this.endedAt === undefined || e.t <= this.endedAt),
    };
    if (process.env.FLUX_MONITOR_RECORD === '1') {
      await mkdir(TRANSCRIPT_DIR, { recursive: true });
      await writeFile(path.join(TRANSCRIPT_DIR, `${this.name}.json`), JSON.stringify(t, null, 1) + '\n');
    }
    return t;
  }
}

/** Asserts the monitor decided from Flux's state: it did not run into its timeout. */
export function decidedByFlux(run: MonitorRun): void {
  if (run.summary.verdict === 'timeout' || run.state.timedOut) {
    throw new Error(`the verdict came from the timeout, not from Flux's state: ${run.summary.message}`);
  }
}

export { EXIT_CODES };

/**
 * One real-Flux environment for a test file (started in beforeAll, stopped in afterAll), and `withCase`, which
 * runs a case and, when it fails, adds the objects as the controllers left them and the controllers' logs.
 */
export function fluxSuite(hooks: { beforeAll: typeof import('vitest').beforeAll; afterAll: typeof import('vitest').afterAll }) {
  let env: FluxEnv | undefined;
  hooks.beforeAll(async () => {
    env = await startFluxEnv();
  });
  hooks.afterAll(async () => {
    await env?.stop();
  });
  const current = (): FluxEnv => {
    if (!env) throw new Error('the real-Flux environment is not started');
    return env;
  };
  return {
    env: current,
    async withCase<T>(name: string, description: string, body: (c: Case) => Promise<T>): Promise<T> {
      const c = new Case(current(), name, description);
      try {
        return await body(c);
      } catch (err) {
        (err as Error).message += `\n--- objects as the controllers left them\n${c.describe()}\n--- controller logs\n${current().flux.logs(12)}`;
        throw err;
      } finally {
        await c.finish();
      }
    },
  };
}

// ------------------------------------------------------------------------------------------------ charts

/** Packages a chart directory (`web/…` files) into a .tgz under the git server's static dir, and writes index.yaml. */
export async function publishCharts(env: FluxEnv, sub: string, charts: Array<{ version: string; files: Record<string, string> }>): Promise<string> {
  const dir = path.join(env.gitServer.staticDir, sub);
  await mkdir(dir, { recursive: true });
  const entries: string[] = [];
  for (const c of charts) {
    const work = path.join(dir, `.build-${c.version}`);
    for (const [rel, content] of Object.entries(c.files)) {
      await mkdir(path.dirname(path.join(work, rel)), { recursive: true });
      await writeFile(path.join(work, rel), content);
    }
    const tgz = `web-${c.version}.tgz`;
    await execFileP('tar', ['--sort=name', '--mtime=2026-01-01', '--owner=0', '--group=0', '--numeric-owner', '-czf', path.join(dir, tgz), '-C', work, 'web']);
    const digest = createHash('sha256').update(await readFile(path.join(dir, tgz))).digest('hex');
    entries.push(
      `  - apiVersion: v2\n    name: web\n    version: ${c.version}\n    appVersion: "1.0"\n    created: "2026-01-01T00:00:00Z"\n    digest: ${digest}\n    urls:\n      - ${env.gitServer.url}/static/${sub}/${tgz}`,
    );
  }
  await writeFile(path.join(dir, 'index.yaml'), `apiVersion: v1\nentries:\n  web:\n${entries.join('\n')}\ngenerated: "2026-01-01T00:00:00Z"\n`);
  return `${env.gitServer.url}/static/${sub}`;
}
