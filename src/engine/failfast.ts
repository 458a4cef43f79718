// Fail-fast: while Flux waits for the workloads of an affected Kustomization (health checks) or HelmRelease
// (install/upgrade with wait) of the pushed commit, look at those workloads and their pods every few seconds with
// the diagnosis's reads (engine/diagnose.ts: the object, one LIST per namespace and workload kind, the pods of the
// workloads that are not ready; no Events, no watch of any pod), find conclusive evidence by the rules of
// core/failfast.ts, and show the object as `Failing` while it holds. With fail_fast, once the evidence has held
// for the grace period, the session ends with verdict `failed` before Flux's own timeout.
//
// The recompute (engine/recompute.ts) builds nodes from the Flux objects alone; overlay() puts the Failing phase
// over the node it built, after each recompute, as long as the node is still Progressing in the same wait.
import { conclusive, failFastVerdictMessage, failingInfo, failingMessage, failingReason, findEvidence, holdEvidence, type HeldEvidence } from '../core/failfast.js';
import { fluxWait, type FluxWait } from '../core/flux-wait.js';
import { isFluxKind, type FailingInfo, type KubeObject, type NodeState } from '../core/types.js';
import { diagnoseObject } from './diagnose.js';
import type { EngineContext } from './parts.js';

/** How often the workloads of a waiting object are read (ms). */
export const FAIL_FAST_EVERY_MS = 3_000;

export interface FailFastOptions {
  /** fail_fast: end the session once the evidence held for `graceMs`. false: show Failing, wait for Flux. */
  enabled: boolean;
  graceMs: number;
  everyMs?: number;
  /** Ends the session with verdict failed and this message (the Monitor concludes). */
  conclude: (message: string) => void;
  /** Reads the workloads and pods of a node (tests); default: diagnoseObject's reads. */
  read?: (n: NodeState, collect: (workload: KubeObject, pods: KubeObject[] | undefined) => void) => Promise<void>;
}

interface Watched {
  /** The node as the recompute built it (never our Failing copy). */
  base: NodeState;
  wait: FluxWait;
  held: Map<string, HeldEvidence>;
  info?: FailingInfo;
  lastRead: number;
  reading: boolean;
}

export class FailFast {
  private readonly watched = new Map<string, Watched>();
  private timer?: NodeJS.Timeout;
  private concluded = false;

  constructor(
    private readonly m: EngineContext,
    private readonly o: FailFastOptions,
  ) {}

  /** Starts looking every `everyMs`; stops when the session finishes. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.o.everyMs ?? FAIL_FAST_EVERY_MS);
    this.timer.unref?.();
    this.m.signal.addEventListener('abort', () => clearInterval(this.timer), { once: true });
    this.tick();
  }

  /** Stops the timer (the session finished). */
  stop(): void {
    clearInterval(this.timer);
  }

  /** What the object `key` shows now, for tests. */
  held(key: string): HeldEvidence[] {
    return [...(this.watched.get(key)?.held.values() ?? [])];
  }

  /**
   * After a recompute: each node the recompute rebuilt is the new base; the nodes no longer waiting are let go, and
   * Failing is put back over those whose evidence is conclusive.
   */
  overlay(): void {
    if (this.m.finished || this.m.concluding) return;
    for (const [key, w] of this.watched) {
      const n = this.m.state.nodes[key];
      if (!n) {
        this.watched.delete(key);
        continue;
      }
      // Our Failing copy, not rebuilt: it stands.
      if (n.phase === 'Failing') continue;
      w.base = n;
      const wait = this.waitOf(n);
      if (!wait) {
        this.watched.delete(key);
        continue;
      }
      w.wait = wait;
      // The monitor emits the phase events of a recompute (against the phases before it) and publishes.
      if (w.info) this.show(key, this.shown(w), n, false);
    }
  }

  /** Every `everyMs`: new waits are followed, due reads started, a due fail-fast verdict given. */
  tick(): void {
    const m = this.m;
    if (m.finished || m.concluding || !m.synced) return;
    const now = m.now();
    for (const n of Object.values(m.state.nodes)) {
      if (!n.affected || n.deleted || (n.phase !== 'Progressing' && n.phase !== 'Failing')) continue;
      let w = this.watched.get(n.key);
      if (!w) {
        if (n.phase !== 'Progressing') continue;
        const wait = this.waitOf(n);
        if (!wait) continue;
        w = { base: n, wait, held: new Map(), lastRead: 0, reading: false };
        this.watched.set(n.key, w);
      }
      if (!w.reading && now - w.lastRead >= (this.o.everyMs ?? FAIL_FAST_EVERY_MS) - 50) void this.read(n.key, w);
    }
    this.checkDue(now);
  }

  /** The wait of a node the recompute built: Progressing, of a Kustomization or HelmRelease whose object says Flux waits for its workloads. */
  private waitOf(n: NodeState): FluxWait | undefined {
    if (n.phase !== 'Progressing' || !n.affected || n.deleted || (n.kind !== 'Kustomization' && n.kind !== 'HelmRelease')) return undefined;
    return fluxWait(this.m.objects.get(n.key));
  }

  private async read(key: string, w: Watched): Promise<void> {
    const m = this.m;
    w.reading = true;
    w.lastRead = m.now();
    const found: ReturnType<typeof findEvidence> = [];
    const collect = (workload: KubeObject, pods: KubeObject[] | undefined) => found.push(...findEvidence(workload, pods ?? []));
    let ok = true;
    try {
      if (this.o.read) await this.o.read(w.base, collect);
      else await this.defaultRead(w.base, collect);
    } catch {
      ok = false;
    } finally {
      w.reading = false;
    }
    if (!ok || m.finished || m.concluding || this.watched.get(key) !== w) return;
    const now = m.now();
    w.held = holdEvidence(w.held, found, now);
    this.update(key, w, now);
    this.checkDue(now);
  }

  private defaultRead(n: NodeState, collect: (workload: KubeObject, pods: KubeObject[] | undefined) => void): Promise<void> {
    const m = this.m;
    const kind = n.kind;
    if (!isFluxKind(kind)) return Promise.resolve();
    const rt = m.resources.get(kind);
    if (!rt) return Promise.resolve();
    return diagnoseObject({
      client: m.client,
      rt,
      node: { kind, namespace: n.namespace, name: n.name, message: n.message, revision: n.revision },
      pushed: m.pushed,
      since: m.state.startedAt,
      now: () => m.now(),
      signal: m.signal,
      events: false,
      collect: (_ref, workload, pods) => collect(workload, pods),
    }).then(() => undefined);
  }

  /** The evidence after a read: Failing (new or refreshed) or back to what the recompute built. */
  private update(key: string, w: Watched, now: number): void {
    const evidence = conclusive(w.held.values(), now);
    w.info = evidence.length ? failingInfo(evidence, w.wait, this.o.enabled ? this.o.graceMs : undefined) : undefined;
    const cur = this.m.state.nodes[key];
    if (!cur) return;
    this.show(key, this.shown(w, now), cur);
  }

  /** The node to show for `w`: Failing over its base while the evidence is conclusive, else its base. */
  private shown(w: Watched, now = this.m.now()): NodeState {
    const info = w.info;
    if (!info || w.base.phase !== 'Progressing') return w.base;
    return {
      ...w.base,
      phase: 'Failing',
      reason: failingReason(info),
      message: `${failingMessage(info, now)}\n(Flux: ${w.base.message})`,
      failing: info,
      phaseSince: info.since,
    };
  }

  /** Puts `next` in the state in place of `cur` when it shows something else; a phase event when the phase changed. */
  private show(key: string, next: NodeState, cur: NodeState, announce = true): void {
    if (next === cur) return;
    if (next.phase === cur.phase && next.message === cur.message && next.failing === cur.failing) return;
    const m = this.m;
    m.update({ nodes: { ...m.state.nodes, [key]: next } });
    if (!announce) return;
    if (next.phase !== cur.phase) {
      m.emit({
        type: 'phase',
        time: m.time(),
        session: m.state.id,
        key,
        kind: next.kind,
        namespace: next.namespace,
        name: next.name,
        phase: next.phase,
        previous: cur.phase,
        reason: next.reason,
        message: next.message,
        revision: next.revision,
        ...(next.failing ? { failing: next.failing } : {}),
        elapsedMs: m.now() - m.state.startedAt,
      });
    }
    m.publish();
  }

  /** With fail_fast: the first Failing node whose evidence held for the grace period ends the session. */
  private checkDue(now: number): void {
    if (!this.o.enabled || this.concluded || this.m.finished || this.m.concluding) return;
    for (const [key, w] of this.watched) {
      const n = this.m.state.nodes[key];
      if (!w.info || n?.phase !== 'Failing' || w.info.failFastAt === undefined || now < w.info.failFastAt) continue;
      this.concluded = true;
      this.m.update({ failFast: { key, since: w.info.since, at: now, ...(w.info.flux?.deadline !== undefined ? { fluxDeadline: w.info.flux.deadline } : {}) } });
      this.o.conclude(failFastVerdictMessage(this.m.state.commit.sha, n, w.info, now));
      return;
    }
  }
}
