// The scenario runs compared between the ApiSimulator and a real kube-apiserver (test/integration/sim-vs-real).
import type { Verdict } from '../../src/core/types.js';
import { demo, happy, healthCheckFailure, sourceFailure } from '../../src/sim/scenarios.js';
import type { ScenarioRun } from './run-scenario.js';

export const INITIAL_SHA = '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567';
export const PUSHED_SHA = 'f00dfeed0123456789abcdef0123456789abcdef';

export interface ComparedRun {
  title: string;
  run: ScenarioRun;
  /** The verdict the scenario is written to end with (checked on the simulator, then compared). */
  verdict: Verdict;
  /** The workloads the session's diagnoses name (checked on the simulator, then compared), by key. */
  diagnoses?: Record<string, string[]>;
}

const base = { initialSha: INITIAL_SHA, pushedSha: PUSHED_SHA, speed: 5 };

export const COMPARED_RUNS: ComparedRun[] = [
  { title: 'demo: podinfo upgrades, redis fails, monitoring waits on a broken monitoring-crds', run: { ...base, scenario: demo }, verdict: 'failed' },
  { title: 'happy, with auto_reconcile', run: { ...base, scenario: happy, config: { auto_reconcile: true } }, verdict: 'success' },
  { title: 'the source cannot fetch the pushed commit', run: { ...base, scenario: sourceFailure }, verdict: 'failed' },
  {
    title: 'infra-controllers fails its health checks; dependants wait',
    run: { ...base, scenario: healthCheckFailure },
    verdict: 'failed',
    // The player rolls ingress-nginx's controller to an image tag that does not exist (src/sim/scenarios.ts).
    diagnoses: {
      'Kustomization/flux-system/infra-controllers': [
        'Deployment ingress-nginx/ingress-nginx-controller: 1/2 updated, 2/2 ready, 2/2 available, 2 old replicas; generation 2 observed | ingress-nginx-controller-5c8d7f9b4-x2x8k ImagePullBackOff',
      ],
    },
  },
];
