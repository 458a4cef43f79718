// The monitor engine: discovery, the object graph, LIST+WATCH (or polling) per kind, the per-object phase for the
// pushed commit, the settle/timeout logic and the verdict. It holds no UI and no git logic.
import pRetry from 'p-retry';
import {
  CI_ARTIFACT_KINDS,
  deepFreeze,
  FAILURE_PHASES,
  FLUX_KINDS,
  isFluxKind,
  TERMINAL_PHASES,
  type CategorizedError,
  type CommitRelation,
  type FluxKind,
  type KubeObject,
  type MonitorConfig,
  type MonitorEvent,
  type NodeState,
  type PushedRevision,
  type SessionState,
  type Verdict,
} from '../core/types.js';
import { KINDS } from '../core/kinds.js';
import { sanitizeText } from '../core/sanitize.js';
import type { ClusterClient } from '../cluster/client.js';
import { discoverFlux, kindOfPlural, type ResourceType, type ServedApis } from '../cluster/discovery.js';
import { categorize, finalHint, isTransient, MonitorError } from '../cluster/errors.js';
import { Reflector } from './reflector.js';
import type { EngineContext } from './parts.js';
import { CommitPlacement } from './commits.js';
import { ReconcileRequests } from './reconcile.js';
import { ControllerHealth, fluxNamespace } from './health.js';
import { readControllerFlags } from './controller-flags.js';
import { waitEvent, type WaitFacts } from '../core/waits.js';
import { Diagnoses } from './diagnoses.js';
import { FailFast } from './failfast.js';
import { CustomKinds } from './custom-kinds.js';
import { NodeBuilder, type PhaseChanges } from './recompute.js';
import { Outage } from './outage.js';
import { TimelineRecorder } from './timeline.js';
import { FluxWatches } from './watches.js';
import { objectKey, type PushTarget } from '../core/graph.js';
import { decideVerdict, verdictMessage } from '../core/verdict.js';
import { summaryEvent } from '../core/events.js';
import { pushSessionState } from '../core/session.js';

export interface MonitorOptions {
  client: ClusterClient;
  pushed: PushedRevision;
  target: PushTarget;
  config: MonitorConfig;
  sessionId: string;
  /** Monitor every Flux object, not only those affected by the push. */
  all?: boolean;
  info?: { repoPath?: string; remote?: string; subject?: string };
  signal?: AbortSignal;
  onState?: (s: SessionState) => void;
  onEvent?: (e: MonitorEvent) => void;
  /**
   * How a commit seen on a source stands to the pushed one (the git layer answers it, fetching the commit when the
   * clone lacks it): one that contains the push carries it (→ judged as the push), one that diverged replaced it
   * (→ Superseded).
   */
  relateCommit?: (sha: string) => Promise<CommitRelation>;
  /** Clock, for tests. */
  now?: () => number;
  /** Reflector tuning (tests and benches). */
  tuning?: {
    stallMs?: number;
    backoffMs?: number;
    maxBackoffMs?: number;
    pollOnly?: boolean;
    pageSize?: number;
    /** Quiet period before a verdict, used only when the confirming LIST fails. */
    settleDelayMs?: number;
    /** How often the controllers-down diagnosis looks (default 2 s). */
    diagnoseEveryMs?: number;
    /** A reconcile request unhandled this long suspects its controller (default 10 s). */
    notHandledMs?: number;
    /** A consumer still this long while its source holds the commit suspects its controller (default 30 s). */
    stillMs?: number;
    /** false: auto_reconcile does not ask dependents to reconcile early (benches compare with Flux alone). */
    nudgeDependents?: boolean;
    /** false: no diagnosis of failing health checks (workloads, pods, events). */
    diagnosis?: boolean;
    /** A Kustomization running its health checks this long is diagnosed (default 5 s). */
    healthSlowMs?: number;
    /** At the verdict, diagnoses older than this are made again (default 3 s). */
    diagnosisRefreshMs?: number;
    /** How long the verdict waits for the diagnoses at most (default 5 s). */
    diagnosisWaitMs?: number;
    /** false: every recompute is a full one (tests compare the incremental recompute with it). */
    incremental?: boolean;
    /** auto_reconcile while CI has not published: how often awaiting OCIRepositories are asked to look again (default 10 s). */
    artifactPollMs?: number;
    /** How often fail-fast reads the workloads of a waiting object (default 3 s); false: no fail-fast reads at all. */
    failFastEveryMs?: number | false;
    /** Publications at least this far apart (ms), instead of the pace set by the cost of copying the nodes (tests). */
    publishGapMs?: number;
  };
}

/** Kinds that have to be read whatever `monitor_types` says, because correlation goes through them. */
const ALWAYS_READ: FluxKind[] = KINDS.filter((k) => k.alwaysRead).map((k) => k.kind);

export function wantedKinds(config: MonitorConfig): FluxKind[] {
  const fromConfig = config.monitor_types.map((t) => kindOfPlural(t)).filter((k): k is FluxKind => Boolean(k));
  return FLUX_KINDS.filter((k) => ALWAYS_READ.includes(k) || fromConfig.includes(k));
}

function displayedKinds(config: MonitorConfig): Set<FluxKind> {
  return new Set(config.monitor_types.map((t) => kindOfPlural(t)).filter((k): k is FluxKind => Boolean(k)));
}

export class Monitor {
  /**
   * The current session state. A published state is never changed: each change makes a new one that shares what
   * did not change (update(); the nodes record is copied by the recompute once published), so a reader keeps the
   * state it was given as long as it likes, without a copy, and tells an unchanged node (or nodes record, edges…)
   * by its identity. With FLUX_MONITOR_FREEZE_STATES=1 (the tests), every state is deep-frozen as it is
   * published, so that a write to one throws.
   */
  private current: SessionState;
  /** The last state handed to `onState`. */
  private lastPublished?: SessionState;
  private lastPublishAt = -Infinity;
  private publishTimer?: NodeJS.Timeout;
  private readonly freezeStates = process.env.FLUX_MONITOR_FREEZE_STATES === '1';
  private readonly now: () => number;
  private readonly reflectors: Reflector[] = [];
  /** The Flux kinds' watches and the objects they keep (watches.ts). */
  private readonly watches: FluxWatches;
  private readonly pushed: PushedRevision;
  /** The parts, each one job (src/engine/parts.ts): they see the session through `ctx`. */
  private readonly ctx: EngineContext;
  private readonly commits: CommitPlacement;
  private readonly reconcile: ReconcileRequests;
  private readonly health: ControllerHealth;
  private readonly diag: Diagnoses;
  /** Workloads that settle a wait before Flux does (failfast.ts). */
  private readonly failfast?: FailFast;
  private readonly displayed: Set<FluxKind>;
  /** The nodes from the objects (recompute.ts). */
  private readonly nodes: NodeBuilder;
  private recomputeScheduled = false;
  private synced = false;
  /** The controllers' flags that say how long they wait (read once at the start; none until then). */
  private waitFacts: WaitFacts = {};
  private finished = false;
  private resolveDone?: (s: SessionState) => void;
  private timeoutTimer?: NodeJS.Timeout;
  private settleTimer?: NodeJS.Timeout;
  /** The sources' errors as one outage (outage.ts). */
  private readonly outage: Outage;
  private readonly warned = new Set<string>();
  /** The push's moments per object (timeline.ts). */
  private readonly timeline: TimelineRecorder;

  constructor(private readonly o: MonitorOptions) {
    this.now = o.now ?? Date.now;
    this.pushed = { ...o.pushed, sha: o.pushed.sha.toLowerCase(), newer: [...(o.pushed.newer ?? [])], through: [...(o.pushed.through ?? [])] };
    this.displayed = displayedKinds(o.config);
    const started = this.now();
    this.current = pushSessionState(
      { id: o.sessionId, pushed: { sha: this.pushed.sha, tag: o.target.tag }, branch: o.target.branch, repoUrl: o.target.repoUrl, ...o.info },
      { context: o.client.contextName, server: o.client.displayServer, timeoutMs: o.config.timeout * 1000, now: started },
    );
    if (this.freezeStates) deepFreeze(this.current);
    const self = this;
    this.ctx = {
      get state() {
        return self.state;
      },
      client: o.client,
      pushed: this.pushed,
      get objects() {
        return self.watches.store;
      },
      get resources() {
        return self.resources;
      },
      get finished() {
        return self.finished;
      },
      get synced() {
        return self.synced;
      },
      get concluding() {
        return self.concluding;
      },
      signal: this.stopAc.signal,
      now: () => this.now(),
      time: () => this.time(),
      emit: (e) => this.emit(e),
      update: (patch) => this.update(patch),
      published: (rec) => this.lastPublished !== undefined && (this.lastPublished.nodes === rec || this.lastPublished.timeline?.objects === rec),
      publish: () => this.publish(),
      warn: (m) => this.warn(m),
      categorize: (err) => this.categorize(err),
      schedule: () => this.schedule(),
      failWith: (err) => this.failWith(err),
    };
    const t = o.tuning;
    this.outage = new Outage(this.ctx);
    this.commits = new CommitPlacement(this.ctx, o.relateCommit);
    this.reconcile = new ReconcileRequests(this.ctx, t?.artifactPollMs);
    this.watches = new FluxWatches(this.ctx, {
      get nodes() {
        return self.nodes;
      },
      namespaces: o.config.namespaces,
      reflectorTuning: () => this.reflectorTuning(),
      adopt: (r) => this.reflectors.push(r),
      drop: (r) => this.reflectors.splice(this.reflectors.indexOf(r), 1),
      reportError: (err, scope) => this.reportError(err, scope),
      recovered: (scope) => this.recovered(scope),
    });
    this.health = new ControllerHealth(this.ctx, { lastMove: this.watches.lastMove, requests: this.reconcile.requests, graph: () => this.nodes.topology?.g, notHandledMs: t?.notHandledMs, stillMs: t?.stillMs });
    this.diag = new Diagnoses(this.ctx, t ?? {});
    if (t?.failFastEveryMs !== false) {
      this.failfast = new FailFast(this.ctx, {
        enabled: o.config.fail_fast,
        graceMs: o.config.fail_fast_grace * 1000,
        everyMs: t?.failFastEveryMs,
        conclude: (message) => void this.conclude('failed', message),
      });
    }
    this.custom = new CustomKinds(this.ctx, o.config, {
      reflectorTuning: () => this.reflectorTuning(),
      adopt: (r) => this.reflectors.push(r),
      drop: (r) => this.reflectors.splice(this.reflectors.indexOf(r), 1),
      reportError: (err, scope) => this.reportError(err, scope),
      recovered: (scope) => this.recovered(scope),
      checkDone: () => this.checkDone(),
      forget: (key) => this.nodes.forgetResult(key),
    });
    this.timeline = new TimelineRecorder(this.ctx);
    this.nodes = new NodeBuilder(this.ctx, {
      target: o.target,
      all: !!o.all,
      displayed: this.displayed,
      incremental: t?.incremental !== false,
      commits: this.commits,
      diag: this.diag,
      custom: this.custom,
      waitFacts: () => this.waitFacts,
    });
  }

  /** Runs the session to its end and resolves with the final state. Never rejects. */
  run(): Promise<SessionState> {
    const done = new Promise<SessionState>((resolve) => (this.resolveDone = resolve));
    this.timeoutTimer = setTimeout(() => void this.conclude('timeout'), this.state.timeoutMs);
    const onAbort = () => this.finish(this.o.signal?.reason === 'superseded' ? 'superseded' : 'stopped');
    if (this.o.signal?.aborted) onAbort();
    else this.o.signal?.addEventListener('abort', onAbort, { once: true });
    this.start().catch((err) => this.fatal(err));
    return done;
  }

  private emit(e: MonitorEvent): void {
    this.o.onEvent?.(e);
  }

  /** The current state (see `current`). */
  get state(): SessionState {
    return this.current;
  }

  /** A new current state: the last one with `patch` over it. */
  private update(patch: Partial<SessionState>): void {
    this.current = { ...this.current, ...patch };
  }

  /**
   * Hands the current state to `onState`, which may keep it: from then on nothing it holds is changed (deep-frozen
   * with FLUX_MONITOR_FREEZE_STATES=1). A change after a publication copies the nodes record (recompute.ts), which
   * costs O(nodes): at 10,000 nodes, a few milliseconds and the garbage of a large hash table. So publications are
   * paced by that cost: at least 100 times the last copy's time apart (at most 250 ms), so that copying stays
   * around 1 % of a core whatever the churn; a publication due meanwhile is made when the time is up. Below ~0.2 ms
   * per copy (a few thousand nodes) every change is published at once. The events (`onEvent`, `--json`) are not
   * paced: they go out with each recompute. The final state is published at once.
   */
  private publish(): void {
    const copy = this.nodes?.copyMs ?? 0;
    const gap = this.o.tuning?.publishGapMs ?? (copy >= 0.2 ? Math.min(250, copy * 100) : 0);
    const wait = this.lastPublishAt + gap - performance.now();
    if (wait > 0 && !this.finished) {
      this.publishTimer ??= setTimeout(() => this.publishNow(), wait);
      return;
    }
    this.publishNow();
  }

  private publishNow(): void {
    clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    this.update({ updatedAt: this.now() });
    // Without a reader (`watch --json` prints the events only) nothing is handed out, and nothing needs a copy;
    // the tests treat every state as handed out (frozen) to check the engine's writes either way.
    if (this.o.onState || this.freezeStates) {
      if (this.freezeStates) deepFreeze(this.current);
      this.lastPublished = this.current;
    }
    this.lastPublishAt = performance.now();
    this.o.onState?.(this.current);
  }

  private time(): string {
    return new Date(this.now()).toISOString();
  }

  warn(message: string): void {
    const m = sanitizeText(message, { maxLength: 500 });
    if (this.warned.has(m)) return;
    this.warned.add(m);
    this.update({ warnings: [...this.state.warnings, m] });
    this.emit({ type: 'warning', time: this.time(), session: this.state.id, message: m });
    this.publish();
  }

  private reportError(err: CategorizedError, source = 'discovery'): void {
    this.outage.report(err, source);
  }

  private recovered(source = 'discovery'): void {
    this.outage.recovered(source);
  }

  /** An error in words, naming the API server as this session reaches it (`cannot reach https://…:6443`). */
  private categorize(err: unknown): CategorizedError {
    return categorize(err, this.o.client.displayServer);
  }

  private fatal(err: unknown): void {
    this.failWith(this.categorize(err));
  }

  /** Ends the session with verdict `error` for `err` (said as an error event first). */
  private failWith(err: CategorizedError): void {
    if (this.finished) return;
    this.update({ error: err });
    this.emit({ type: 'error', time: this.time(), session: this.state.id, recovered: false, ...err });
    this.finish('error', `${err.message}. ${finalHint(err.hint)}`);
  }

  /** Discovery with retries while the cluster is unreachable; 401 and missing Flux are final. */
  private async discover(): Promise<{ resources: Map<FluxKind, ResourceType>; apis?: ServedApis }> {
    // A kube-apiserver that is (re)starting answers /apis for ~0.2 s before it has registered the CRD groups:
    // right after an outage, "no Flux APIs" is not believable yet, so it is retried a few times.
    let outage = false;
    let notInstalledRetries = 0;
    const res = await pRetry(() => discoverFlux(this.o.client, wantedKinds(this.o.config)), {
      retries: Number.MAX_SAFE_INTEGER,
      minTimeout: this.o.tuning?.backoffMs ?? 500,
      maxTimeout: this.o.tuning?.maxBackoffMs ?? 15_000,
      randomize: true,
      signal: this.stopAc.signal,
      shouldRetry: ({ error }) =>
        !this.finished && (isTransient(error) || (outage && this.categorize(error).category === 'flux-not-installed' && notInstalledRetries++ < 5)),
      onFailedAttempt: ({ error }) => {
        if (this.finished || !isTransient(error)) return;
        outage = true;
        this.reportError(this.categorize(error));
      },
    });
    this.recovered();
    const missingDisplayed = res.missing.filter((k) => this.displayed.has(k));
    if (missingDisplayed.length) this.warn(`the cluster does not serve ${missingDisplayed.join(', ')}; those kinds are not monitored`);
    return res;
  }

  /** The served resource of each Flux kind (from discovery). */
  private resources = new Map<FluxKind, ResourceType>();
  /** A verdict is being confirmed (see confirmVerdict). */
  private confirming = false;
  /** Every 2 s: what time alone changes (controller health, CI polls, slow health checks). */
  private tickTimer?: NodeJS.Timeout;
  /** The verdict is decided and waits for the last diagnoses: the state is frozen. */
  private concluding = false;

  /** Aborted when the session finishes: stops discovery retries. */
  private readonly stopAc = new AbortController();

  /** The custom kinds of the configuration (pipelines, releases of the pushed commit): their watches and objects. */
  private readonly custom: CustomKinds;

  /** Reads the controllers' flags once (core/waits.ts); the nodes are computed again with them. */
  private readWaitFacts(): Promise<void> {
    return readControllerFlags(this.o.client, fluxNamespace(), this.stopAc.signal).then((facts) => {
      if (this.finished) return;
      this.waitFacts = facts;
      if (this.synced) {
        this.nodes.replaced();
        this.schedule();
      }
    });
  }

  private async start(): Promise<void> {
    const { resources, apis } = await this.discover();
    this.resources = resources;
    if (this.finished) return;
    // Once the server answers (not to a server that refuses us): alongside the first LISTs.
    const flags = this.readWaitFacts();
    this.update({ status: 'running', mode: this.o.tuning?.pollOnly ? 'poll' : 'watch' });
    await this.watches.startAll(resources.values());
    if (this.finished) return;
    // The custom kinds' discovery reads the aggregated answer of the Flux discovery when the server gave one.
    await this.custom.start(apis);
    if (this.finished) return;
    // Mostly read by now (it ran alongside the first LISTs); not waited for long if not.
    await Promise.race([flags, new Promise<void>((r) => setTimeout(r, 2_000).unref?.())]);
    if (this.finished) return;
    this.synced = true;
    this.recompute();
    if (this.finished) return;
    if (!this.o.all && this.state.matchedSources.length === 0) {
      throw new MonitorError({
        category: 'not-found',
        message: `no GitRepository or OCI artifact in the cluster follows ${this.state.repo.url ?? 'the pushed repository'}${this.o.target.branch ? ` (branch ${this.o.target.branch})` : ''}`,
        hint:
          'Check the remote URL and branch against `flux get sources git -A` (or, for artifacts built by CI, the org.opencontainers.image.source ' +
          'and .revision annotations shown by `flux get sources oci -A`), or run with --all to watch every Flux object.',
      });
    }
    this.emit({
      type: 'session',
      schema: 1,
      time: this.time(),
      session: this.state.id,
      commit: this.pushed.sha,
      branch: this.o.target.branch,
      repoUrl: this.state.repo.url,
      context: this.state.cluster.context,
      timeoutMs: this.state.timeoutMs,
      objects: Object.values(this.state.nodes).map((n) => ({ key: n.key, kind: n.kind, namespace: n.namespace, name: n.name, affected: n.affected })),
      matchedSources: this.state.matchedSources,
      cycles: this.state.cycles,
    });
    this.emitPhaseChanges(new Map());
    this.triggerDiagnoses();
    if (this.o.config.auto_reconcile) await this.reconcile.requestSources();
    this.checkDone();
    this.tickTimer = setInterval(() => {
      this.health.check();
      if (this.o.config.auto_reconcile) this.reconcile.pollArtifacts();
      // Only what time alone can change: slow health checks, and diagnoses that waited for one under way (each
      // recompute looks at the nodes it changed).
      this.triggerDiagnoses([]);
    }, this.o.tuning?.diagnoseEveryMs ?? 2_000);
    this.tickTimer.unref?.();
    this.failfast?.start();
  }

  /** The reflector settings every watch of the session shares (tests and benches tune them). */
  private reflectorTuning() {
    const t = this.o.tuning;
    return {
      pollOnly: t?.pollOnly,
      stallMs: t?.stallMs,
      backoffMs: t?.backoffMs,
      maxBackoffMs: t?.maxBackoffMs,
      pageSize: t?.pageSize,
      pollIntervalMs: () => this.pollInterval(),
    };
  }

  /** Adaptive polling: fast while anything moves, slower when everything waits or is settled. */
  private pollInterval(): number {
    const base = Math.max(250, this.o.config.polling_interval * 1000);
    const active = Object.values(this.state.nodes).some((n) => n.affected && !n.settled && (n.phase === 'Progressing' || n.phase === 'Pending'));
    return active ? base : Math.min(base * 5, 30_000);
  }

  /** The nodes recomputed, then what follows either way: the CI deadline, the dependents to nudge, the state published. */
  private recompute(): PhaseChanges {
    const { topo, ...changes } = this.nodes.recompute();
    this.failfast?.overlay();
    if (this.synced) this.timeline.note(changes.keys);
    this.commits.noteThrough(topo.matched);
    this.updateCiDeadline(topo.matched, this.state.nodes, this.now());
    if (this.o.config.auto_reconcile && this.synced && this.o.tuning?.nudgeDependents !== false) this.reconcile.nudgeDependents(topo.g);
    this.publish();
    return changes;
  }

  /** Recomputes made so far, full and incremental (for tests and benches). */
  get recomputes(): { full: number; incremental: number } {
    return this.nodes.recomputes;
  }

  private schedule(): void {
    if (this.recomputeScheduled || !this.synced || this.finished || this.concluding) return;
    this.recomputeScheduled = true;
    const run = () => {
      this.recomputeScheduled = false;
      if (this.finished || this.concluding) return;
      const started = performance.now();
      const changes = this.recompute();
      this.emitPhaseChanges(changes.prev, changes.keys);
      this.triggerDiagnoses(changes.keys);
      this.checkDone();
      this.lastRecompute = { end: performance.now(), took: performance.now() - started };
    };
    // Under a stream of events, leave at least as much idle time as the last recompute took: events arriving
    // meanwhile are batched into the next one, so CPU stays at or below half a core whatever the churn, and a
    // single event is still handled at once.
    const wait = this.lastRecompute.end + this.lastRecompute.took - performance.now();
    if (wait > 1) setTimeout(run, wait);
    else setImmediate(run);
  }
  private lastRecompute = { end: 0, took: 0 };

  /**
   * When the push reaches the cluster through CI-built artifacts (a matched OCIRepository or ExternalArtifact),
   * the session first waits for CI: until `ci_timeout` after the start while a matched artifact source has no
   * outcome for the pushed commit yet, then `timeout` from the moment every one has (Flux's part). Progressing
   * counts as waiting: source-controller marks Reconciling=True while it polls the registry on a reconcile
   * request, with the artifact of an older commit (observed with source-controller v1.9.6).
   */
  private updateCiDeadline(matched: string[], nodes: Record<string, NodeState>, now: number): void {
    if (!this.synced || this.finished || this.concluding || this.state.ci?.artifactAt !== undefined) return;
    const ci = matched.map((k) => nodes[k]).filter((n): n is NodeState => !!n && CI_ARTIFACT_KINDS.includes(n.kind as FluxKind));
    if (ci.length === 0) return;
    const ciMs = this.o.config.ci_timeout * 1000;
    if (ci.some((n) => !TERMINAL_PHASES.has(n.phase))) {
      if (this.state.ci) return;
      this.update({ ci: { timeoutMs: ciMs } });
      this.setDeadline(this.state.startedAt + ciMs);
    } else {
      this.update({ ci: { timeoutMs: ciMs, artifactAt: now } });
      this.setDeadline(now + this.o.config.timeout * 1000);
    }
  }

  /** Moves the session's timeout to `at` (ms since epoch); state.timeoutMs counts from the start. */
  private setDeadline(at: number): void {
    this.update({ timeoutMs: Math.max(0, at - this.state.startedAt) });
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = setTimeout(() => void this.conclude('timeout'), Math.max(0, at - this.now()));
  }

  /** The wait each node's last `phase` event announced (kind, duration, basis, start). */
  private readonly waitSigs = new Map<string, string>();

  /**
   * A `phase` event for each node whose phase is not the one in `prev`, or that waits for something new in the
   * same phase (a health check began, a dependency retry is announced): the nodes `keys` (in order), or all.
   */
  private emitPhaseChanges(prev: Map<string, string>, keys?: string[]): void {
    if (!this.synced) return;
    for (const n of keys ? keys.map((k) => this.state.nodes[k]!) : Object.values(this.state.nodes)) {
      const before = prev.get(n.key);
      const w = n.wait && !n.settled ? n.wait : undefined;
      const sig = w ? `${w.kind}|${w.ms}|${w.basis}|${w.from ?? ''}` : '';
      if (before === n.phase && (!w || this.waitSigs.get(n.key) === sig)) continue;
      this.waitSigs.set(n.key, sig);
      this.emit({
        type: 'phase',
        time: this.time(),
        session: this.state.id,
        key: n.key,
        kind: n.kind,
        namespace: n.namespace,
        name: n.name,
        phase: n.phase,
        previous: before as NodeState['phase'] | undefined,
        reason: n.reason,
        message: n.message,
        revision: n.revision,
        blockers: n.blockers,
        ...(w ? { wait: waitEvent(w, this.now()) } : {}),
        elapsedMs: this.now() - this.state.startedAt,
      });
    }
  }

  private checkDone(): void {
    if (this.finished || this.concluding || !this.synced || this.state.status !== 'running') return;
    // Kept by recompute(): the same as counting the affected nodes and those not settled, without visiting them.
    const counts = this.nodes.counts;
    if (counts.affected === 0) return;
    if (counts.open === 0 && !this.custom.awaiting()) void this.confirmVerdict();
  }

  /**
   * Everything is settled. Watches of different kinds are not ordered with each other: a Kustomization's
   * "Applied revision" may arrive before the generation bump of a HelmRelease it applied, which would then still
   * look Ready with its previous generation. Such objects (judged from their own conditions because their
   * status names no commit, and delivered by an inventory parent) are read once more with one LIST per kind; if
   * anything moved, the verdict waits for it. Without such objects the verdict is final at once. A failing
   * confirmation falls back to a short quiet period.
   */
  private async confirmVerdict(): Promise<void> {
    // While a watch or discovery is failing for a passing reason (unreachable, 5xx, throttled), what is known of
    // Flux's state may be stale: decide once it is back (recovered() schedules a recompute). The timeout still runs.
    if (this.confirming || this.finished || this.outage.transientOpen()) return;
    const t = this.nodes.topology;
    const kinds = new Set<FluxKind>();
    // After a failure of any watch, every kind is read again: a watch that has just been accepted may still be
    // about to say 410 Gone and relist, and what it would bring (a deletion, say) must not miss the verdict.
    const everything = this.outage.sinceError;
    for (const n of Object.values(this.state.nodes)) {
      if (n.deleted) continue;
      if (!isFluxKind(n.kind)) continue; // custom kinds have no inventory parent; their watches are their own
      if (everything || (n.affected && t?.parents.get(n.key)?.length && !t.correlated.has(n.key))) kinds.add(n.kind);
    }
    // Settled as the nodes say, and the nodes are not behind what the watches have stored meanwhile (an event
    // stored while the confirming LIST was under way carries the same resourceVersion as the LIST, so only this
    // tells that the nodes have not seen it yet: the recompute it scheduled decides instead).
    const settledNow = () => {
      if (this.nodes.behind || this.recomputeScheduled) return false;
      const now = Object.values(this.state.nodes).filter((n) => n.affected);
      return now.length > 0 && now.every((n) => n.settled);
    };
    if (kinds.size === 0) {
      if (!settledNow()) return this.schedule();
      void this.conclude(decideVerdict(this.state));
      return;
    }
    this.confirming = true;
    let moved = false;
    try {
      await Promise.all(
        [...kinds].map(async (kind) => {
          const rt = this.resources.get(kind);
          if (!rt) return;
          const list = await this.o.client.request<{ items?: KubeObject[] }>('GET', `/apis/${rt.group}/${rt.version}/${rt.plural}`, { statsVerb: 'confirm', list: true });
          // Objects of this kind that are gone from the API although no watch has said so yet (a watch may be
          // relisting after 410 Gone): deleted.
          const listed = new Set((list.items ?? []).map((i) => objectKey({ ...i, kind })));
          const store = this.watches.store;
          for (const key of [...store.keys()]) {
            if (store.get(key)!.kind !== kind || listed.has(key)) continue;
            this.watches.forget(key);
            moved = true;
          }
          for (const item of list.items ?? []) {
            const key = objectKey({ ...item, kind });
            const known = key ? store.get(key) : undefined;
            if (!key || !known || known.metadata.resourceVersion === item.metadata.resourceVersion) continue;
            // A newer version than the watch has delivered so far: take it (the watch brings the same later).
            this.watches.put(key, { ...item, kind, apiVersion: rt.apiVersion });
            moved = true;
          }
        }),
      );
    } catch {
      // No list permission cluster-wide, or the API failed: a short quiet period instead.
      this.confirming = false;
      if (this.settleTimer || this.finished) return;
      this.settleTimer = setTimeout(() => {
        this.settleTimer = undefined;
        if (settledNow()) void this.conclude(decideVerdict(this.state));
      }, this.o.tuning?.settleDelayMs ?? 750);
      return;
    }
    this.confirming = false;
    if (this.finished) return;
    if (everything && !moved) this.outage.sinceError = false;
    if (moved || this.nodes.behind) this.schedule();
    else if (settledNow()) void this.conclude(decideVerdict(this.state));
  }

  /**
   * Ends the session with `verdict`, after the last diagnoses for a failed or timed-out one: those under way,
   * and a refresh of those older than DIAGNOSIS_REFRESH_MS (and of slow health checks not diagnosed yet), so the
   * session ends with what the workloads look like then. The state is frozen meanwhile; at most DIAGNOSIS_WAIT_MS.
   */
  private async conclude(verdict: Verdict, message?: string): Promise<void> {
    if (this.finished || this.concluding) return;
    if ((verdict === 'failed' || verdict === 'timeout') && this.synced && this.o.tuning?.diagnosis !== false) {
      this.concluding = true;
      clearTimeout(this.timeoutTimer);
      await this.diag.final();
    }
    this.finish(verdict, message);
  }

  /** Starts the diagnoses the nodes call for (all of them, or those `changed` by an incremental recompute). */
  private triggerDiagnoses(changed?: string[]): void {
    if (this.o.tuning?.diagnosis === false) return;
    this.diag.trigger(changed);
  }

  private finish(verdict: Verdict, message?: string): void {
    if (this.finished) return;
    if (verdict === 'timeout') this.update({ timedOut: true });
    // The session no longer retries: its open error's hint stops promising it (on the screen, in the file, to MCP).
    if (this.state.error) this.update({ error: { ...this.state.error, hint: finalHint(this.state.error.hint) } });
    if (verdict === 'timeout' && this.state.error && !this.synced) {
      // Never got through to the cluster: that is a cluster error, not a slow Flux.
      verdict = 'error';
      const ctx = this.o.client.contextName ? `; context ${this.o.client.contextName}` : '';
      message = `${this.state.error.message}${ctx}. ${this.state.error.hint}`;
    }
    if (verdict === 'timeout' && Object.values(this.state.nodes).some((n) => n.affected && FAILURE_PHASES.has(n.phase))) verdict = 'failed';
    const unplaced = verdict === 'timeout' && !message ? this.commits.lastUnplaced() : undefined;
    if (unplaced) {
      message = `${verdictMessage(verdict, this.state)}; the source is at ${unplaced.sha.slice(0, 7)}, and whether it includes ${this.pushed.sha.slice(0, 7)} is unknown (${unplaced.reason})`;
    }
    if (verdict === 'timeout' && !message) {
      const missing = this.custom.stillAwaited();
      if (missing.length) message = `${verdictMessage(verdict, this.state)}; no ${missing.join(' nor ')} of ${this.pushed.sha.slice(0, 7)} appeared`;
    }
    this.finished = true;
    this.commits.stop();
    clearTimeout(this.timeoutTimer);
    this.custom.stop();
    this.failfast?.stop();
    clearTimeout(this.settleTimer);
    clearInterval(this.tickTimer);
    this.stopAc.abort();
    for (const r of this.reflectors) r.stop();
    const end = this.now();
    this.update({ status: 'finished', endedAt: end, verdict });
    this.update({ verdictMessage: message ?? verdictMessage(verdict, this.state) });
    this.publish();
    this.emit(summaryEvent(this.state, { time: end }));
    this.resolveDone?.(this.state);
  }

  /** Requests made so far (for benches). */
  get requestCount(): number {
    return this.o.client.stats.requests;
  }
}
