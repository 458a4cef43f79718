// Public entry of the simulator package: re-exports, plus one call that brings up a simulated Flux cluster.
import { randomBytes } from 'node:crypto';
import { FluxPlayer, type FluxPlayerOptions } from './flux-player.js';
import { RestClient } from './rest.js';
import type { Scenario } from './scenario-model.js';
import { pushCommit, setupScenario } from './scenarios.js';
import { ApiSimulator, type ApiSimulatorOptions } from './server.js';
import { TEKTON_PIPELINERUNS } from './resources.js';
import { TektonPlayer } from './tekton-player.js';
import { RestError } from './rest.js';

export { ApiSimulator, type ApiSimulatorOptions, type FailRule, type SimRef, type SimStats } from './server.js';
export { RestClient, RestError, optionsFromKubeconfig, resourcePath, type KubeList, type RestClientOptions } from './rest.js';
export { FluxPlayer, resolveScenario, manifestAt, type FluxPlayerOptions } from './flux-player.js';
export { FluxNotInstalledError } from './flux-client.js';
export {
  demo, happy, sourceFailure, healthCheckFailure, pipelines, large, fleetScenario, pushCommit, setupScenario, SCENARIOS, FLEET_URL, PLATFORM_URL,
  type FleetOptions,
} from './scenarios.js';
export type { Behavior, Scenario, ScenarioObject, ScenarioPipelineRun } from './scenario-model.js';
export { TektonPlayer } from './tekton-player.js';
export type { FluxApiMode } from './resources.js';

/** A random 40-hex commit sha (for demos without a real repository). */
export function randomSha(): string {
  return randomBytes(20).toString('hex');
}

export interface SimulatedCluster {
  sim: ApiSimulator;
  /** Admin client (not subject to RBAC or fault injection), used by the player. */
  client: RestClient;
  player: FluxPlayer;
  /** The commit the scenario's objects are at after setup. */
  initialSha: string;
  /** Moves the scenario's branch to `sha` (a push); returns the commit number. */
  push(sha: string): number;
  /** Stops the player, the client and the server. */
  stop(): Promise<void>;
}

/**
 * Starts an ApiSimulator, sets the scenario up at `initialSha` (random by default) and starts a FluxPlayer on
 * it (and a TektonPlayer when the scenario has PipelineRuns: the simulator then serves Tekton's PipelineRuns).
 * Point the monitor at `sim.kubeconfig()` / `sim.writeKubeconfig(path)` (the non-admin user).
 */
export async function startSimulatedCluster(opts: {
  scenario: Scenario;
  initialSha?: string;
  sim?: ApiSimulatorOptions;
  player?: FluxPlayerOptions;
}): Promise<SimulatedCluster> {
  const pipelineRuns = opts.scenario.pipelineRuns ?? [];
  const sim = new ApiSimulator({
    ...opts.sim,
    customResources: [...(opts.sim?.customResources ?? []), ...(pipelineRuns.length ? [TEKTON_PIPELINERUNS] : [])],
  });
  await sim.start();
  const client = new RestClient({ server: sim.url, token: sim.adminToken });
  const initialSha = opts.initialSha ?? randomSha();
  try {
    await setupScenario(client, opts.scenario, initialSha);
    for (const ns of new Set(pipelineRuns.map((r) => r.namespace))) {
      await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch((e) => {
        if (!(e instanceof RestError && e.status === 409)) throw e;
      });
    }
    const player = new FluxPlayer(client, opts.scenario, opts.player);
    await player.start();
    const tekton = new TektonPlayer(client, pipelineRuns, opts.player?.speed);
    return {
      sim, client, player, initialSha,
      push: (sha) => {
        tekton.push(sha);
        return pushCommit(player, sha);
      },
      stop: async () => {
        tekton.stop();
        await player.stop();
        client.close();
        await sim.stop();
      },
    };
  } catch (e) {
    client.close();
    await sim.stop();
    throw e;
  }
}
