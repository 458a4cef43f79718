// The simulator's Flux player calibrated against the real controllers: for each conformance case recorded
// against the real source-, kustomize- and helm-controller (test/fixtures/transcripts/), the player plays the
// same objects through the same pushes, and every object must go through the same sequence of statuses as the
// real controllers wrote: Ready / Reconciling / Stalled (status, reason and message shape) and which commit each
// revision field names. The real sequence is derived here from the transcript file itself.
//
// What is compared, per object and per push (from the status the object had when the commit was pushed to the
// last one before the next push), consecutive duplicates collapsed:
// - Ready, Reconciling, Stalled: status, reason and message. Messages are normalized: commits become <c0>
//   (the initial commit), <c1>… (the pushes), the case namespace <ns>, Go durations after "after" <d>; a
//   failure's message (Ready=False) is kept up to its first ": " (what follows is the tool's error output, scripted
//   per case), and "dependency 'x' is not ready" / "… revision is not up to date" are one shape (which one the real
//   controller wrote depends on its cache);
// - the revision fields, as the commit they name: artifact.revision (sources, HelmChart),
//   lastAttemptedRevision and lastAppliedRevision (Kustomization), lastAttemptedRevision and history[0]
//   (chart version and release status) of a HelmRelease.
// Timings are not compared.
//
// How the cases are played: the objects are the transcript's own (spec as recorded at the first push), set up at
// the transcript's initial commit; the pushes are the transcript's commits; the failures are scripted per case
// (which object fails at which commit, and how). The last push was monitored with auto_reconcile in the real
// run: here too, the GitRepository gets a reconcile request right after the push, and a Kustomization waiting
// on its dependencies gets one once they are Ready at the pushed commit (what flux-monitor does).
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Condition, KubeObject } from '../../src/core/types.js';
import { FluxPlayer } from '../../src/sim/flux-player.js';
import { RestClient } from '../../src/sim/rest.js';
import type { Behavior, Scenario, ScenarioObject } from '../../src/sim/scenario-model.js';
import { pushCommit, setupScenario } from '../../src/sim/scenarios.js';
import { ApiSimulator } from '../../src/sim/server.js';
import type { Transcript } from '../conformance/recorder.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function loadTranscript(name: string): Transcript {
  return JSON.parse(readFileSync(new URL(`../fixtures/transcripts/${name}.json`, import.meta.url), 'utf8')) as Transcript;
}

// ------------------------------------------------------------------------------------------------ the cases

interface CalibrationCase {
  /** The transcript (test/fixtures/transcripts/<name>.json). */
  name: string;
  /** What the controllers do with the pushed commits: behaviour by `Kind/name`, keyed by commit number. */
  behavior?: Record<string, Record<string, Behavior>>;
  /**
   * Statuses the real run may add at the end of an object's sequence, depending on the timing of the
   * controllers' watch events (a run shows them or not): the player does not play them.
   */
  raceTail?: Record<string, RegExp>;
}

const CHART = { chartVersion: '1.0.0' };

const CASES: CalibrationCase[] = [
  { name: 'chain-success' },
  {
    name: 'build-error',
    behavior: {
      'Kustomization/infra': {
        '1': { fail: { reason: 'BuildFailed', message: "kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'missing.yaml': open /tmp/kustomization-…/infra/missing.yaml: no such file or directory'" } },
      },
    },
  },
  {
    name: 'path-removed',
    behavior: {
      'Kustomization/apps': { '1': { fail: { reason: 'ArtifactFailed', message: 'kustomization path not found: stat /tmp/kustomization-…/apps: no such file or directory' } } },
    },
  },
  {
    name: 'health-check',
    behavior: {
      'Kustomization/apps': { '1': { fail: { reason: 'HealthCheckFailed', message: "timeout waiting for: [Deployment/c-health-check/web status: 'InProgress']" } } },
    },
  },
  {
    name: 'dependency-failed',
    behavior: {
      'Kustomization/infra': {
        '1': { fail: { reason: 'ReconciliationFailed', message: 'ConfigMap/c-dependency-failed/infra-config dry-run failed: failed to create typed patch object (c-dependency-failed/infra-config; /v1, Kind=ConfigMap): .data: expected map, got &{[not a map] [] false}' } },
      },
    },
  },
  // The upstream Kustomization is suspended in the recorded spec.
  { name: 'suspended-upstream' },
  {
    name: 'source-fetch-failed',
    behavior: {
      'GitRepository/repo': {
        '1': { fail: { reason: 'GitOperationFailed', message: "failed to checkout and determine revision: unable to list remote for '{url}': unexpected client error: status code: 503" } },
      },
    },
  },
  {
    name: 'helm-template-error',
    behavior: {
      'HelmRelease/web': {
        '0': CHART,
        '1': { ...CHART, fail: { reason: 'UpgradeFailed', message: 'execution error at (web/templates/configmap.yaml:1:4): the chart refuses these values' } },
      },
    },
  },
  {
    name: 'helm-stalled-then-fixed',
    behavior: {
      'HelmRelease/web': {
        '0': CHART,
        // The apiserver rejects a ConfigMap of the release: Helm made the release, remediation rolls it back.
        '1': { ...CHART, fail: { reason: 'UpgradeFailed', message: 'failed to create resource: ConfigMap "web-Bad_Name" is invalid', afterRelease: true } },
        '2': CHART,
      },
    },
    // After the fix, helm-controller may reconcile the HelmRelease a second time, for nothing: the HelmChart's
    // Ready=True and its new artifact each enqueue a HelmRelease that is neither Ready nor Reconciling, and the
    // second event may come while the first reconciliation runs (then Reconciling=True "Fulfilling
    // prerequisites" over Ready=True, then Reconciling goes again).
    raceTail: { 'HelmRelease/web': /^Ready=True\/UpgradeSucceeded .* \| Reconciling=(True\/Progressing "Fulfilling prerequisites"|-) \|/ },
  },
];

// ------------------------------------------------------------------------------------------------ sequences

interface Version {
  obj: KubeObject;
  /** The push this version was written after (0: before the first push). */
  segment: number;
}

/** Labels of the commits of a case: the initial commit is c0, push i is c<i>. */
type Commits = Array<{ sha: string; label: string }>;

function label(rev: unknown, commits: Commits): string {
  if (typeof rev !== 'string' || rev === '') return '-';
  for (const c of commits) if (rev.includes(c.sha) || rev.includes(`+${c.sha.slice(0, 12)}`)) return c.label;
  return 'other';
}

function normalize(text: string, commits: Commits, ns: string): string {
  let out = text;
  for (const c of commits) out = out.split(c.sha).join(`<${c.label}>`).split(`+${c.sha.slice(0, 12)}`).join(`+<${c.label}>`);
  return out.split(ns).join('<ns>').replace(/\bafter \d+(\.\d+)?(ns|µs|us|ms|s|m\d+(\.\d+)?s|h\d+m\d+(\.\d+)?s)/g, 'after <d>');
}

function condition(o: KubeObject, type: string, commits: Commits, ns: string): string {
  const c = ((o.status?.conditions ?? []) as Condition[]).find((x) => x.type === type);
  if (!c) return `${type}=-`;
  let msg = normalize(c.message ?? '', commits, ns);
  if (type === 'Ready' && c.status === 'False') {
    if (c.reason === 'DependencyNotReady') msg = msg.replace(/ (is not ready|revision is not up to date)$/, ' …');
    else if (msg.includes(': ')) msg = `${msg.slice(0, msg.indexOf(': '))}: …`;
  }
  return `${type}=${c.status}/${c.reason} "${msg}"`;
}

function revisions(o: KubeObject, commits: Commits): string {
  const st = o.status ?? {};
  switch (o.kind) {
    case 'Kustomization':
      return `lastAttemptedRevision=${label(st.lastAttemptedRevision, commits)} lastAppliedRevision=${label(st.lastAppliedRevision, commits)}`;
    case 'HelmRelease': {
      const h = st.history?.[0];
      return `lastAttemptedRevision=${label(st.lastAttemptedRevision, commits)} history[0]=${h ? `${label(h.chartVersion, commits)}:${h.status}` : '-'}`;
    }
    default:
      return `artifact=${label(st.artifact?.revision, commits)}`;
  }
}

function signature(o: KubeObject, commits: Commits, ns: string): string {
  return [condition(o, 'Ready', commits, ns), condition(o, 'Reconciling', commits, ns), condition(o, 'Stalled', commits, ns), revisions(o, commits)].join(' | ');
}

/**
 * Per push (1-based) and per `Kind/name`: the collapsed statuses from the one the object had when the commit
 * was pushed to the last one before the next push.
 */
function sequences(versions: Version[], pushes: number, commits: Commits, ns: string): Array<Record<string, string[]>> {
  const out: Array<Record<string, string[]>> = [];
  for (let p = 1; p <= pushes; p++) {
    const seqs: Record<string, string[]> = {};
    const atPush = new Map<string, KubeObject>();
    for (const v of versions) if (v.segment < p) atPush.set(`${v.obj.kind}/${v.obj.metadata.name}`, v.obj);
    const add = (key: string, o: KubeObject) => {
      const s = signature(o, commits, ns);
      const list = (seqs[key] ??= []);
      if (list.at(-1) !== s) list.push(s);
    };
    for (const [key, o] of atPush) add(key, o);
    for (const v of versions) if (v.segment === p) add(`${v.obj.kind}/${v.obj.metadata.name}`, v.obj);
    out.push(seqs);
  }
  return out;
}

function isFlux(o: KubeObject): boolean {
  return /\.toolkit\.fluxcd\.io\//.test(o.apiVersion);
}

/** The real controllers' versions, in the order the apiserver wrote them, by push. */
function realVersions(t: Transcript): Version[] {
  const rv = (e: Transcript['entries'][number]) => Number(e.object.metadata.resourceVersion);
  return t.entries
    .filter((e) => e.type !== 'DELETED' && isFlux(e.object))
    .sort((a, b) => rv(a) - rv(b))
    .map((e) => ({ obj: e.object, segment: t.pushes.filter((p) => p.t <= e.t).length }));
}

function commitsOf(t: Transcript): Commits {
  const first = t.pushes[0]!.t;
  const before = t.entries.filter((e) => e.t < first && e.object.kind === 'GitRepository' && e.object.status?.artifact?.revision);
  const initial = String(before.at(-1)?.object.status?.artifact?.revision ?? '').replace(/^.*sha1:/, '');
  if (!/^[0-9a-f]{40}$/.test(initial)) throw new Error(`${t.case}: no initial commit in the transcript`);
  return [{ sha: initial, label: 'c0' }, ...t.pushes.map((p, i) => ({ sha: p.sha, label: `c${i + 1}` }))];
}

// ------------------------------------------------------------------------------------------------ playing a case

/** The case's Flux objects as the test created them (spec as recorded at the first push; HelmCharts are helm-controller's). */
function scenarioOf(t: Transcript, c: CalibrationCase): Scenario {
  const first = t.pushes[0]!.t;
  const objects = new Map<string, ScenarioObject>();
  for (const e of t.entries) {
    const o = e.object;
    if (e.t >= first || !isFlux(o) || o.kind === 'HelmChart') continue;
    const key = `${o.kind}/${o.metadata.name}`;
    objects.set(key, {
      manifest: { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace }, spec: structuredClone(o.spec) },
      behavior: c.behavior?.[key],
    });
  }
  return { name: t.case, description: t.description, repo: { url: t.repoUrl, branch: t.branch }, requeueDependencyMs: 5000, objects: [...objects.values()] };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function play(t: Transcript, c: CalibrationCase, commits: Commits): Promise<Version[]> {
  const sim = new ApiSimulator();
  await sim.start();
  cleanups.push(() => sim.stop());
  const client = RestClient.fromKubeconfigString(sim.kubeconfig({ admin: true }));
  cleanups.push(() => client.close());
  const scenario = scenarioOf(t, c);
  await setupScenario(client, scenario, commits[0]!.sha);

  const versions: Version[] = [];
  let segment = 0;
  let lastWrite = Date.now();
  for (const o of sim.list()) if (isFlux(o)) versions.push({ obj: structuredClone(o), segment });
  sim.store.subscribe((e) => {
    if (e.type === 'DELETED' || !e.resource.group.endsWith('.toolkit.fluxcd.io')) return; // (stored objects carry no apiVersion)
    versions.push({ obj: structuredClone(e.obj), segment });
    lastWrite = Date.now();
  });
  const player = new FluxPlayer(client, scenario, { speed: 20, tickMs: 10, events: false });
  cleanups.push(() => player.stop());
  await player.start();

  const ns = t.namespace;
  const path = (kind: string, name: string) => {
    const plural = { GitRepository: 'source.toolkit.fluxcd.io/v1/namespaces/%/gitrepositories', Kustomization: 'kustomize.toolkit.fluxcd.io/v1/namespaces/%/kustomizations' }[kind];
    return `/apis/${plural!.replace('%', ns)}/${name}`;
  };
  const request = (kind: string, name: string) =>
    client.mergePatch(path(kind, name), { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': new Date().toISOString() } } });
  // Waits until the player is done with the push (no job, nothing written for a while), doing what the monitor does.
  const settle = async (monitored: boolean, pushed: string) => {
    const nudged = new Set<string>();
    const end = Date.now() + 20_000;
    for (;;) {
      if (monitored) {
        const all = sim.list('Kustomization');
        const byName = new Map(all.map((k) => [k.metadata.name, k]));
        for (const k of all) {
          const ready = ((k.status?.conditions ?? []) as Condition[]).find((x) => x.type === 'Ready');
          if (nudged.has(k.metadata.name) || ready?.reason !== 'DependencyNotReady') continue;
          const deps = ((k.spec?.dependsOn ?? []) as Array<{ name: string }>).map((d) => byName.get(d.name));
          const depsReady = deps.every((d) => d && String(d.status?.lastAppliedRevision ?? '').includes(pushed)
            && ((d.status?.conditions ?? []) as Condition[]).some((x) => x.type === 'Ready' && x.status === 'True'));
          if (!depsReady) continue;
          nudged.add(k.metadata.name);
          await request('Kustomization', k.metadata.name);
        }
      }
      if (player.idle && Date.now() - lastWrite > 500) return;
      if (Date.now() > end) throw new Error(`${t.case}: the player did not settle`);
      await sleep(20);
    }
  };

  for (let i = 0; i < t.pushes.length; i++) {
    const monitored = i === t.pushes.length - 1;
    segment = i + 1;
    lastWrite = Date.now();
    pushCommit(player, t.pushes[i]!.sha);
    if (monitored) {
      for (const o of sim.list('GitRepository')) await request('GitRepository', o.metadata.name);
    }
    await settle(monitored, t.pushes[i]!.sha);
  }
  await player.stop();
  expect(player.errors, String(player.lastError)).toBe(0);
  return versions;
}

// ------------------------------------------------------------------------------------------------ the check

describe('the Flux player plays what the real controllers wrote', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const t = loadTranscript(c.name);
    const commits = commitsOf(t);
    const real = sequences(realVersions(t), t.pushes.length, commits, t.namespace);
    const played = sequences(await play(t, c, commits), t.pushes.length, commits, t.namespace);
    for (let p = 0; p < t.pushes.length; p++) {
      const keys = [...new Set([...Object.keys(real[p]!), ...Object.keys(played[p]!)])].sort();
      for (const key of keys) {
        let want = real[p]![key] ?? [];
        const got = played[p]![key] ?? [];
        const race = p === t.pushes.length - 1 ? c.raceTail?.[key] : undefined;
        if (race && want.length > got.length && want.slice(got.length).every((s) => race.test(s))) want = want.slice(0, got.length);
        expect(got, `${c.name}: ${key} after push ${p + 1} (${t.pushes[p]!.subject})`).toEqual(want);
      }
    }
  });
});
