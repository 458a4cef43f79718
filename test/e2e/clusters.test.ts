// Several clusters end to end: a real `git push` whose hook configuration lists two contexts starts one detached
// monitor that follows the commit on both API simulators; `status`, `status --json` and `history` read it; and
// `watch --context A --context B --json` prints each cluster's events with `cluster` and the overall summary last.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MonitorEvent } from '../../src/core/types.js';
import type { ApiSimulator } from '../../src/sim/server.js';
import { readHistory } from '../../src/session/store.js';
import { pidAlive } from '../../src/session/proc.js';
import { eventually, fluxApp, useE2eCluster, type TestRepo } from '../helpers/e2e.js';

const cluster = useE2eCluster({ contexts: ['east', 'west'] });
let seq = 0;

/** The test's app on `sim` (helpers/e2e.ts fluxApp): `deliver` plays Flux applying a commit, `fail` failing to build it. */
const fluxOn = (sim: ApiSimulator, r: TestRepo, name: string, sha: string) => fluxApp(sim, r, name, sha);

const newRepo = (config: string): TestRepo => cluster.newRepo({ config });

describe('several clusters end to end', () => {
  it('a push follows every context of the hook configuration; status and history show each cluster', async () => {
    const r = newRepo('config:\n  timeout: 30\n  polling_interval: 1\n  notify: never\n  contexts: [east, west]\n');
    const name = `multi-${++seq}`;
    const head = r.ok(r.work, 'rev-parse', 'HEAD');
    const e = fluxOn(cluster.sims.east!, r, name, head);
    const w = fluxOn(cluster.sims.west!, r, name, head);
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
    const e = fluxOn(cluster.sims.east!, r, name, head);
    const w = fluxOn(cluster.sims.west!, r, name, head);
    const sha = r.commit('watched by hand');
    r.ok(r.work, 'push', '-q', '--no-verify', 'origin', 'main');
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.cjs'), 'watch', '--context', 'east', '--context', 'west', '--json'], { cwd: r.work, env: r.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
