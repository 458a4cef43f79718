// Several clusters end to end: a real `git push` whose hook configuration lists two contexts starts one detached
// monitor that follows the commit on both API simulators; `status`, `status --json` and `history` read it; and
// `watch --context A --context B --json` prints each cluster's events with `cluster` and the overall summary last.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject, MonitorEvent } from '../../src/core/types.js';
import { ApiSimulator } from '../../src/sim/server.js';
import { git as gitStatus, ks as ksStatus } from '../../src/sim/flux-status.js';
import { readHistory } from '../../src/session/store.js';
import { pidAlive } from '../../src/session/proc.js';
import { mergeKubeconfigs } from '../helpers/kubeconfig.js';
import { eventually, requireBuild, TestRepo } from './helpers.js';

let east: ApiSimulator;
let west: ApiSimulator;
let kubeconfig: string;
const repos: TestRepo[] = [];
let seq = 0;

beforeAll(async () => {
  requireBuild();
  east = new ApiSimulator();
  west = new ApiSimulator();
  await Promise.all([east.start(), west.start()]);
  const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-clusters-'));
  kubeconfig = await mergeKubeconfigs(
    [
      { context: 'east', file: await east.writeKubeconfig(join(dir, 'east')) },
      { context: 'west', file: await west.writeKubeconfig(join(dir, 'west')) },
    ],
    join(dir, 'kubeconfig'),
  );
});
afterEach(() => {
  for (const r of repos.splice(0)) r.stopAll();
});
afterAll(async () => {
  await Promise.all([east?.stop(), west?.stop()]);
});

/**
 * A GitRepository of the test's remote and a Kustomization from it on `sim`, at `sha` (statuses in the shapes
 * source-controller and kustomize-controller write: src/sim/flux-status.ts); `deliver` plays Flux applying a commit,
 * `fail` kustomize-controller failing to build it.
 */
function fluxOn(sim: ApiSimulator, r: TestRepo, name: string, sha: string) {
  const ref = (kind: string) => ({ kind, namespace: 'flux-system', name });
  sim.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace: 'flux-system' }, spec: { url: r.remote, ref: { branch: 'main' }, interval: '1m' } } as KubeObject);
  sim.apply({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: 'flux-system' },
    spec: { sourceRef: { kind: 'GitRepository', name }, path: './deploy', interval: '1m', prune: true },
  } as KubeObject);
  const fetch = (s: string) => sim.setStatus(ref('GitRepository'), gitStatus.ready(sim.get(ref('GitRepository'))!, `main@sha1:${s}`));
  const deliver = (s: string) => {
    fetch(s);
    sim.setStatus(ref('Kustomization'), ksStatus.ready(sim.get(ref('Kustomization'))!, `main@sha1:${s}`, {}));
  };
  deliver(sha);
  return {
    deliver,
    fail: (s: string) => {
      fetch(s);
      sim.setStatus(ref('Kustomization'), ksStatus.failed(sim.get(ref('Kustomization'))!, 'BuildFailed', 'kustomize build failed: accumulating resources: missing deploy.yaml', { revision: `main@sha1:${s}` }));
    },
  };
}

function newRepo(config: string): TestRepo {
  const r = new TestRepo({ kubeconfig, config });
  repos.push(r);
  return r;
}

describe('several clusters end to end', () => {
  it('a push follows every context of the hook configuration; status and history show each cluster', async () => {
    const r = newRepo('config:\n  timeout: 30\n  polling_interval: 1\n  notify: never\n  contexts: [east, west]\n');
    const name = `multi-${++seq}`;
    const head = r.ok(r.work, 'rev-parse', 'HEAD');
    const e = fluxOn(east, r, name, head);
    const w = fluxOn(west, r, name, head);
    const sha = r.commit('deploy to both');
    expect(r.git(['push', 'origin', 'main']).status).toBe(0);
    await r.decided(sha);
    const s = await eventually(() => r.sessions().find((x) => x.commit.sha === sha && x.clusters?.every((c) => c.status === 'running')), 15_000, 'both clusters followed');
    expect(s.clusters!.map((c) => c.context)).toEqual(['east', 'west']);
    e.deliver(sha);
    w.fail(sha);
    const done = await eventually(() => r.sessions().find((x) => x.id === s.id && x.status === 'finished'), 20_000, 'the verdict');
    await eventually(() => !pidAlive(done.pid!), 5000, 'the monitor process to exit');
    expect(done.verdict).toBe('failed');
    expect(done.clusters!.map((c) => [c.context, c.verdict])).toEqual([
      ['east', 'success'],
      ['west', 'failed'],
    ]);
    expect(done.nodes[`west/Kustomization/flux-system/${name}`]).toMatchObject({ phase: 'Failed', reason: 'BuildFailed', cluster: 'west' });
    expect(readHistory(r.paths).entries.at(-1)!.clusters).toEqual([
      { context: 'east', verdict: 'success', leadMs: expect.any(Number) },
      { context: 'west', verdict: 'failed', leadMs: expect.any(Number) },
    ]);

    const human = r.cli(['status', '--exit-code']);
    expect(human.status).toBe(1);
    expect(human.stdout).toMatch(new RegExp(`^\\[west\\] .*Kustomization flux-system/${name}  Failed  BuildFailed`, 'm'));
    expect(human.stdout).toMatch(/^\[east\] \S+ Succeeded after /m);
    expect(human.stdout).toMatch(/^\S+ Failed after .*: failed on 1 of 2 clusters — west: .*; east: success$/m);
    expect(JSON.parse(r.cli(['status', '--json']).stdout)).toMatchObject({ id: s.id, verdict: 'failed', clusters: [{ context: 'east' }, { context: 'west' }] });
    expect(r.cli(['history']).stdout).toContain('↳ clusters: east success, west failed');
  });

  it('watch --context east --context west --json: events say their cluster, the overall summary is last, exit 1', async () => {
    const r = newRepo('config:\n  timeout: 30\n  polling_interval: 1\n');
    const name = `multi-${++seq}`;
    const head = r.ok(r.work, 'rev-parse', 'HEAD');
    const e = fluxOn(east, r, name, head);
    const w = fluxOn(west, r, name, head);
    const sha = r.commit('watched by hand');
    r.ok(r.work, 'push', '-q', '--no-verify', 'origin', 'main');
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js'), 'watch', '--context', 'east', '--context', 'west', '--json'], { cwd: r.work, env: r.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const events = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as MonitorEvent);
    await eventually(() => ['east', 'west'].every((c) => events().some((x) => x.type === 'session' && x.cluster === c)), 15_000, 'both session events');
    e.deliver(sha);
    w.fail(sha);
    expect(await exit).toBe(1);
    const all = events();
    const last = all.at(-1)!;
    expect(last).toMatchObject({ type: 'summary', verdict: 'failed', exitCode: 1 });
    expect('cluster' in last).toBe(false);
    expect((last as Extract<MonitorEvent, { type: 'summary' }>).clusters!.map((c) => [c.context, c.verdict])).toEqual([
      ['east', 'success'],
      ['west', 'failed'],
    ]);
    expect(all.slice(0, -1).every((x) => x.cluster === 'east' || x.cluster === 'west')).toBe(true);
    expect(all.some((x) => x.type === 'phase' && x.cluster === 'west' && x.key === `Kustomization/flux-system/${name}` && x.phase === 'Failed')).toBe(true);
  });
});
