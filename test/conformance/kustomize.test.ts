// Conformance: flux-monitor against the real source- and kustomize-controller, on everyday pushes and
// breakages. Each case pushes real commits to a git server on loopback, lets the real controllers act, and
// checks the verdict, the exit code and every object's phase, reason and message against what the controllers
// wrote (recorded independently). Each asserts that the verdict came from Flux's state, not from the timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/core/types.js';
import { configMap, deployment, gitRepository, kustomization, kustomizationYaml } from './cases.js';
import { mergePatch, WorkRepo, writeDeploymentStatus } from './env.js';
import { waitDue } from '../../src/core/waits.js';
import type { MonitorEvent } from '../../src/core/types.js';
import { git } from '../harness/git-server.js';
import { decidedByFlux, fluxSuite, waitUntil, type Case } from './support.js';

const suite = fluxSuite({ beforeAll, afterAll });
const withCase = suite.withCase;

/** infra (a ConfigMap) ← apps (a ConfigMap), apps dependsOn infra. */
function twoLevelFiles(message: string): Record<string, string> {
  return {
    'infra/kustomization.yaml': kustomizationYaml(['config.yaml']),
    'infra/config.yaml': configMap('infra-config', { message }),
    'apps/kustomization.yaml': kustomizationYaml(['config.yaml']),
    'apps/config.yaml': configMap('apps-config', { message }),
  };
}

function twoLevel(opts: { infraSuspended?: boolean; wait?: boolean; timeout?: string } = {}) {
  return (ns: string, url: string) => [
    gitRepository(ns, url),
    kustomization(ns, 'infra', './infra', { suspend: opts.infraSuspended, wait: opts.wait, timeout: opts.timeout }),
    kustomization(ns, 'apps', './apps', { dependsOn: ['infra'], wait: opts.wait, timeout: opts.timeout }),
  ];
}

/**
 * The chain with a GitRepository that fetches only when asked (auto_reconcile) or at creation, Ready at its first
 * commit; then my push A, which Flux has not fetched: what happens next (a teammate's push, a force push) reaches
 * Flux before A does.
 */
async function pushAOnIdleChain(c: Case): Promise<string> {
  const first = await c.setup(twoLevelFiles('one'), (ns, url) => [
    gitRepository(ns, url, { interval: '1h' }),
    kustomization(ns, 'infra', './infra'),
    kustomization(ns, 'apps', './apps', { dependsOn: ['infra'] }),
  ]);
  await c.waitReady([['GitRepository', 'repo'], ['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
  return c.push('A: change apps', { 'apps/config.yaml': configMap('apps-config', { message: 'A' }) });
}

describe('real Flux: Kustomizations', () => {
  it('success across a dependsOn chain', () =>
    withCase('chain-success', 'a push that changes both levels of a dependsOn chain; both apply it', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel());
      await c.waitReady([['GitRepository', 'repo'], ['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const sha = await c.push('change both levels', { 'infra/config.yaml': configMap('infra-config', { message: 'two' }), 'apps/config.yaml': configMap('apps-config', { message: 'two' }) });
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('success');
      expect(run.summary.exitCode).toBe(EXIT_CODES.success);
      for (const [kind, name] of [['GitRepository', 'repo'], ['Kustomization', 'infra'], ['Kustomization', 'apps']] as const) {
        const n = c.node(run, kind, name);
        expect(n.phase, `${kind}/${name}`).toBe('Ready');
        expect(n.revision).toContain(sha);
        // What the controller wrote: Ready=True for the pushed commit.
        expect(c.ready(kind, name, sha)).toBe(true);
      }
    }));

  it('a kustomize build error fails the Kustomization and blocks its dependent', () =>
    withCase('build-error', 'a push whose kustomization.yaml names a file that does not exist', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel());
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const sha = await c.push('break the infra build', { 'infra/kustomization.yaml': kustomizationYaml(['config.yaml', 'missing.yaml']) });
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('failed');
      expect(run.summary.exitCode).toBe(EXIT_CODES.failed);
      const infra = c.node(run, 'Kustomization', 'infra');
      expect(infra.phase).toBe('Failed');
      expect(infra.reason).toBe('BuildFailed');
      const ready = c.latest('Kustomization', 'infra').status.conditions.find((x: any) => x.type === 'Ready');
      expect(ready.reason).toBe('BuildFailed');
      expect(infra.message).toContain('missing.yaml');
      const apps = c.node(run, 'Kustomization', 'apps');
      expect(apps.settled).toBe(true);
      expect(['Waiting', 'Pending']).toContain(apps.phase);
    }));

  it('a resource the apiserver rejects at dry-run fails the Kustomization', () =>
    withCase('dry-run-rejected', 'a push that adds a ConfigMap with an invalid name', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel());
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const sha = await c.push('add an invalid ConfigMap', {
        'apps/kustomization.yaml': kustomizationYaml(['config.yaml', 'bad.yaml']),
        'apps/bad.yaml': configMap('Bad_Name', { a: 'b' }),
      });
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('failed');
      const apps = c.node(run, 'Kustomization', 'apps');
      expect(apps.phase).toBe('Failed');
      expect(apps.reason).toBe('ReconciliationFailed');
      expect(apps.message).toMatch(/Bad_Name|invalid/i);
      expect(c.node(run, 'Kustomization', 'infra').phase).toBe('Ready');
    }));

  it('a Kustomization whose path the commit removed fails at once, with the controller message', () =>
    withCase('path-removed', 'a push that deletes the directory a Kustomization applies', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel());
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const sha = await c.push('remove apps/', { 'apps/kustomization.yaml': null, 'apps/config.yaml': null, 'infra/config.yaml': configMap('infra-config', { message: 'two' }) });
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('failed');
      const apps = c.node(run, 'Kustomization', 'apps');
      expect(apps.phase).toBe('Failed');
      expect(apps.reason).toBe('ArtifactFailed');
      expect(apps.message).toContain('kustomization path not found');
      // The controller did not record the attempt: lastAttemptedRevision stays on the previous commit.
      expect(c.latest('Kustomization', 'apps').status.lastAttemptedRevision).toContain(first);
      expect(c.node(run, 'Kustomization', 'infra').phase).toBe('Ready');
    }));

  it('a health check that never passes fails the Kustomization (no kube-controller-manager runs)', () =>
    withCase('health-check', 'a push that adds a Deployment to a Kustomization with wait: true', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel({ wait: true, timeout: '15s' }));
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const sha = await c.push('add a Deployment', {
        'apps/kustomization.yaml': kustomizationYaml(['config.yaml', 'web.yaml']),
        'apps/web.yaml': deployment('web'),
      });
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('failed');
      const apps = c.node(run, 'Kustomization', 'apps');
      expect(apps.phase).toBe('Failed');
      expect(apps.reason).toBe('HealthCheckFailed');
      expect(apps.message).toContain('Deployment');
      // The diagnosis names what the health check waits for: Deployment web, which nothing rolls out (no
      // kube-controller-manager runs, so it never gets a status, a ReplicaSet or pods), and says so.
      const d = apps.diagnosis;
      expect(d, 'a diagnosis of the failing health check').toBeDefined();
      expect(run.events.some((e) => e.type === 'diagnosis' && e.key === apps.key)).toBe(true);
      const web = d!.workloads.find((w) => w.kind === 'Deployment' && w.name === 'web');
      expect(web, `Deployment web in ${JSON.stringify(d)}`).toBeDefined();
      expect(web!.namespace).toBe(c.ns);
      expect(web!.ready).toBe(false);
      expect(web!.rollout).toEqual({ desired: 1, updated: 0, ready: 0, available: 0, generation: 1 });
      expect(web!.summary).toBe('0/1 updated, 0/1 ready, 0/1 available; generation 1 not observed: no Deployment controller has acted on it (is kube-controller-manager running?)');
      expect(web!.pods).toEqual([]);
      expect(web!.podsNote).toBe('no pods: nothing has created them (no controller acts on the workload)');
      expect(d!.notes).toEqual([]);
      // kustomize-controller's own Events of the pushed revision (annotated kustomize.toolkit.fluxcd.io/revision).
      expect(d!.events.length).toBeGreaterThan(0);
      for (const e of d!.events) if (e.revision) expect(e.revision).toContain(sha);
      expect(d!.events.some((e) => e.type === 'Warning' && e.reason === 'HealthCheckFailed' && e.revision?.includes(sha))).toBe(true);
    }));

  it('a failing dependency blocks its dependent: failed, not timed out', () =>
    withCase('dependency-failed', 'a push that breaks the upstream of a dependsOn chain while changing the downstream', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel());
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const sha = await c.push('break infra, change apps', {
        'infra/config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: infra-config\ndata: [not, a, map]\n',
        'apps/config.yaml': configMap('apps-config', { message: 'two' }),
      });
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('failed');
      expect(c.node(run, 'Kustomization', 'infra').phase).toBe('Failed');
      const apps = c.node(run, 'Kustomization', 'apps');
      expect(apps.phase).toBe('Waiting');
      expect(apps.settled).toBe(true);
      expect(run.summary.message).toMatch(/blocked/);
    }));

  it('a suspended upstream Kustomization: its own outcome, naming the object and how to resume it', () =>
    withCase('suspended-upstream', 'a push to a chain whose upstream Kustomization is suspended', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel());
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      // Suspend the upstream, as `flux suspend kustomization infra` does.
      await mergePatch(suite.env().cluster, 'kustomize.toolkit.fluxcd.io/v1', 'Kustomization', c.ns, 'infra', { spec: { suspend: true } });
      const sha = await c.push('change both levels', { 'infra/config.yaml': configMap('infra-config', { message: 'two' }), 'apps/config.yaml': configMap('apps-config', { message: 'two' }) });
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('blocked');
      expect(run.summary.exitCode).toBe(EXIT_CODES.blocked);
      expect(c.node(run, 'Kustomization', 'infra').phase).toBe('Suspended');
      expect(run.summary.message).toContain(`flux resume kustomization infra -n ${c.ns}`);
      expect(run.summary.message).not.toMatch(/\bfailed\b/);
    }));

  it('a source that cannot fetch fails the GitRepository with the controller message', () =>
    withCase('source-fetch-failed', 'a push while the git server answers 503', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel());
      await c.waitReady([['GitRepository', 'repo'], ['Kustomization', 'apps']], first);
      const sha = await c.push('change apps', { 'apps/config.yaml': configMap('apps-config', { message: 'two' }) });
      suite.env().gitServer.failing = true;
      try {
        const run = await c.monitor(sha);
        decidedByFlux(run);
        expect(run.summary.verdict).toBe('failed');
        const repo = c.node(run, 'GitRepository', 'repo');
        expect(repo.phase).toBe('Failed');
        expect(repo.reason).toBe('GitOperationFailed');
        expect(repo.message).toMatch(/503|unavailable/i);
        expect(c.node(run, 'Kustomization', 'apps').settled).toBe(true);
      } finally {
        suite.env().gitServer.failing = false;
      }
    }));

  it('three pushes in a row: the first two are superseded, the last succeeds', () =>
    withCase('three-pushes', 'three commits pushed one right after another, each monitored', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel());
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const r1 = await c.push('r1', { 'apps/config.yaml': configMap('apps-config', { message: 'r1' }) });
      const m1 = c.monitor(r1);
      const r2 = await c.push('r2', { 'apps/config.yaml': configMap('apps-config', { message: 'r2' }) });
      const m2 = c.monitor(r2);
      const r3 = await c.push('r3', { 'apps/config.yaml': configMap('apps-config', { message: 'r3' }) });
      const [run1, run2] = await Promise.all([m1, m2]);
      const run3 = await c.monitor(r3);
      decidedByFlux(run3);
      expect(run3.summary.verdict).toBe('success');
      // An earlier push either made it through before the next landed (success) or was replaced (superseded).
      for (const run of [run1, run2]) {
        decidedByFlux(run);
        expect(['success', 'superseded']).toContain(run.summary.verdict);
      }
      expect(c.node(run3, 'Kustomization', 'apps').revision).toContain(r3);
    }));

  it("a teammate's newer commit that this clone never fetched: the push is applied through it", () =>
    withCase('teammate-through', "I push A; a teammate pulls A, commits B on top and pushes before Flux fetches A; Flux goes straight to B", async (c) => {
      const a = await pushAOnIdleChain(c);
      const teammate = await WorkRepo.clone(c.repo.url, 'teammate');
      try {
        const b = await c.push('B: change infra', { 'infra/config.yaml': configMap('infra-config', { message: 'B' }) }, { from: teammate });
        // The monitoring clone has never seen B.
        await expect(git(c.repo.dir, ['cat-file', '-e', `${b}^{commit}`])).rejects.toThrow();
        const run = await c.monitor(a);
        decidedByFlux(run);
        expect(run.summary.verdict).toBe('success');
        expect(run.summary.exitCode).toBe(EXIT_CODES.success);
        expect(run.summary).toMatchObject({ commit: a, through: b });
        expect(run.summary.message).toBe(`commit ${a.slice(0, 7)} is applied through ${b.slice(0, 7)}, which includes it: 3 ready`);
        for (const [kind, name] of [['GitRepository', 'repo'], ['Kustomization', 'infra'], ['Kustomization', 'apps']] as const) {
          expect(c.node(run, kind, name)).toMatchObject({ phase: 'Ready', revision: `main@sha1:${b}` });
          // What the controllers wrote: Ready at B; A itself was never fetched.
          expect(c.ready(kind, name, b)).toBe(true);
        }
        expect(c.recorder.entries.some((e) => JSON.stringify(e.object.status ?? {}).includes(a))).toBe(false);
        // B was fetched into the object store only: no branch or remote-tracking ref of the clone moved.
        await git(c.repo.dir, ['cat-file', '-e', `${b}^{commit}`]);
        expect(await git(c.repo.dir, ['for-each-ref', '--contains', b])).toBe('');
      } finally {
        await teammate.remove();
      }
    }));

  it('a force push that drops the pushed commit: the push is superseded, saying by what', () =>
    withCase('force-push-superseded', 'I push A; before Flux fetches it, a force push replaces main with B, which does not contain A', async (c) => {
      const a = await pushAOnIdleChain(c);
      const other = await WorkRepo.clone(c.repo.url, 'rewrite');
      try {
        await other.resetHard(1);
        const b = await c.push('B: instead of A', { 'apps/config.yaml': configMap('apps-config', { message: 'B' }) }, { from: other, force: true });
        const run = await c.monitor(a);
        decidedByFlux(run);
        expect(run.summary.verdict).toBe('superseded');
        expect(run.summary.exitCode).toBe(EXIT_CODES.superseded);
        const source = c.node(run, 'GitRepository', 'repo');
        expect(source).toMatchObject({ phase: 'Superseded', revision: `main@sha1:${b}` });
        expect(source.message).toContain(b);
        expect(c.ready('GitRepository', 'repo', b)).toBe(true);
      } finally {
        await other.remove();
      }
    }));

  it('a dependent waiting on its dependency is retried no later than announced, and the source fetched no later', () =>
    withCase('dependency-retry', 'a push that adds a Deployment to infra (wait: true); apps dependsOn infra; the waits flux-monitor announces hold', async (c) => {
      // The source fetches every 5s; infra then waits for its new Deployment (never ready by itself here: no
      // kube-controller-manager) and apps waits on infra, retried by kustomize-controller every
      // --requeue-dependency (5s in this suite, read from its Deployment in flux-system). Without auto_reconcile
      // nothing but those intervals moves the source and apps on.
      const first = await c.setup(twoLevelFiles('one'), (ns, url) => [
        gitRepository(ns, url, { interval: '5s' }),
        kustomization(ns, 'infra', './infra', { wait: true, timeout: '2m' }),
        kustomization(ns, 'apps', './apps', { dependsOn: ['infra'] }),
      ]);
      await c.waitReady([['GitRepository', 'repo'], ['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const sha = await c.push('add web to infra', {
        'infra/kustomization.yaml': kustomizationYaml(['config.yaml', 'web.yaml']),
        'infra/web.yaml': deployment('web'),
        'apps/config.yaml': configMap('apps-config', { message: 'two' }),
      });
      type PhaseEvent = Extract<MonitorEvent, { type: 'phase' }>;
      const isPhase = (e: MonitorEvent, key: string): e is PhaseEvent => e.type === 'phase' && e.key === key;
      const APPS = `Kustomization/${c.ns}/apps`;
      const INFRA = `Kustomization/${c.ns}/infra`;
      const SOURCE = `GitRepository/${c.ns}/repo`;
      let fetch: { bound: number; moved?: number } | undefined;
      let announced: PhaseEvent | undefined;
      let healthCheck: PhaseEvent | undefined;
      let rollout: Promise<void> | undefined;
      let infraReady: { at: number; bound?: number } | undefined;
      let appsMoved: number | undefined;
      const run = await c.monitor(sha, { auto_reconcile: false }, {
        onEvent: (e) => {
          const t = Date.parse(e.time);
          if (isPhase(e, SOURCE)) {
            if (e.phase === 'Pending' && e.wait?.at && !fetch) fetch = { bound: Date.parse(e.wait.at) };
            else if (e.phase !== 'Pending' && fetch && fetch.moved === undefined) fetch.moved = t;
          }
          if (isPhase(e, APPS) && e.phase === 'Waiting' && e.wait) announced = e;
          if (isPhase(e, INFRA) && e.wait?.kind === 'timeout' && !healthCheck) {
            // infra has applied web and runs its health check. Once apps' retry is announced, the Deployment
            // finishes its rollout (its status written as the deployment controller writes it): infra's health
            // check passes at its next poll.
            healthCheck = e;
            rollout ??= (async () => {
              await waitUntil(c.env, 'apps announces its retry', () => announced?.wait?.from !== undefined, 60_000);
              // Two retries pass unseen first (they find infra not ready and write nothing): the bound shown when
              // infra turns Ready is then inferred past them, not read from a status.
              const w = announced!.wait!;
              await waitUntil(c.env, 'two retries of apps have passed', () => Date.now() >= Date.parse(w.from!) + 2.2 * w.ms, 60_000);
              await writeDeploymentStatus(c.env.cluster, c.ns, 'web', true);
            })();
          }
          if (isPhase(e, INFRA) && e.phase === 'Ready' && announced?.wait?.from && !infraReady) {
            const w = announced.wait;
            // What the live view shows for apps at this moment: the bound of its next retry.
            infraReady = { at: t, bound: waitDue({ kind: w.kind, ms: w.ms, basis: w.basis, jitter: w.jitter, from: Date.parse(w.from!) }, t).at };
          }
          if (isPhase(e, APPS) && e.previous === 'Waiting' && e.phase !== 'Waiting' && appsMoved === undefined) appsMoved = t;
        },
      });
      await rollout;
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('success');
      // Slack: the watch's delivery and the recompute take well under a second; generous against a loaded machine.
      const SLACK = 3_000;
      // The source: the fetch of the push came no later than announced from its interval.
      expect(fetch?.moved, 'the source fetched the push').toBeDefined();
      expect(fetch!.moved!).toBeLessThanOrEqual(fetch!.bound + SLACK);
      // apps: announced from the controller's flag, read from its Deployment…
      expect(announced?.wait).toMatchObject({ kind: 'retry', ms: 5000, basis: 'flag', bound: 'by', controller: 'kustomize-controller', flag: '--requeue-dependency' });
      // …from what kustomize-controller wrote for the wait: Ready=False DependencyNotReady, its lastTransitionTime
      // the first attempt that found it so.
      const readyOf = (o: any) => o.status?.conditions?.find((x: any) => x.type === 'Ready');
      const waiting = c.recorder.entries.map((x) => x.object).filter((o) => o.kind === 'Kustomization' && o.metadata.name === 'apps' && readyOf(o)?.reason === 'DependencyNotReady');
      const ready = readyOf(waiting.find((o) => Date.parse(readyOf(o).lastTransitionTime) === Date.parse(announced!.wait!.from!)));
      expect(ready?.status).toBe('False');
      expect(ready.message).toMatch(new RegExp(`^dependency '${c.ns}/infra' (is not ready|revision is not up to date)$`));
      // infra's health check: the timeout kustomize-controller wrote ("Running health checks for revision … with a
      // timeout of 2m0s"), from its start.
      expect(healthCheck?.wait).toMatchObject({ kind: 'timeout', ms: 120_000, basis: 'status', bound: 'at' });
      // The retry after infra turned Ready came no later than the bound shown then.
      expect(infraReady?.bound, 'the bound announced when infra turned Ready').toBeDefined();
      expect(appsMoved, 'apps moved on').toBeDefined();
      expect(appsMoved!).toBeLessThanOrEqual(infraReady!.bound! + SLACK);
      expect(c.node(run, 'Kustomization', 'apps').phase).toBe('Ready');
    }));

  it('a timeout gives a partial report of every object', () =>
    withCase('timeout-partial', 'a health check longer than the monitor timeout', async (c) => {
      const first = await c.setup(twoLevelFiles('one'), twoLevel({ wait: true, timeout: '2m' }));
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const sha = await c.push('add a Deployment', {
        'apps/kustomization.yaml': kustomizationYaml(['config.yaml', 'web.yaml']),
        'apps/web.yaml': deployment('web'),
      });
      const run = await c.monitor(sha, { timeout: 20 });
      // Here the timeout is the expected end: Flux is still waiting for the health check.
      expect(run.summary.verdict).toBe('timeout');
      expect(run.summary.exitCode).toBe(EXIT_CODES.timeout);
      expect(c.node(run, 'Kustomization', 'infra').phase).toBe('Ready');
      const apps = c.node(run, 'Kustomization', 'apps');
      expect(apps.phase).toBe('Progressing');
      expect(apps.message).toMatch(/health/i);
      expect(run.summary.objects.map((o) => o.key).sort()).toEqual(Object.keys(run.state.nodes).sort());
    }));
});
