// Diagnoses: what the workloads behind a failing or slow Kustomization or HelmRelease look like (rollouts, pods,
// events; src/engine/diagnose.ts reads them). Started once per node per attempt when its state calls for one
// (core/verdict.ts diagnosisTrigger): a failure at once, health checks running for HEALTH_SLOW_MS; and, before a
// failed or timed-out verdict, the last ones are awaited and the stale ones made again, so the session ends with
// what the workloads look like then.
import { diagnosisTrigger } from '../core/verdict.js';
import { FAILURE_PHASES, isFluxKind, type Diagnosis, type NodeState } from '../core/types.js';
import { diagnoseObject } from './diagnose.js';
import type { EngineContext } from './parts.js';

/** A Kustomization running its health checks for this long is diagnosed before it fails. */
export const HEALTH_SLOW_MS = 5_000;
/** At the verdict, a diagnosis older than this is made again (the state it shows may have moved). */
export const DIAGNOSIS_REFRESH_MS = 3_000;
/** The verdict waits at most this long for diagnoses. */
export const DIAGNOSIS_WAIT_MS = 5_000;
/** Objects diagnosed again at the verdict, at most. */
export const DIAGNOSIS_FINAL_NODES = 5;

export interface DiagnosesTuning {
  healthSlowMs?: number;
  diagnosisRefreshMs?: number;
  diagnosisWaitMs?: number;
}

export class Diagnoses {
  /** The latest diagnosis of each node, kept while the node is not Ready (the recompute attaches it to the node). */
  readonly latest = new Map<string, Diagnosis>();
  /** The attempt each node was last diagnosed for (`trigger|reason|revision`): once per node per attempt. */
  private readonly attempted = new Map<string, string>();
  /** Diagnoses under way, by key. */
  private readonly running = new Map<string, Promise<void>>();
  /** Since when each Kustomization has been running health checks for a revision (ms). */
  private readonly healthSince = new Map<string, { revision?: string; since: number }>();
  /** Nodes whose diagnosis was not started because one was under way: looked at again next time. */
  private readonly retry = new Set<string>();

  constructor(
    private readonly m: EngineContext,
    private readonly t: DiagnosesTuning = {},
  ) {}

  /** The diagnosis to show on a node in `phase`: none once it is Ready (or moved on, or suspended). */
  shownOn(key: string, phase: NodeState['phase']): Diagnosis | undefined {
    const d = this.latest.get(key);
    return d && !settledWell(phase) ? d : undefined;
  }

  /** A node rebuilt in `phase` without a diagnosis: a stale one of a Ready (or moved on) node is dropped. */
  dropStale(node: NodeState): void {
    if (!node.diagnosis && settledWell(node.phase)) this.latest.delete(node.key);
  }

  /**
   * Starts the diagnosis of the affected nodes whose state calls for one: `changed` are the nodes an incremental
   * recompute rebuilt (besides them, only those whose health checks are timed and those that waited for a
   * diagnosis under way can call for one); undefined looks at every node.
   */
  trigger(changed?: string[]): void {
    const m = this.m;
    if (m.finished || !m.synced) return;
    const now = m.now();
    let nodes: Iterable<NodeState>;
    if (changed) {
      const keys = new Set([...changed, ...this.healthSince.keys(), ...this.retry]);
      nodes = [...keys].map((k) => m.state.nodes[k]).filter((n): n is NodeState => !!n);
    } else nodes = Object.values(m.state.nodes);
    this.retry.clear();
    for (const n of nodes) {
      if (!n.affected || n.deleted) continue;
      const trigger = diagnosisTrigger(n);
      if (trigger !== 'health' && this.healthSince.size) this.healthSince.delete(n.key);
      if (!trigger) continue;
      if (trigger === 'health') {
        const h = this.healthSince.get(n.key);
        if (!h || h.revision !== n.revision) {
          this.healthSince.set(n.key, { revision: n.revision, since: now });
          continue;
        }
        if (now - h.since < (this.t.healthSlowMs ?? HEALTH_SLOW_MS)) continue;
      }
      const attempt = `${trigger}|${n.reason}|${n.revision ?? ''}`;
      if (this.attempted.get(n.key) === attempt) continue;
      if (this.running.has(n.key)) {
        this.retry.add(n.key);
        continue;
      }
      this.attempted.set(n.key, attempt);
      void this.start(n);
    }
  }

  private start(n: NodeState): Promise<void> {
    const m = this.m;
    const running = this.running.get(n.key);
    if (running) return running;
    const kind = n.kind;
    if (!isFluxKind(kind)) return Promise.resolve();
    const rt = m.resources.get(kind);
    if (!rt) return Promise.resolve();
    const p = diagnoseObject({ client: m.client, rt, node: { ...n, kind }, pushed: m.pushed, since: m.state.startedAt, now: () => m.now(), signal: m.signal })
      .then((d) => {
        if (m.finished) return;
        const cur = m.state.nodes[n.key];
        if (!cur || settledWell(cur.phase)) return;
        this.latest.set(n.key, d);
        m.update({ nodes: { ...m.state.nodes, [n.key]: { ...cur, diagnosis: d } } });
        m.emit({ type: 'diagnosis', time: m.time(), session: m.state.id, key: cur.key, kind: cur.kind, namespace: cur.namespace, name: cur.name, phase: cur.phase, diagnosis: d });
        m.publish();
      })
      .catch(() => undefined)
      .finally(() => this.running.delete(n.key));
    this.running.set(n.key, p);
    return p;
  }

  /**
   * Before a failed or timed-out verdict: the diagnoses under way, then a refresh of those older than
   * DIAGNOSIS_REFRESH_MS (and of nodes that call for one and have none), at most DIAGNOSIS_FINAL_NODES of them,
   * all within DIAGNOSIS_WAIT_MS.
   */
  async final(): Promise<void> {
    const m = this.m;
    const deadline = m.now() + (this.t.diagnosisWaitMs ?? DIAGNOSIS_WAIT_MS);
    const wait = async (work: Promise<void>[]) => {
      const left = deadline - m.now();
      if (!work.length || left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(work), new Promise<void>((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    };
    await wait([...this.running.values()]);
    const now = m.now();
    const refreshAfter = this.t.diagnosisRefreshMs ?? DIAGNOSIS_REFRESH_MS;
    const work: Promise<void>[] = [];
    for (const n of Object.values(m.state.nodes)) {
      if (work.length >= DIAGNOSIS_FINAL_NODES || m.finished) break;
      if (!n.affected || n.deleted || this.running.has(n.key) || !diagnosisTrigger(n)) continue;
      const d = this.latest.get(n.key);
      // A failure's own Warning Event is recorded by the controller's event broadcaster, a moment after the
      // status that made us look: read once more when it was not there yet.
      const eventMissing = !!d && FAILURE_PHASES.has(n.phase) && !d.events.some((e) => e.type === 'Warning');
      if (d && now - d.at < refreshAfter && !eventMissing) continue;
      work.push(this.start(n));
    }
    await wait(work);
  }
}

/** Phases in which a diagnosis has nothing left to explain. */
function settledWell(phase: NodeState['phase']): boolean {
  return phase === 'Ready' || phase === 'Superseded' || phase === 'Suspended';
}
