// Plays what Pipelines-as-Code and Tekton do after a push, for the demo: a PipelineRun per scenario entry,
// labelled with the pushed commit (`pipelinesascode.tekton.dev/sha`), whose Succeeded condition then moves as
// Tekton's controller writes it (tektoncd/pipeline v1.3.0: InitializeConditions sets Unknown/Started,
// GetPipelineConditionStatus Unknown/Running "Tasks Completed: …", then True/Succeeded or False/Failed; Knative's
// PostProcessReconcile sets status.observedGeneration). Times are scaled by `speed`.
import type { KubeObject } from '../core/types.js';
import type { RestClient } from './rest.js';
import type { ScenarioPipelineRun } from './scenario-model.js';

const runs = (ns: string) => `/apis/tekton.dev/v1/namespaces/${encodeURIComponent(ns)}/pipelineruns`;

export class TektonPlayer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly client: RestClient,
    private readonly pipelineRuns: ScenarioPipelineRun[],
    private readonly speed = 1,
  ) {}

  /** A push of `sha`: each PipelineRun of the scenario is created, then walks its steps. */
  push(sha: string): void {
    for (const pr of this.pipelineRuns) this.after(pr.createdAfterMs, () => this.play(pr, sha));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private after(ms: number, fn: () => Promise<void>): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn().catch(() => undefined); // the demo ends while a write is in flight: nothing to do
    }, ms / this.speed);
    this.timers.add(t);
  }

  private async play(pr: ScenarioPipelineRun, sha: string): Promise<void> {
    const name = `${pr.name}-${sha.slice(0, 5)}`;
    const created = await this.client.create<KubeObject>(runs(pr.namespace), {
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      metadata: {
        name,
        namespace: pr.namespace,
        labels: { 'pipelinesascode.tekton.dev/sha': sha, 'pipelinesascode.tekton.dev/event-type': 'push', 'tekton.dev/pipeline': pr.name },
      },
      spec: { pipelineRef: { name: pr.name } },
    });
    const startTime = new Date().toISOString();
    let i = 0;
    const next = () => {
      const step = pr.steps[i++];
      if (!step) return;
      this.after(step.afterMs, async () => {
        const now = new Date().toISOString();
        const cur = await this.client.get<KubeObject>(`${runs(pr.namespace)}/${encodeURIComponent(name)}`);
        await this.client.replaceStatus(`${runs(pr.namespace)}/${encodeURIComponent(name)}`, {
          ...cur,
          status: {
            observedGeneration: created.metadata.generation ?? 1,
            startTime,
            ...(step.status === 'Unknown' ? {} : { completionTime: now }),
            conditions: [{ type: 'Succeeded', status: step.status, reason: step.reason, message: step.message, lastTransitionTime: now }],
          },
        });
        next();
      });
    };
    next();
  }
}
