// The push's timeline against the real source- and kustomize-controller (issue 28 items 1, 2 and 6): a push that
// changes both levels of a dependsOn chain, followed with and without auto_reconcile. The moments recorded are
// those the controllers' conditions say (checked against the recorded objects), the critical path runs through the
// chain, and, with FLUX_MONITOR_TIMELINE_CAPTURE=1, the waterfall of each run is written into README.md
// (real-capture:timeline-*; test/ui/timeline-capture.test.ts checks the blocks' shape in CI, without the controllers).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { criticalPath } from '../../src/core/timeline.js';
import { ansi } from '../../src/ui/theme.js';
import { fitLine } from '../../src/ui/view.js';
import { linesText, waterfallLines } from '../../src/ui/waterfall.js';
import { writeTimelineCapture } from '../ui/timeline-capture.js';
import { chainFiles, configMap, gitRepository, kustomization } from './cases.js';
import { decidedByFlux, fluxSuite, type Case, type MonitorRun } from './support.js';

const suite = fluxSuite({ beforeAll, afterAll });
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const WRITE = process.env.FLUX_MONITOR_TIMELINE_CAPTURE === '1';

/** The chain, Ready at its first commit; then a push that changes both levels, followed to its verdict. */
async function chainPush(c: Case, autoReconcile: boolean): Promise<{ run: MonitorRun; pushedAt: number }> {
  const first = await c.setup(chainFiles('one'), (ns, url) => [
    gitRepository(ns, url),
    kustomization(ns, 'infra', './infra'),
    kustomization(ns, 'apps', './apps', { dependsOn: ['infra'] }),
  ]);
  await c.waitReady([['GitRepository', 'repo'], ['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
  const sha = await c.push('change both levels', { 'infra/config.yaml': configMap('infra-config', { message: 'two' }), 'apps/config.yaml': configMap('apps-config', { message: 'two' }) });
  const pushedAt = Date.now();
  const run = await c.monitor(sha, { auto_reconcile: autoReconcile });
  decidedByFlux(run);
  expect(run.summary.verdict).toBe('success');
  return { run, pushedAt };
}

/** What the controllers wrote: the Ready condition's transition time on the version that carries the commit. */
function readyTransition(c: Case, kind: string, name: string): number {
  const ready = c.latest(kind, name).status.conditions.find((x: { type: string }) => x.type === 'Ready');
  return Date.parse(ready.lastTransitionTime);
}

function check(c: Case, run: MonitorRun): void {
  const tl = run.state.timeline!.objects;
  const key = (kind: string, name: string) => `${kind}/${c.ns}/${name}`;
  const repo = tl[key('GitRepository', 'repo')]!;
  const infra = tl[key('Kustomization', 'infra')]!;
  const apps = tl[key('Kustomization', 'apps')]!;
  for (const [name, m] of [['repo', repo], ['infra', infra], ['apps', apps]] as const) expect(m?.ready, name).toBeDefined();
  // A moment said to come from a condition is the time the controller wrote there.
  for (const [kind, name, m] of [['GitRepository', 'repo', repo], ['Kustomization', 'infra', infra], ['Kustomization', 'apps', apps]] as const) {
    if (m.ready!.from === 'condition') expect(m.ready!.at, `${kind}/${name}`).toBe(readyTransition(c, kind, name));
  }
  // The order the chain imposes: the source had the commit before infra was Ready, and infra before apps.
  expect(infra.source?.at).toBe(repo.ready!.at);
  expect(infra.ready!.at).toBeGreaterThanOrEqual(repo.ready!.at - 1_000);
  expect(apps.ready!.at).toBeGreaterThanOrEqual(infra.ready!.at - 1_000);
  // apps either waited on infra (DependencyNotReady, naming it) or started once infra was Ready.
  const waitedOnInfra = apps.waits?.some((w) => w.on === 'dependency' && w.blockers.includes(`${c.ns}/infra`));
  expect(waitedOnInfra || (apps.started?.at ?? apps.ready!.at) >= infra.ready!.at - 1_000).toBe(true);
  const path = criticalPath(run.state)!;
  expect(path.links.at(-1)!.key).toBe(key('Kustomization', 'apps'));
  expect(path.links.map((l) => l.key)).toContain(key('Kustomization', 'infra'));
  expect(path.waitingMs + path.workingMs).toBe(path.totalMs);
}

function capture(id: string, run: MonitorRun, pushedAt: number): void {
  if (!WRITE) return;
  const width = 100;
  const lines = linesText(waterfallLines({ ...run.state, pushedAt: Math.min(pushedAt, run.state.startedAt) }, { width }).map((l) => fitLine(l, width)), false, ansi);
  writeFileSync(README, writeTimelineCapture(readFileSync(README, 'utf8'), id, lines.join('\n')));
}

describe('real Flux: the push\'s timeline', () => {
  it('a dependsOn chain with auto_reconcile: the source is asked to fetch, apps as soon as infra is Ready', () =>
    suite.withCase('timeline-auto', 'a push to a dependsOn chain, followed with auto_reconcile', async (c) => {
      const { run, pushedAt } = await chainPush(c, true);
      check(c, run);
      capture('timeline-auto-reconcile', run, pushedAt);
    }));

  it('the same chain without auto_reconcile: Flux fetches at its interval and apps waits for its requeue', () =>
    suite.withCase('timeline-flux', 'a push to a dependsOn chain, followed without auto_reconcile', async (c) => {
      const { run, pushedAt } = await chainPush(c, false);
      check(c, run);
      capture('timeline-flux-alone', run, pushedAt);
    }));
});
