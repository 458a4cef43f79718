// (g) Against the real Flux controllers (the conformance harness: kube-apiserver, etcd, source-, kustomize- and
// helm-controller built from their Go modules, Flux's default 30 s dependency requeue): push → verdict through a
// three-level dependsOn chain, with and without auto_reconcile asking dependents to reconcile as soon as their
// dependencies are Ready with the pushed commit, beside Flux alone (`kubectl wait` for the last level to apply
// the commit, started at the push). Also how long after the controllers' last status write the verdict came.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFluxEnv, apply, WorkRepo, type FluxEnv } from '../test/conformance/env.js';
import { configMap, gitRepository, kustomization, kustomizationYaml, namespace } from '../test/conformance/cases.js';
import { Recorder } from '../test/conformance/recorder.js';
import { runMonitor } from '../src/engine/run.js';
import { DEFAULT_CONFIG } from '../src/core/types.js';
import { KUBECTL } from './latency.js';

const execFileP = promisify(execFile);

export interface FluxRun {
  mode: 'nudge' | 'flux-alone';
  pushToVerdictMs: number;
  /** kubectl wait for the last level's lastAppliedRevision, started at the push. */
  kubectlMs?: number;
  /** Verdict time minus the time of the controllers' last status write before it (as the recorder saw them). */
  decisionMs: number;
  verdict: string;
}

export interface FluxBenchResult {
  runs: FluxRun[];
  controllers: Record<string, string>;
  kubectlProblem?: string;
}

const LEVELS = ['a', 'b', 'c'] as const;

function files(message: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of LEVELS) {
    out[`${l}/kustomization.yaml`] = kustomizationYaml(['config.yaml']);
    out[`${l}/config.yaml`] = configMap(`${l}-config`, { message });
  }
  return out;
}

async function waitReady(env: FluxEnv, ns: string, sha: string): Promise<void> {
  const end = Date.now() + 180_000;
  for (;;) {
    const r = await env.cluster.request('GET', `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${ns}/kustomizations/c`);
    if (String(r.body?.status?.lastAppliedRevision ?? '').endsWith(sha)) return;
    if (Date.now() > end) throw new Error('bench (g): the chain did not become ready');
    await new Promise((res) => setTimeout(res, 200));
  }
}

export async function benchFlux(runsPerMode: number): Promise<FluxBenchResult> {
  const env = await startFluxEnv({ requeueDependency: '30s' });
  const result: FluxBenchResult = { runs: [], controllers: { 'source-controller': 'v1.9.6', 'kustomize-controller': 'v1.9.6', 'helm-controller': 'v1.6.2' } };
  try {
    const ns = 'bench-chain';
    await apply(env.cluster, [namespace(ns)]);
    const repo = await WorkRepo.create(env.gitServer, 'bench-chain');
    let sha = await repo.commit('initial', files('0'));
    await repo.push();
    await apply(env.cluster, [
      gitRepository(ns, repo.url),
      kustomization(ns, 'a', './a'),
      kustomization(ns, 'b', './b', { dependsOn: ['a'] }),
      kustomization(ns, 'c', './c', { dependsOn: ['b'] }),
    ]);
    await waitReady(env, ns, sha);
    let kubectlOk = true;
    try {
      await execFileP(KUBECTL, ['version', '--client']);
    } catch (err) {
      kubectlOk = false;
      result.kubectlProblem = `kubectl not usable: ${String(err).split('\n')[0]}`;
    }
    let n = 1;
    for (let i = 0; i < runsPerMode; i++) {
      for (const mode of ['nudge', 'flux-alone'] as const) {
        const recorder = new Recorder(env.kubeconfig, ns, { git: env.gitServer.url, storage: env.flux.storageUrl });
        await recorder.start();
        sha = await repo.commit(`change ${n}`, files(String(n++)));
        const t0 = performance.now();
        const r0 = recorder.now();
        await repo.push();
        const kubectl = kubectlOk
          ? execFileP(KUBECTL, ['--kubeconfig', env.kubeconfig, '-n', ns, 'wait', 'kustomization/c', `--for=jsonpath={.status.lastAppliedRevision}=main@sha1:${sha}`, '--timeout=300s'], { timeout: 320_000 }).then(() => performance.now() - t0)
          : undefined;
        const state = await runMonitor({
          pushed: { sha, branch: 'main' },
          repoUrl: repo.url,
          branch: 'main',
          kubeconfig: env.kubeconfig,
          config: { ...DEFAULT_CONFIG, timeout: 300, auto_reconcile: true },
          tuning: { nudgeDependents: mode === 'nudge' },
        });
        const pushToVerdictMs = performance.now() - t0;
        const verdictAt = recorder.now();
        const lastWrite = Math.max(r0, ...recorder.entries.filter((e) => e.t <= verdictAt && e.object.kind !== 'Deployment').map((e) => e.t));
        recorder.stop();
        const kubectlMs = kubectl ? await kubectl : undefined;
        result.runs.push({ mode, pushToVerdictMs, kubectlMs, decisionMs: verdictAt - lastWrite, verdict: state.verdict ?? 'none' });
        await waitReady(env, ns, sha);
      }
    }
    await repo.remove();
  } finally {
    await env.stop();
  }
  return result;
}
