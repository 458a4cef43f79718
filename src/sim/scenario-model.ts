// The data model of FluxPlayer scenarios: objects plus scripted controller behaviour per commit.
//
// Commits are numbered: 0 is the initial commit (the steady state setupScenario creates), 1 the first commit
// pushed with FluxPlayer.setBranchHead/pushCommit, 2 the next, ... Per-commit tables are keyed by that number
// as a string, with '*' for "any pushed commit" (>= 1).
import type { KubeObject } from '../core/types.js';

/** What a controller does with one change. Times are ms at speed 1. */
export interface Behavior {
  /** Before the controller starts. GitRepository: until it polls the remote (a reconcile request skips it). */
  startDelayMs?: number;
  /** How long the reconciliation takes once started. */
  durationMs?: number;
  /**
   * A scripted failure. `reason` is the Flux reason (GitOperationFailed, BuildFailed, HealthCheckFailed,
   * ReconciliationFailed, ArtifactFailed, UpgradeFailed, InstallFailed...), `message` the controller's message
   * (`{revision}`, `{url}` and `{sha}` are substituted). For a Kustomization the reason picks the step that fails
   * (ArtifactFailed: fetch, e.g. the path is gone; BuildFailed: build; ReconciliationFailed: apply;
   * HealthCheckFailed: health checks). For a HelmRelease the message is the Helm error that follows
   * "Helm upgrade failed for release ns/name with chart c@v: ".
   *
   * HelmRelease `afterRelease`: the failure comes after Helm made the release (e.g. the apiserver rejects a
   * manifest), so history gets a failed release and the HelmRelease's remediation runs
   * (spec.upgrade.remediation: rollback and retry, then Stalled RetriesExceeded). Without it the failure comes
   * before any release (a template or values schema error): Ready=False UpgradeFailed while Reconciling stays
   * True "Running 'upgrade' action…", as helm-controller leaves it.
   */
  fail?: { reason: string; message: string; afterRelease?: boolean };
  /**
   * Kustomization with health checks: how long they run (ms at speed 1), from the moment the controller starts
   * them, instead of a share of `durationMs`. kustomize-controller waits up to its timeout (spec.timeout, else the
   * interval − 30 s, at least 30 s) before HealthCheckFailed: a scenario true to it sets that timeout here.
   */
  healthMs?: number;
  /** HelmRelease: chart version (default: spec.chart.spec.version when exact, else 1.0.0; git charts 0.1.0). */
  chartVersion?: string;
}

export interface ScenarioObject {
  /** The object (without status). apiVersion may be any served Flux version: the served one is used. */
  manifest: KubeObject;
  /**
   * `namespace/name` of the Kustomization whose path contains this object: it is created/updated when that
   * Kustomization applies a commit and is listed in its inventory. Without it the object is created by
   * setupScenario (as `flux bootstrap` would) and never changed by pushes.
   */
  appliedBy?: string;
  /** The object at other commits: a JSON merge patch on `manifest`, or absent (pruned if the parent prunes). */
  commits?: Record<string, { patch?: Record<string, unknown>; absent?: boolean }>;
  /** Scripted behaviour by commit ('0', '1', ..., '*'). Missing = success with default timing. */
  behavior?: Record<string, Behavior>;
  /** Kustomization: non-Flux objects it also applies, recorded in its inventory only (never created). */
  inventory?: Array<{ apiVersion: string; kind: string; name: string; namespace?: string }>;
  /**
   * Kustomization: workloads it applies that do exist in the cluster, by commit ('0', '*'), each with the status
   * the Kubernetes controllers would write and its pods with the status the kubelet would write (no controller
   * or kubelet runs here). Applied with the Kustomization's owner labels when it applies that commit (before its
   * health checks), listed in its inventory; statuses go through /status. What the diagnosis of a failing
   * health check reads.
   */
  workloads?: Record<string, SimWorkload[]>;
}

/** A workload of a scenario with its status (observedGeneration is filled in) and its pods. */
export interface SimWorkload {
  /** apps/v1 Deployment, StatefulSet, DaemonSet or batch/v1 Job, with its namespace. */
  manifest: KubeObject;
  status: Record<string, unknown>;
  /** Pods (name, labels, containers) and their kubelet status; created or replaced in the workload's namespace. */
  pods?: Array<{ manifest: KubeObject; status: Record<string, unknown> }>;
}

export interface Scenario {
  name: string;
  description: string;
  /** The repository and branch pushes go to (pushCommit). */
  repo: { url: string; branch: string };
  /** kustomize-controller's --requeue-dependency (Flux default 30 s), ms at speed 1. */
  requeueDependencyMs?: number;
  objects: ScenarioObject[];
  /** Tekton PipelineRuns that Pipelines-as-Code starts for each push (played by TektonPlayer). */
  pipelineRuns?: ScenarioPipelineRun[];
}

/** A PipelineRun started for each pushed commit, and the statuses Tekton's controller writes on it. */
export interface ScenarioPipelineRun {
  namespace: string;
  /** Name prefix: the run is `<name>-<first 5 hex of the sha>`, like Pipelines-as-Code's generated names. */
  name: string;
  /** Created this long after the push (ms at speed 1). */
  createdAfterMs: number;
  /** The Succeeded condition Tekton writes, each `afterMs` (speed 1) after the previous step. */
  steps: Array<{ afterMs: number; status: 'Unknown' | 'True' | 'False'; reason: string; message: string }>;
}

/** Entry of a per-commit table: the exact commit, else '*' for pushed commits. */
export function atCommit<T>(table: Record<string, T> | undefined, commit: number): T | undefined {
  if (!table) return undefined;
  return table[String(commit)] ?? (commit > 0 ? table['*'] : undefined);
}

/** Lower-cased host, no credentials, no trailing `.git` or `/`: how pushes are matched to GitRepository URLs. */
export function normalizeRepoUrl(url: string): string {
  let u = url.trim();
  const scp = u.match(/^([^@/:]+@)?([^:/]+):(?!\/)(.+)$/);
  if (scp) u = `ssh://${scp[2]}/${scp[3]}`;
  try {
    const p = new URL(u);
    return `${p.hostname.toLowerCase()}${p.pathname.replace(/\.git$/, '').replace(/\/+$/, '')}`;
  } catch {
    return u.replace(/\.git$/, '').replace(/\/+$/, '').toLowerCase();
  }
}
