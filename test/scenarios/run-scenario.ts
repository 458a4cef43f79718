// One scenario run, target-agnostic: the same FluxPlayer scenario, the same commits and the same monitor
// settings against any Kubernetes API (the ApiSimulator or a real kube-apiserver), reduced to a normalised
// result that must not depend on the target. That is how the simulator is kept honest.
import { DEFAULT_CONFIG, FLUX_KINDS, type MonitorConfig, type MonitorEvent, type SessionState, type Verdict } from '../../src/core/types.js';
import type { ApiSimulator, ApiSimulatorOptions } from '../../src/sim/server.js';
import { startEngine, startSim, waitFor } from '../helpers/engine.js';
import { FluxPlayer } from '../../src/sim/flux-player.js';
import { FluxRest } from '../../src/sim/flux-client.js';
import { RestClient } from '../../src/sim/rest.js';
import { pushCommit, setupScenario, type Scenario } from '../../src/sim/scenarios.js';

/** Where a scenario runs: the monitor's kubeconfig and an admin client for the player. */
export interface ScenarioTarget {
  name: string;
  kubeconfig: string;
  admin: RestClient;
}

export interface ScenarioRun {
  scenario: Scenario;
  /** The commit the scenario's objects are at before the push. */
  initialSha: string;
  /** The pushed commit. */
  pushedSha: string;
  /** FluxPlayer speed (default 5). */
  speed?: number;
  /** Monitor timeout in seconds (default 60). */
  timeoutSec?: number;
  config?: Partial<MonitorConfig>;
}

/** What must be the same on every target. Times, messages and resourceVersions are left out on purpose. */
export interface NormalisedResult {
  verdict: Verdict | undefined;
  matchedSources: string[];
  /** Keys the session started with (the affected set before the push). */
  initialObjects: string[];
  nodes: Array<{ key: string; apiVersion: string; phase: string; reason: string; revision?: string; affected: boolean; settled: boolean; deleted?: boolean }>;
  edges: string[];
  warnings: string[];
  /**
   * The diagnoses the session ended with, by key: each not-ready workload with its rollout summary and its
   * pods' reasons, the notes, and the reasons of the object's Events (their messages carry times).
   */
  diagnoses: Record<string, { workloads: string[]; readyWorkloads: number; notes: string[]; events: string[] }>;
}

/** A Flux object as the target stores it after the run, without server-assigned or time-dependent fields. */
export interface StoredObject {
  key: string;
  apiVersion: string;
  generation?: number;
  labels: Record<string, string>;
  annotations: string[];
  spec: unknown;
  observedGeneration?: number;
  conditions: string[];
  revisions: Record<string, unknown>;
  inventory?: string[];
}

export interface ScenarioOutcome {
  result: NormalisedResult;
  /** Every Flux object on the target once the session ended (the player stopped). */
  stored: StoredObject[];
  final: SessionState;
  events: MonitorEvent[];
  /** Errors the player hit (it retries them; a real server answering differently shows up here first). */
  playerErrors: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


/** Deletes every Flux object (no finalizers here, so deletions are immediate) and waits until none is left. */
export async function clearFlux(admin: RestClient): Promise<void> {
  const flux = new FluxRest(admin);
  await flux.discover();
  for (const kind of FLUX_KINDS) {
    for (const o of await flux.list(kind)) await flux.delete(kind, o.metadata.namespace!, o.metadata.name);
  }
  for (const kind of FLUX_KINDS) {
    const end = Date.now() + 30_000;
    while ((await flux.list(kind)).length > 0) {
      if (Date.now() > end) throw new Error(`${kind} objects are still there 30 s after deletion`);
      await sleep(50);
    }
  }
}

/** The Flux objects of the target, reduced to what the player's writes and the server's semantics decide. */
export async function storedObjects(admin: RestClient): Promise<StoredObject[]> {
  const flux = new FluxRest(admin);
  await flux.discover();
  const out: StoredObject[] = [];
  for (const kind of FLUX_KINDS) {
    for (const o of await flux.list(kind)) {
      const st = o.status ?? {};
      out.push({
        key: `${kind}/${o.metadata.namespace}/${o.metadata.name}`,
        apiVersion: o.apiVersion ?? flux.apiVersion(kind),
        generation: o.metadata.generation,
        labels: o.metadata.labels ?? {},
        annotations: Object.keys(o.metadata.annotations ?? {}).sort(),
        spec: o.spec,
        observedGeneration: st.observedGeneration,
        conditions: ((st.conditions ?? []) as Array<{ type: string; status: string; reason?: string; observedGeneration?: number }>)
          .map((c) => `${c.type}=${c.status} ${c.reason ?? ''} gen=${c.observedGeneration ?? '-'}`)
          .sort(),
        revisions: Object.fromEntries(
          Object.entries({
            artifact: st.artifact?.revision,
            lastAttemptedRevision: st.lastAttemptedRevision,
            lastAppliedRevision: st.lastAppliedRevision,
            lastAttemptedGeneration: st.lastAttemptedGeneration,
            observedSourceArtifactRevision: st.observedSourceArtifactRevision,
            history: Array.isArray(st.history) ? st.history.map((h: Record<string, unknown>) => h.chartVersion ?? (h.metadata as { revision?: string })?.revision) : undefined,
          }).filter(([, v]) => v !== undefined),
        ),
        ...(st.inventory ? { inventory: ((st.inventory.entries ?? []) as Array<{ id: string }>).map((e) => e.id).sort() } : {}),
      });
    }
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

export function normalise(final: SessionState, events: MonitorEvent[]): NormalisedResult {
  const session = events.find((e): e is Extract<MonitorEvent, { type: 'session' }> => e.type === 'session');
  return {
    verdict: final.verdict,
    matchedSources: [...final.matchedSources].sort(),
    initialObjects: (session?.objects.map((o) => o.key) ?? []).sort(),
    nodes: Object.values(final.nodes)
      .map((n) => ({
        key: n.key,
        apiVersion: n.apiVersion,
        phase: n.phase,
        reason: n.reason,
        ...(n.revision !== undefined ? { revision: n.revision } : {}),
        affected: n.affected,
        settled: n.settled,
        ...(n.deleted ? { deleted: true } : {}),
      }))
      .sort((a, b) => a.key.localeCompare(b.key)),
    edges: final.edges.map((e) => `${e.from} -${e.type}-> ${e.to}`).sort(),
    warnings: [...final.warnings].sort(),
    diagnoses: Object.fromEntries(
      Object.values(final.nodes)
        .filter((n) => n.diagnosis)
        .map((n) => [
          n.key,
          {
            workloads: n.diagnosis!.workloads.map((w) => `${w.kind} ${w.namespace}/${w.name}: ${w.summary} | ${w.pods.map((p) => `${p.name} ${p.problems.map((x) => x.reason).join('+')}`).join(', ')}${w.podsNote ? ` | ${w.podsNote}` : ''}`),
            readyWorkloads: n.diagnosis!.readyWorkloads,
            notes: n.diagnosis!.notes,
            events: [...new Set(n.diagnosis!.events.map((e) => `${e.type} ${e.reason}`))].sort(),
          },
        ]),
    ),
  };
}

/**
 * Sets the scenario up at `initialSha` on a clean target, starts a FluxPlayer, starts the monitor for
 * `pushedSha`, pushes once the monitor has started (as the git hook does), and returns the session's outcome.
 */
export async function runScenarioAgainst(target: ScenarioTarget, run: ScenarioRun): Promise<ScenarioOutcome> {
  await clearFlux(target.admin);
  await setupScenario(target.admin, run.scenario, run.initialSha);
  const playerErrors: string[] = [];
  const player = new FluxPlayer(target.admin, run.scenario, {
    speed: run.speed ?? 5,
    onError: (e) => playerErrors.push(String((e as Error)?.message ?? e)),
  });
  await player.start();
  const ac = new AbortController();
  try {
    // The steady state first: nothing left to reconcile before the push.
    await waitFor('the player to settle on the initial commit', () => player.ticks >= 3 && player.idle, 30_000);
    const engine = startEngine({
      pushed: { sha: run.pushedSha, branch: run.scenario.repo.branch },
      repoUrl: run.scenario.repo.url,
      branch: run.scenario.repo.branch,
      config: { ...DEFAULT_CONFIG, timeout: run.timeoutSec ?? 60, ...run.config },
      kubeconfig: target.kubeconfig,
      signal: ac.signal,
      tuning: { backoffMs: 100, maxBackoffMs: 1000, stallMs: 60_000 },
    });
    const { events } = engine;
    await waitFor('the monitor to start', () => events.some((e) => e.type === 'session' || e.type === 'summary'), 60_000);
    if (events.some((e) => e.type === 'session')) pushCommit(player, run.pushedSha);
    const final = await engine.p;
    await player.stop();
    return { result: normalise(final, events), stored: await storedObjects(target.admin), final, events, playerErrors };
  } finally {
    ac.abort('scenario run ended');
    await player.stop();
  }
}

/** An ApiSimulator target: the monitor uses the simulator's non-admin user, the player its admin token. */
export async function startSimulatorTarget(opts: ApiSimulatorOptions = {}): Promise<ScenarioTarget & { sim: ApiSimulator; stop(): Promise<void> }> {
  const { sim, kubeconfig, stop } = await startSim(opts);
  const admin = new RestClient({ server: sim.url, token: sim.adminToken });
  return {
    name: 'simulator',
    sim,
    kubeconfig,
    admin,
    async stop() {
      admin.close();
      await stop();
    },
  };
}

/** A real-cluster target from the harness's admin kubeconfig (the monitor and the player both use it). */
export function kubeTarget(adminKubeconfigPath: string): ScenarioTarget {
  return { name: 'kube-apiserver', kubeconfig: adminKubeconfigPath, admin: RestClient.fromKubeconfig(adminKubeconfigPath) };
}
