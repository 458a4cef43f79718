// The same scenarios, player and monitor settings against the ApiSimulator and a real kube-apiserver: the
// normalised results must be equal, or the simulator (which most other tests rely on) is not telling the truth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPARED_RUNS } from '../scenarios/catalog.js';
import { kubeTarget, runScenarioAgainst, startSimulatorTarget, type ScenarioTarget } from '../scenarios/run-scenario.js';
import { startCluster, type KubeCluster } from './support.js';

let cluster: KubeCluster;
let kube: ScenarioTarget;
let sim: Awaited<ReturnType<typeof startSimulatorTarget>>;

beforeAll(async () => {
  cluster = await startCluster();
  kube = kubeTarget(cluster.adminKubeconfigPath);
  sim = await startSimulatorTarget();
});
afterAll(async () => {
  kube?.admin.close();
  await sim?.stop();
  await cluster?.stop();
});

describe('the same scenario against the simulator and a real kube-apiserver', () => {
  for (const { title, run, verdict, diagnoses } of COMPARED_RUNS) {
    it(title, async () => {
      const onSim = await runScenarioAgainst(sim, run);
      const onKube = await runScenarioAgainst(kube, run);
      expect(onSim.result.verdict, onSim.final.verdictMessage).toBe(verdict);
      // The workloads and pods the player writes (kubelet-shaped statuses) are accepted by the real apiserver
      // and diagnosed the same way on both.
      expect(Object.fromEntries(Object.entries(onSim.result.diagnoses).map(([k, d]) => [k, d.workloads]))).toEqual(diagnoses ?? {});
      expect(onKube.result).toEqual(onSim.result);
      expect(onKube.stored).toEqual(onSim.stored);
      expect(onKube.playerErrors).toEqual([]);
      expect(onSim.playerErrors).toEqual([]);
    });
  }
});
