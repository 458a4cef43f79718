// FluxPlayer: plays the Flux controllers (source-, kustomize- and helm-controller) over a RestClient, so the
// same player and scenario drive the simulator or a real kube-apiserver with the Flux CRDs installed.
//
// Every tick it lists the Flux objects, decides what a controller would do with each (new upstream commit,
// new source revision, new generation, reconcile request, dependencies), and runs scheduled steps that write
// real Flux status shapes through the /status subresource, write by write as the controllers do (conditions
// first, then the rest of the status). A "git remote" model (setBranchHead) stands in for pushes. Timing and
// outcomes come from the scenario, scaled by `speed`. The sequences of statuses are calibrated against the
// real controllers' transcripts (test/unit/sim-calibration.test.ts).
import type { FluxKind, KubeObject } from '../core/types.js';
import { FluxRest } from './flux-client.js';
import {
  fakeSha, getCondition, git, gitRevision, goDuration, goSeconds, helmChartProgressing, helmChartReady, hr, inventoryId, isReady,
  ks, requestedAt, shaOfRevision, simpleSourceReady, type InventoryEntry, type ReleaseAction, type Status,
} from './flux-status.js';
import type { RestClient } from './rest.js';
import { atCommit, normalizeRepoUrl, type Behavior, type Scenario, type ScenarioObject, type SimWorkload } from './scenario-model.js';
import { RestError } from './rest.js';
import { mergePatch } from './patch.js';

export interface FluxPlayerOptions {
  /** Poll interval (not scaled by speed). Default 100 ms. */
  tickMs?: number;
  /** Divides every scripted delay: 2 = twice as fast. Default 1. */
  speed?: number;
  /** Steps run in parallel per tick. Default 8. */
  concurrency?: number;
  /** Record core/v1 Events like the controllers do. Default true. */
  events?: boolean;
  /** Called with errors of a tick or step (they are retried on the next tick). */
  onError?: (err: unknown) => void;
}

const DEFAULT_TIMING: Record<string, { start: number; duration: number }> = {
  GitRepository: { start: 1000, duration: 800 },
  Kustomization: { start: 300, duration: 1500 },
  HelmRelease: { start: 300, duration: 2000 },
  other: { start: 100, duration: 300 },
};

const OBSERVED: FluxKind[] = ['GitRepository', 'OCIRepository', 'Bucket', 'HelmRepository', 'HelmChart', 'Kustomization', 'HelmRelease'];
/** Sources a HelmChart can be built from whose artifact revision the chart records (not a HelmRepository). */
const ARTIFACT_CHART_SOURCES = new Set(['GitRepository', 'OCIRepository', 'Bucket']);
const KS_OWNER_NAME = 'kustomize.toolkit.fluxcd.io/name';
const KS_OWNER_NS = 'kustomize.toolkit.fluxcd.io/namespace';

function keyOf(o: { kind: string; metadata: { namespace?: string; name: string } }): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

// ------------------------------------------------------------------------------------------------ scenario resolution

export interface ResolvedScenario {
  scenario: Scenario;
  /** Scenario objects by `Kind/namespace/name` (namespaces filled in). */
  index: Map<string, ScenarioObject>;
  /** Objects applied by each Kustomization (`namespace/name`). */
  children: Map<string, ScenarioObject[]>;
  objects: ScenarioObject[];
}

/** Fills in namespaces (children default to their Kustomization's targetNamespace, else its namespace). */
export function resolveScenario(scenario: Scenario): ResolvedScenario {
  const byKs = new Map<string, ScenarioObject>();
  for (const o of scenario.objects) if (o.manifest.kind === 'Kustomization') byKs.set(`${o.manifest.metadata.namespace ?? 'default'}/${o.manifest.metadata.name}`, o);
  const objects = scenario.objects.map((o): ScenarioObject => {
    if (o.manifest.metadata.namespace) return o;
    const parent = o.appliedBy ? byKs.get(o.appliedBy) : undefined;
    const ns = parent ? parent.manifest.spec?.targetNamespace ?? parent.manifest.metadata.namespace ?? 'default' : 'default';
    return { ...o, manifest: { ...o.manifest, metadata: { ...o.manifest.metadata, namespace: ns } } };
  });
  const index = new Map<string, ScenarioObject>();
  const children = new Map<string, ScenarioObject[]>();
  for (const o of objects) {
    index.set(keyOf(o.manifest), o);
    if (o.appliedBy) {
      const list = children.get(o.appliedBy) ?? [];
      list.push(o);
      children.set(o.appliedBy, list);
    }
  }
  return { scenario, index, children, objects };
}

/** The object as it is in the repository at `commit` (undefined when absent), with Flux's owner labels. */
export function manifestAt(o: ScenarioObject, commit: number): KubeObject | undefined {
  const c = atCommit(o.commits, commit);
  if (c?.absent) return undefined;
  let m = structuredClone(o.manifest);
  if (c?.patch) m = mergePatch(m, c.patch) as KubeObject;
  if (o.appliedBy) {
    const [ns, name] = o.appliedBy.split('/') as [string, string];
    m.metadata.labels = { ...(m.metadata.labels ?? {}), [KS_OWNER_NAME]: name, [KS_OWNER_NS]: ns };
  }
  return m;
}

function behaviorOf(r: ResolvedScenario, key: string, kind: string, commit: number): Behavior & { start: number; duration: number } {
  const b = atCommit(r.index.get(key)?.behavior, commit) ?? {};
  const d = DEFAULT_TIMING[kind] ?? DEFAULT_TIMING.other!;
  return { ...b, start: b.startDelayMs ?? d.start, duration: b.durationMs ?? d.duration };
}

function substitute(msg: string, vars: Record<string, string>): string {
  return msg.replace(/\{(revision|url|sha)\}/g, (_m, k: string) => vars[k] ?? '');
}

/** Chart version a HelmRelease gets from its source (git charts with reconcileStrategy Revision get +<sha12>). */
function chartVersionOf(hrObj: KubeObject, src: KubeObject, b: Behavior): string {
  const spec = hrObj.spec?.chart?.spec;
  const fromGit = ARTIFACT_CHART_SOURCES.has(src.kind) && src.kind !== 'OCIRepository';
  let base = b.chartVersion;
  if (!base && typeof spec?.version === 'string' && /^v?\d+\.\d+\.\d+([-+][\w.-]+)?$/.test(spec.version)) base = spec.version;
  if (!base && src.kind === 'OCIRepository') base = String(src.status?.artifact?.revision ?? '1.0.0').split('@')[0];
  base ??= fromGit ? '0.1.0' : '1.0.0';
  if (fromGit && spec?.reconcileStrategy === 'Revision') {
    const sha = shaOfRevision(src.status?.artifact?.revision);
    if (sha) return `${base}+${sha.slice(0, 12)}`;
  }
  return base;
}

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length) await fn(items[i++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

// ------------------------------------------------------------------------------------------------ shared writes

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * Writes a status as the Flux controllers do (fluxcd/pkg/runtime/patch): the conditions first, then the rest of
 * the status. When both change, watchers see two versions: e.g. Ready=True "Applied revision: R" while
 * lastAppliedRevision still names the previous revision, then lastAppliedRevision=R.
 */
export async function writeStatus(flux: FluxRest, kind: FluxKind, ns: string, name: string, fn: (cur: KubeObject) => Status | undefined): Promise<KubeObject | undefined> {
  let next: Status | undefined;
  let split = false;
  const first = await flux.updateStatus(kind, ns, name, (cur) => {
    next = fn(cur);
    if (!next) return undefined;
    const { conditions: before, ...restBefore } = cur.status ?? {};
    const { conditions: after, ...restAfter } = next;
    split = !sameJson(before, after) && !sameJson(restBefore, restAfter);
    return split ? { ...(cur.status ?? {}), conditions: after ?? [] } : next;
  });
  if (!first || !split) return first;
  return flux.updateStatus(kind, ns, name, (cur) => ({ ...next!, conditions: cur.status?.conditions ?? next!.conditions }));
}

/**
 * Creates/updates the HelmChart helm-controller makes for a HelmRelease with chart.spec, Ready at `version`.
 * `live`: source-controller's writes of a rebuild (Ready=Unknown "building artifact: …", then Ready=True, then
 * the artifact); otherwise one write (the steady state of setupScenario).
 */
async function ensureHelmChart(flux: FluxRest, hrObj: KubeObject, version: string, sourceRevision: string | undefined, live = false): Promise<string | undefined> {
  const spec = hrObj.spec?.chart?.spec;
  if (!spec) return undefined;
  const srcNs = spec.sourceRef?.namespace ?? hrObj.metadata.namespace!;
  const name = `${hrObj.metadata.namespace}-${hrObj.metadata.name}`;
  const chart = await flux.applyManifest({
    apiVersion: flux.apiVersion('HelmChart'),
    kind: 'HelmChart',
    metadata: { name, namespace: srcNs },
    spec: {
      chart: spec.chart,
      version: spec.version ?? '*',
      sourceRef: { kind: spec.sourceRef?.kind, name: spec.sourceRef?.name },
      interval: spec.interval ?? hrObj.spec?.interval ?? '5m',
      reconcileStrategy: spec.reconcileStrategy ?? 'ChartVersion',
      ...(spec.valuesFiles ? { valuesFiles: spec.valuesFiles } : {}),
    },
  });
  if (chart.status?.artifact?.revision !== version || chart.status?.observedGeneration !== chart.metadata.generation) {
    if (!live) await flux.updateStatus('HelmChart', srcNs, name, (o) => helmChartReady(o, version, sourceRevision));
    else {
      if (chart.status?.artifact?.revision !== version) await writeStatus(flux, 'HelmChart', srcNs, name, (o) => helmChartProgressing(o, version));
      await writeStatus(flux, 'HelmChart', srcNs, name, (o) => helmChartReady(o, version, sourceRevision));
    }
  }
  return `${srcNs}/${name}`;
}

/**
 * Creates the scenario's namespaces and objects as they are at the initial commit, with the statuses Flux
 * would have written after reconciling that commit (sources Ready at `initialSha`, Kustomizations applied,
 * HelmReleases installed; unless the scenario scripts a failure for commit '0').
 */
export async function setupScenario(client: RestClient, scenario: Scenario, initialSha: string, opts: { concurrency?: number } = {}): Promise<{ objects: number }> {
  const flux = new FluxRest(client);
  await flux.discover();
  const r = resolveScenario(scenario);
  const conc = opts.concurrency ?? 16;
  const manifests = r.objects.map((o) => manifestAt(o, 0)).filter((m): m is KubeObject => m !== undefined);
  const namespaces = new Set(manifests.map((m) => m.metadata.namespace!));
  for (const m of manifests) if (m.spec?.chart?.spec?.sourceRef?.namespace) namespaces.add(m.spec.chart.spec.sourceRef.namespace);
  for (const ns of namespaces) await flux.ensureNamespace(ns);
  const created = new Map<string, KubeObject>();
  await pool(manifests, conc, async (m) => {
    created.set(keyOf(m), await flux.applyManifest(m));
  });
  const repoKey = normalizeRepoUrl(scenario.repo.url);
  const byOrder = (kinds: string[]) => [...created.values()].filter((o) => kinds.includes(o.kind));
  const status = (o: KubeObject, fn: (cur: KubeObject) => Status) =>
    flux.updateStatus(o.kind as FluxKind, o.metadata.namespace!, o.metadata.name, fn);
  const sources = new Map<string, KubeObject>();

  await pool(byOrder(['GitRepository', 'HelmRepository', 'OCIRepository', 'Bucket']), conc, async (o) => {
    const b = behaviorOf(r, keyOf(o), o.kind, 0);
    let next: KubeObject | undefined;
    if (o.kind === 'GitRepository') {
      const ref = o.spec?.ref;
      const ours = normalizeRepoUrl(String(o.spec?.url ?? '')) === repoKey && (ref?.branch ?? 'master') === scenario.repo.branch;
      const sha = ours ? initialSha : fakeSha(`${o.spec?.url}#${ref?.branch ?? ref?.tag}`);
      const rev = gitRevision(ref, sha);
      next = await status(o, (cur) =>
        b.fail ? git.failed(cur, b.fail.reason, substitute(b.fail.message, { revision: rev, url: o.spec?.url, sha })) : git.ready(cur, rev));
    } else {
      next = await status(o, (cur) => simpleSourceReady(cur));
    }
    if (next) sources.set(keyOf(next), next);
  });

  await pool(byOrder(['Kustomization']), conc, async (o) => {
    const sref = o.spec?.sourceRef ?? {};
    const src = sources.get(`${sref.kind}/${sref.namespace ?? o.metadata.namespace}/${sref.name}`);
    const rev = src?.status?.artifact?.revision as string | undefined;
    if (!rev) return;
    await applyWorkloads(client, flux, r.index.get(keyOf(o)), o, 0);
    const inventory = childInventory(flux, r, o, 0);
    const b = behaviorOf(r, keyOf(o), 'Kustomization', 0);
    await status(o, (cur) =>
      b.fail
        ? ks.failed(cur, b.fail.reason, substitute(b.fail.message, { revision: rev }), { revision: rev, inventory })
        : ks.ready(cur, rev, { inventory, healthMs: cur.spec?.wait ? 1500 : undefined }));
  });

  await pool(byOrder(['HelmRelease']), conc, async (o) => {
    const srcRef = o.spec?.chart?.spec?.sourceRef ?? o.spec?.chartRef;
    if (!srcRef) return;
    const src = sources.get(`${srcRef.kind}/${srcRef.namespace ?? o.metadata.namespace}/${srcRef.name}`);
    if (!src) return;
    const b = behaviorOf(r, keyOf(o), 'HelmRelease', 0);
    const version = chartVersionOf(o, src, b);
    const helmChart = await ensureHelmChart(flux, o, version, ARTIFACT_CHART_SOURCES.has(src.kind) ? src.status?.artifact?.revision : undefined);
    await status(o, (cur) =>
      hr.released(cur, version, b.fail ? { ok: false, reason: b.fail.reason, message: b.fail.message } : { ok: true }, { helmChart }));
  });
  return { objects: created.size };
}

/** Inventory of a Kustomization at `commit`: its Flux children (served versions) and its extra entries. */
function childInventory(flux: FluxRest, r: ResolvedScenario, ksObj: KubeObject, commit: number): InventoryEntry[] {
  const ksKey = `${ksObj.metadata.namespace}/${ksObj.metadata.name}`;
  const entries: InventoryEntry[] = [];
  for (const c of r.children.get(ksKey) ?? []) {
    const m = manifestAt(c, commit);
    if (m) entries.push(inventoryId({ apiVersion: flux.apiVersion(m.kind as FluxKind), kind: m.kind, name: m.metadata.name, namespace: m.metadata.namespace }));
  }
  for (const extra of r.index.get(keyOf(ksObj))?.inventory ?? []) entries.push(inventoryId(extra));
  for (const w of atCommit(r.index.get(keyOf(ksObj))?.workloads, commit) ?? []) {
    entries.push(inventoryId({ apiVersion: w.manifest.apiVersion, kind: w.manifest.kind, name: w.manifest.metadata.name, namespace: w.manifest.metadata.namespace }));
  }
  return entries;
}

/** `/apis/apps/v1/namespaces/ns/deployments` (or `/api/v1/…/pods`) of a workload or pod. */
function workloadCollection(o: KubeObject): string {
  const plural = { Deployment: 'deployments', StatefulSet: 'statefulsets', DaemonSet: 'daemonsets', Job: 'jobs', Pod: 'pods' }[o.kind];
  if (!plural) throw new Error(`the player cannot apply a ${o.kind}`);
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  return `${base}/namespaces/${encodeURIComponent(o.metadata.namespace!)}/${plural}`;
}

/** Creates or replaces `m` (spec, labels), then writes `status` through /status. */
async function upsertWithStatus(client: RestClient, m: KubeObject, status: (applied: KubeObject) => Record<string, unknown>): Promise<void> {
  const coll = workloadCollection(m);
  const path = `${coll}/${encodeURIComponent(m.metadata.name)}`;
  for (let attempt = 0; ; attempt++) {
    try {
      let applied: KubeObject;
      try {
        const cur = await client.get<KubeObject>(path);
        applied = m.kind === 'Pod' ? cur : await client.replace<KubeObject>(path, { ...cur, metadata: { ...cur.metadata, labels: m.metadata.labels }, spec: m.spec });
      } catch (e) {
        if (!(e instanceof RestError && e.status === 404)) throw e;
        applied = await client.create<KubeObject>(coll, { ...m, status: undefined });
      }
      await client.replaceStatus(path, { ...applied, status: status(applied) });
      return;
    } catch (e) {
      if (e instanceof RestError && e.status === 409 && attempt < 5) continue;
      throw e;
    }
  }
}

/**
 * Applies a Kustomization's workloads at `commit` as kustomize-controller would (owner labels), and writes the
 * statuses the Deployment controller and the kubelet would write (no controller-manager or kubelet runs).
 */
async function applyWorkloads(client: RestClient, flux: FluxRest, so: ScenarioObject | undefined, ksObj: KubeObject, commit: number): Promise<void> {
  const list: SimWorkload[] = atCommit(so?.workloads, commit) ?? [];
  for (const w of list) {
    const ns = w.manifest.metadata.namespace!;
    await flux.ensureNamespace(ns);
    const labels = { ...(w.manifest.metadata.labels ?? {}), [KS_OWNER_NAME]: ksObj.metadata.name, [KS_OWNER_NS]: ksObj.metadata.namespace! };
    await upsertWithStatus(client, { ...w.manifest, metadata: { ...w.manifest.metadata, labels } }, (applied) => ({ ...w.status, observedGeneration: applied.metadata.generation }));
    // The apiserver sets status.qosClass when a pod is created and keeps it immutable.
    for (const p of w.pods ?? []) {
      await upsertWithStatus(client, { ...p.manifest, metadata: { ...p.manifest.metadata, namespace: ns } }, (applied) => ({
        ...(applied.status?.qosClass ? { qosClass: applied.status.qosClass } : {}),
        ...p.status,
      }));
    }
  }
}

// ------------------------------------------------------------------------------------------------ the player

interface Step {
  at: number;
  /** Returns 'stop' to end the job early (e.g. the object is gone). */
  run: () => Promise<void | 'stop'>;
}

interface Job {
  key: string;
  steps: Step[];
  next: number;
  running: boolean;
  onDone: () => void;
  /** The reconcile request (`reconcile.fluxcd.io/requestedAt`) this job handles, if any. */
  req?: string;
}

export class FluxPlayer {
  readonly scenario: Scenario;
  readonly flux: FluxRest;
  /** Ticks completed, and errors seen (retried). */
  ticks = 0;
  errors = 0;
  lastError: unknown;

  private readonly resolved: ResolvedScenario;
  private readonly tickMs: number;
  private readonly speed: number;
  private readonly concurrency: number;
  private readonly events: boolean;
  private readonly onError?: (err: unknown) => void;
  private readonly heads = new Map<string, { sha: string; commit: number }>();
  private readonly commits = new Map<string, number>();
  private nextCommit = 1;
  private readonly jobs = new Map<string, Job>();
  private readonly done = new Map<string, string>();
  private readonly retryAt = new Map<string, number>();
  private readonly delivered = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private running = false;

  constructor(client: RestClient, scenario: Scenario, opts: FluxPlayerOptions = {}) {
    this.scenario = scenario;
    this.flux = new FluxRest(client);
    this.resolved = resolveScenario(scenario);
    this.tickMs = opts.tickMs ?? 100;
    this.speed = opts.speed && opts.speed > 0 ? opts.speed : 1;
    this.concurrency = opts.concurrency ?? 8;
    this.events = opts.events ?? true;
    this.onError = opts.onError;
  }

  /** Discovers the served Flux versions, then ticks until stop(). */
  async start(): Promise<void> {
    if (this.running) return;
    await this.flux.discover();
    this.running = true;
    this.schedule(0);
  }

  /** Stops ticking and waits for the tick in flight. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /**
   * What a push does: `sha` becomes the head of `branch` in the remote `url`. GitRepositories tracking it fetch
   * it after their scripted delay. Returns the commit number used for per-commit scripts (1 for the first
   * pushed commit, ...; or `opts.commit`).
   */
  setBranchHead(url: string, branch: string, sha: string, opts: { commit?: number } = {}): number {
    const s = sha.toLowerCase();
    let n = opts.commit ?? this.commits.get(s);
    if (n === undefined) n = this.nextCommit++;
    this.commits.set(s, n);
    if (n >= this.nextCommit) this.nextCommit = n + 1;
    this.heads.set(`${normalizeRepoUrl(url)}#${branch}`, { sha: s, commit: n });
    return n;
  }

  /** Commit number of a sha (0 = the initial commit or any sha the player was not told about). */
  commitOf(sha: string | undefined): number {
    if (!sha) return 0;
    for (const [k, v] of this.commits) if (k.startsWith(sha.toLowerCase()) || sha.toLowerCase().startsWith(k)) return v;
    return 0;
  }

  /** No reconciliation in progress (objects waiting on dependencies do not count). */
  get idle(): boolean {
    return this.jobs.size === 0;
  }

  private ms(x: number): number {
    return x / this.speed;
  }

  private schedule(delay: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule(this.tickMs);
      });
    }, delay);
  }

  private report(err: unknown): void {
    this.errors++;
    this.lastError = err;
    this.onError?.(err);
  }

  private async tick(): Promise<void> {
    let snap: Map<string, KubeObject>;
    try {
      const lists = await Promise.all(OBSERVED.map((k) => this.flux.list(k)));
      snap = new Map(lists.flat().map((o) => [keyOf(o), o]));
    } catch (e) {
      this.report(e);
      return;
    }
    const now = Date.now();
    for (const [key, obj] of snap) {
      if (obj.spec?.suspend === true || obj.metadata.deletionTimestamp) continue;
      // A reconcile request makes a controller reconcile at once: it ends a dependency requeue wait, and a job
      // that has not started yet (e.g. a GitRepository waiting for its next poll) is planned again.
      const req = requestedAt(obj);
      const newRequest = req !== undefined && req !== obj.status?.lastHandledReconcileAt;
      const job = this.jobs.get(key);
      if (job) {
        if (!newRequest || job.req === req || job.running || job.next > 0) continue;
        this.jobs.delete(key);
      }
      if ((this.retryAt.get(key) ?? 0) > now && !newRequest) continue;
      switch (obj.kind) {
        case 'GitRepository': this.planGit(key, obj, now); break;
        case 'Kustomization': this.planKs(key, obj, snap, now); break;
        case 'HelmRelease': this.planHr(key, obj, snap, now); break;
        case 'HelmChart': break; // driven by its HelmRelease
        default: this.planSimpleSource(key, obj, now);
      }
    }
    await this.runDue();
    this.ticks++;
  }

  private addJob(key: string, steps: Step[], onDone: () => void, req?: string): void {
    this.jobs.set(key, { key, steps, next: 0, running: false, onDone, req });
  }

  private async runDue(): Promise<void> {
    const now = Date.now();
    const due = [...this.jobs.values()].filter((j) => !j.running && j.steps[j.next] && j.steps[j.next]!.at <= now);
    await pool(due, this.concurrency, async (job) => {
      job.running = true;
      try {
        while (this.running && job.next < job.steps.length && job.steps[job.next]!.at <= Date.now()) {
          const r = await job.steps[job.next]!.run();
          job.next = r === 'stop' ? job.steps.length : job.next + 1;
        }
      } catch (e) {
        this.report(e); // the step is retried on the next tick
      } finally {
        job.running = false;
        if (job.next >= job.steps.length) {
          this.jobs.delete(job.key);
          job.onDone();
        }
      }
    });
  }

  private status(kind: FluxKind, ns: string, name: string, fn: (cur: KubeObject) => Status | undefined): () => Promise<void | 'stop'> {
    return async () => ((await this.write(kind, ns, name, fn)) ? undefined : 'stop');
  }

  /** A controller's status write, in Flux's two patches (see writeStatus). */
  private write(kind: FluxKind, ns: string, name: string, fn: (cur: KubeObject) => Status | undefined): Promise<KubeObject | undefined> {
    return writeStatus(this.flux, kind, ns, name, fn);
  }

  private event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string, annotations?: Record<string, string>): Promise<void> {
    return this.events ? this.flux.event(obj, type, reason, message, component, annotations) : Promise.resolve();
  }

  /** A job that only records a waiting state (dependencies, missing source) and retries later. */
  private waitJob(key: string, obj: KubeObject, reason: string, message: string, handled: string | undefined, build: typeof ks.waiting, eventMsg?: string): void {
    const { namespace: ns, name } = obj.metadata;
    const cur = getCondition(obj, 'Ready');
    const unchanged = cur?.reason === reason && cur.message === message && (handled === undefined || obj.status?.lastHandledReconcileAt === handled);
    const requeue = this.scenario.requeueDependencyMs ?? 30_000;
    this.addJob(key, [{
      at: Date.now(),
      run: async () => {
        if (unchanged) return; // (Flux re-emits the event on every retry; once per change keeps the store small)
        const r = await this.write(obj.kind as FluxKind, ns!, name, (o) => build(o, reason, message, handled));
        if (!r) return 'stop';
        if (eventMsg) await this.event(r, 'Normal', reason, eventMsg, obj.kind === 'HelmRelease' ? 'helm-controller' : 'kustomize-controller');
      },
    }], () => this.retryAt.set(key, Date.now() + this.ms(requeue)), handled);
  }

  // ---------------------------------------------------------------------------------------------- sources

  private planGit(key: string, obj: KubeObject, now: number): void {
    const ref = obj.spec?.ref ?? {};
    const url = String(obj.spec?.url ?? '');
    const head = ref.branch || !ref.tag ? this.heads.get(`${normalizeRepoUrl(url)}#${ref.branch ?? 'master'}`) : undefined;
    const cur = obj.status?.artifact?.revision as string | undefined;
    const req = requestedAt(obj);
    const requested = req !== undefined && req !== obj.status?.lastHandledReconcileAt;
    const gen = obj.metadata.generation ?? 1;
    const sha = head?.sha ?? shaOfRevision(cur) ?? fakeSha(`${url}#${ref.branch ?? ref.tag}`);
    const rev = gitRevision(ref, sha);
    const genChanged = gen !== obj.status?.observedGeneration;
    if (rev === cur && !genChanged && !requested) return;
    const token = `${rev}|${gen}|${req ?? ''}`;
    if (this.done.get(key) === token) return;
    const commit = head && head.sha === sha ? head.commit : this.commitOf(sha);
    const b = behaviorOf(this.resolved, key, 'GitRepository', commit);
    // A new generation or a reconcile request is handled at once; a new upstream commit when the controller polls.
    const t0 = now + (requested || genChanged ? 0 : this.ms(b.start));
    const d = this.ms(b.duration);
    const { namespace: ns, name } = obj.metadata;
    const fail = b.fail ? { reason: b.fail.reason, message: substitute(b.fail.message, { revision: rev, url, sha }) } : undefined;
    const steps: Step[] = [];
    // source-controller persists the start of a reconciliation only for a new generation or a reconcile request.
    if (requested || genChanged) steps.push({ at: t0, run: this.status('GitRepository', ns!, name, (o) => git.started(o, git.startMessage(o))) });
    // A failed fetch never gets to "building artifact" (the revision is not known).
    if (rev !== cur && !fail) steps.push({ at: t0 + 0.2 * d, run: this.status('GitRepository', ns!, name, (o) => git.progressing(o, rev)) });
    steps.push({
      at: t0 + d,
      run: async () => {
        const r = await this.write('GitRepository', ns!, name, (o) =>
          fail ? git.failed(o, fail.reason, fail.message, Date.now(), req) : git.ready(o, rev, Date.now(), req));
        if (!r) return 'stop';
        if (fail) await this.event(r, 'Warning', fail.reason, fail.message, 'source-controller');
        else if (rev !== cur) await this.event(r, 'Normal', 'NewArtifact', `stored artifact for revision '${rev}'`, 'source-controller', { 'source.toolkit.fluxcd.io/revision': rev });
      },
    });
    this.addJob(key, steps, () => this.done.set(key, token), req);
  }

  private planSimpleSource(key: string, obj: KubeObject, now: number): void {
    const req = requestedAt(obj);
    const gen = obj.metadata.generation ?? 1;
    const needs = gen !== obj.status?.observedGeneration || (req !== undefined && req !== obj.status?.lastHandledReconcileAt) || !isReady(obj);
    const token = `${gen}|${req ?? ''}`;
    if (!needs || this.done.get(key) === token) return;
    const b = behaviorOf(this.resolved, key, obj.kind, 0);
    const { namespace: ns, name } = obj.metadata;
    this.addJob(key, [{ at: now + this.ms(b.start + b.duration), run: this.status(obj.kind as FluxKind, ns!, name, (o) => simpleSourceReady(o, Date.now(), req)) }],
      () => this.done.set(key, token), req);
  }

  // ---------------------------------------------------------------------------------------------- Kustomization

  private ksBlocker(obj: KubeObject, snap: Map<string, KubeObject>, rev: string): string | undefined {
    const ns = obj.metadata.namespace!;
    const sref = obj.spec?.sourceRef ?? {};
    for (const d of (obj.spec?.dependsOn ?? []) as Array<{ name: string; namespace?: string }>) {
      const dns = d.namespace ?? ns;
      const dep = snap.get(`Kustomization/${dns}/${d.name}`);
      if (!dep) return `dependency '${dns}/${d.name}' not found: kustomizations.kustomize.toolkit.fluxcd.io "${d.name}" not found`;
      if (!dep.status?.conditions?.length || dep.metadata.generation !== dep.status.observedGeneration || !isReady(dep)) {
        return `dependency '${dns}/${d.name}' is not ready`;
      }
      const dref = dep.spec?.sourceRef ?? {};
      if (dref.name === sref.name && dref.kind === sref.kind && (dref.namespace ?? dns) === (sref.namespace ?? ns) && dep.status.lastAppliedRevision !== rev) {
        return `dependency '${dns}/${d.name}' revision is not up to date`;
      }
    }
    return undefined;
  }

  private planKs(key: string, obj: KubeObject, snap: Map<string, KubeObject>, now: number): void {
    const ns = obj.metadata.namespace!;
    const gen = obj.metadata.generation ?? 1;
    const sref = obj.spec?.sourceRef ?? {};
    const srcKey = `${sref.kind}/${sref.namespace ?? ns}/${sref.name}`;
    const src = snap.get(srcKey);
    const rev = src?.status?.artifact?.revision as string | undefined;
    const req = requestedAt(obj);
    const requested = req !== undefined && req !== obj.status?.lastHandledReconcileAt;
    if (rev !== undefined && rev === obj.status?.lastAttemptedRevision && gen === obj.status?.observedGeneration && !requested) return;
    const token = `${rev}|${gen}|${req ?? ''}`;
    if (this.done.get(key) === token) return;
    const requeue = goSeconds(this.scenario.requeueDependencyMs ?? 30_000);
    if (!src) return this.waitJob(key, obj, 'ArtifactFailed', `Source '${srcKey}' not found`, req, ks.waiting);
    if (!rev) return this.waitJob(key, obj, 'ArtifactFailed', `Source artifact not found, retrying in ${requeue}`, req, ks.waiting);
    const blocker = this.ksBlocker(obj, snap, rev);
    if (blocker) {
      return this.waitJob(key, obj, 'DependencyNotReady', blocker, req, ks.waiting, `Dependencies do not meet ready condition, retrying in ${requeue}`);
    }
    this.startKs(key, obj, rev, req, token, now);
  }

  private startKs(key: string, obj: KubeObject, rev: string, req: string | undefined, token: string, now: number): void {
    const ns = obj.metadata.namespace!;
    const name = obj.metadata.name;
    const commit = this.commitOf(shaOfRevision(rev));
    const b = behaviorOf(this.resolved, key, 'Kustomization', commit);
    const fail = b.fail ? { reason: b.fail.reason, message: substitute(b.fail.message, { revision: rev, sha: shaOfRevision(rev) ?? '' }) } : undefined;
    const stage = !fail ? undefined
      : fail.reason === 'ArtifactFailed' ? 'fetch'
      : fail.reason === 'BuildFailed' ? 'build'
      : fail.reason === 'HealthCheckFailed' ? 'health'
      : 'apply';
    const health = obj.spec?.wait === true || (obj.spec?.healthChecks?.length ?? 0) > 0 || stage === 'health';
    const t0 = now + this.ms(b.start);
    const d = this.ms(b.duration);
    const started = { at: 0 };
    let inventory: InventoryEntry[] | undefined;
    const st = (fn: (o: KubeObject) => Status) => this.status('Kustomization', ns, name, fn);
    const failStep = (at: number, opts: { revision?: string; health?: boolean }): Step => ({
      at,
      run: async () => {
        const message = stage === 'health' ? `health check failed after ${goSeconds(Date.now() - started.at)}: ${fail!.message}` : fail!.message;
        const r = await this.write('Kustomization', ns, name, (o) =>
          ks.failed(o, fail!.reason, message, { ...opts, handled: req, inventory }));
        if (!r) return 'stop';
        await this.event(r, 'Warning', fail!.reason, message, 'kustomize-controller', { 'kustomize.toolkit.fluxcd.io/revision': rev });
      },
    });
    const steps: Step[] = [{
      at: t0,
      run: async () => {
        started.at = Date.now();
        return st((o) => ks.progressing(o, 'fetch', rev))();
      },
    }];
    if (stage === 'fetch') {
      steps.push(failStep(t0 + 0.3 * d, {}));
    } else {
      steps.push({ at: t0 + 0.25 * d, run: st((o) => ks.progressing(o, 'build', rev)) });
      if (stage === 'build') steps.push(failStep(t0 + 0.5 * d, { revision: rev }));
      else {
        steps.push({
          at: t0 + 0.45 * d,
          run: async () => {
            if ((await st((o) => ks.progressing(o, 'drift', rev))()) === 'stop') return 'stop';
            if (stage !== 'apply') inventory = await this.applyChildren(obj, commit);
          },
        });
        if (stage === 'apply') steps.push(failStep(t0 + 0.6 * d, { revision: rev }));
        else {
          if (health) steps.push({ at: t0 + 0.6 * d, run: st((o) => ks.progressing(o, 'health', rev)) });
          // The end: `durationMs` after the start, or `healthMs` after the health checks began.
          const end = health && b.healthMs !== undefined ? t0 + 0.6 * d + this.ms(b.healthMs) : t0 + d;
          if (stage === 'health') steps.push(failStep(end, { revision: rev, health: true }));
          else {
            steps.push({
              at: end,
              run: async () => {
                const elapsed = Date.now() - started.at;
                const r = await this.write('Kustomization', ns, name, (o) =>
                  ks.ready(o, rev, { inventory, handled: req, durationMs: elapsed, healthMs: health ? elapsed * 0.4 : undefined }));
                if (!r) return 'stop';
                await this.event(r, 'Normal', 'ReconciliationSucceeded',
                  `Reconciliation finished in ${goSeconds(elapsed)}, next run in ${goDuration(r.spec?.interval)}`,
                  'kustomize-controller', { 'kustomize.toolkit.fluxcd.io/revision': rev });
              },
            });
          }
        }
      }
    }
    this.addJob(key, steps, () => this.done.set(key, token), req);
  }

  /** Applies the Kustomization's children at `commit` (and prunes removed ones); returns the new inventory. */
  private async applyChildren(obj: KubeObject, commit: number): Promise<InventoryEntry[]> {
    const ksKey = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const wanted = new Set<string>();
    for (const c of this.resolved.children.get(ksKey) ?? []) {
      const m = manifestAt(c, commit);
      if (!m) continue;
      await this.flux.ensureNamespace(m.metadata.namespace!);
      const applied = await this.flux.applyManifest(m);
      const k = keyOf(applied);
      wanted.add(k);
      this.delivered.set(k, commit);
    }
    await applyWorkloads(this.flux.client, this.flux, this.resolved.index.get(keyOf(obj)), obj, commit);
    const inventory = childInventory(this.flux, this.resolved, obj, commit);
    if (obj.spec?.prune) {
      for (const e of (obj.status?.inventory?.entries ?? []) as InventoryEntry[]) {
        const [ns, name, group, kind] = e.id.split('_') as [string, string, string, string];
        if (!group.endsWith('.toolkit.fluxcd.io') || wanted.has(`${kind}/${ns}/${name}`)) continue;
        if (!this.resolved.index.has(`${kind}/${ns}/${name}`)) continue; // only objects the scenario owns
        await this.flux.delete(kind as FluxKind, ns, name);
      }
    }
    return inventory;
  }

  // ---------------------------------------------------------------------------------------------- HelmRelease

  private planHr(key: string, obj: KubeObject, snap: Map<string, KubeObject>, now: number): void {
    const ns = obj.metadata.namespace!;
    const srcRef = obj.spec?.chart?.spec?.sourceRef ?? obj.spec?.chartRef;
    if (!srcRef) return;
    const src = snap.get(`${srcRef.kind}/${srcRef.namespace ?? ns}/${srcRef.name}`);
    if (!src || !isReady(src)) return; // helm-controller waits for the chart source; retried next tick
    const sourceRevision = ARTIFACT_CHART_SOURCES.has(src.kind) ? (src.status?.artifact?.revision as string | undefined) : undefined;
    let commit: number;
    if (sourceRevision && src.kind === 'GitRepository') commit = this.commitOf(shaOfRevision(sourceRevision));
    else commit = this.delivered.get(key) ?? this.parentCommit(obj, snap);
    const b = behaviorOf(this.resolved, key, 'HelmRelease', commit);
    const version = chartVersionOf(obj, src, b);
    const gen = obj.metadata.generation ?? 1;
    const req = requestedAt(obj);
    const requested = req !== undefined && req !== obj.status?.lastHandledReconcileAt;
    if (gen === obj.status?.lastAttemptedGeneration && version === obj.status?.lastAttemptedRevision && !requested) return;
    const token = `${gen}|${version}|${req ?? ''}`;
    if (this.done.get(key) === token) return;
    for (const d of (obj.spec?.dependsOn ?? []) as Array<{ name: string; namespace?: string }>) {
      const dns = d.namespace ?? ns;
      const dep = snap.get(`HelmRelease/${dns}/${d.name}`);
      if (!dep || !isReady(dep) || dep.status?.observedGeneration !== dep.metadata.generation) {
        return this.waitJob(key, obj, 'DependencyNotReady', `dependency '${dns}/${d.name}' is not ready`, req, hr.waiting);
      }
    }
    const t0 = now + this.ms(b.start);
    const d = this.ms(b.duration);
    const name = obj.metadata.name;
    const st = (fn: (o: KubeObject) => Status | undefined) => this.status('HelmRelease', ns, name, fn);
    let helmChart: string | undefined;
    // Without a new generation or chart, a reconcile request only re-checks: no new release.
    const release = gen !== obj.status?.lastAttemptedGeneration || version !== obj.status?.lastAttemptedRevision || !obj.status?.history?.length;
    const steps: Step[] = [{
      at: t0,
      run: async () => {
        helmChart = await ensureHelmChart(this.flux, obj, version, sourceRevision, true);
        return st((o) => hr.prerequisites(o))();
      },
    }];
    if (!release) {
      const before = obj.status?.conditions;
      steps.push({
        at: t0 + this.ms(100),
        run: st((o) => (isReady(o) ? hr.inSync(o, req) : { ...o.status, conditions: before, lastHandledReconcileAt: req })),
      });
      this.addJob(key, steps, () => this.done.set(key, token), req);
      return;
    }
    const fail = b.fail;
    const small = Math.max(1, 0.05 * d);
    const event = async (r: KubeObject) => {
      const ready = getCondition(r, 'Ready');
      await this.event(r, ready?.status === 'True' ? 'Normal' : 'Warning', ready?.reason ?? 'Unknown', ready?.message ?? '', 'helm-controller', {
        'helm.toolkit.fluxcd.io/revision': version,
        'helm.toolkit.fluxcd.io/token': String(r.status?.lastAttemptedConfigDigest ?? ''),
      });
    };
    const inSync = (at: number) => {
      steps.push({ at, run: st((o) => hr.inSync(o, req)) });
    };
    // One release attempt: "Running '<action>' action…", then the scripted outcome, then what helm-controller
    // does next (in sync; or remediation, a retry, Stalled). Later steps are added as the outcome is known.
    // (A retry repeats the action that failed: an install stays an install.)
    const attempt = (at: number, retry?: ReleaseAction) => {
      let action: ReleaseAction = retry ?? hr.action(obj);
      if (retry) steps.push({ at, run: st((o) => hr.prerequisites(o)) });
      steps.push({
        at: at + small,
        run: async () => {
          const r = await this.write('HelmRelease', ns, name, (o) => {
            action = retry ?? hr.action(o);
            return hr.progressing(o, action, version, helmChart);
          });
          return r ? undefined : 'stop';
        },
      });
      steps.push({
        at: at + d,
        run: async () => {
          const released = fail?.afterRelease === true;
          const r = await this.write('HelmRelease', ns, name, (o) =>
            fail ? hr.failed(o, action, version, fail.reason, fail.message, released) : hr.succeeded(o, action, version));
          if (!r) return 'stop';
          await event(r);
          const next = Date.now();
          if (!fail) return inSync(next + small);
          // A failure before Helm made a release (template, values schema): helm-controller leaves
          // Reconciling=True "Running '<action>' action…" and retries later with backoff (not played).
          if (!released) return;
          const rem = hr.remediation(r, action);
          const exhausted = hr.failureCount(r, action) > rem.retries;
          const rollbackTarget = (r.status?.history as Status[] | undefined)?.some((h, i) => i > 0 && h.status === 'deployed');
          if (action === 'upgrade' && rem.strategy === 'rollback' && rollbackTarget && (!exhausted || rem.remediateLastFailure)) {
            steps.push({ at: next + small, run: st((o) => hr.remediating(o)) });
            steps.push({
              at: next + 0.5 * d,
              run: async () => {
                const rb = await this.write('HelmRelease', ns, name, (o) => hr.rolledBack(o, exhausted));
                if (!rb) return 'stop';
                await event(rb);
                if (!exhausted) attempt(Date.now() + this.ms(Math.max(b.start, 1000)), action);
              },
            });
          } else if (exhausted) {
            steps.push({ at: next + small, run: st((o) => hr.stalled(o, action)) });
          } else {
            // Retries left without a rollback (install remediation uninstalls; not played): the action again.
            attempt(next + this.ms(Math.max(b.start, 1000)), action);
          }
        },
      });
    };
    attempt(t0);
    this.addJob(key, steps, () => this.done.set(key, token), req);
  }

  /** Commit last attempted by the Kustomization that applied `obj` (per its owner labels), else 0. */
  private parentCommit(obj: KubeObject, snap: Map<string, KubeObject>): number {
    const name = obj.metadata.labels?.[KS_OWNER_NAME];
    const ns = obj.metadata.labels?.[KS_OWNER_NS];
    if (!name || !ns) return 0;
    return this.commitOf(shaOfRevision(snap.get(`Kustomization/${ns}/${name}`)?.status?.lastAttemptedRevision));
  }
}
