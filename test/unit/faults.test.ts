// Fault tolerance of the monitor against the API simulator: dropped connections, 5xx and 429 answers, stalled
// watches, broken watch frames and hostile object contents. The monitor must keep going, say what happens, end
// with the right verdict and never throw. No timing assertions: every wait is bounded by the session timeout.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';
import { join } from 'node:path';
import type { ApiSimulator } from '../../src/sim/server.js';
import type { RunOptions } from '../../src/engine/run.js';
import { cleanup, errorsOf, SIM_TUNING, startEngine, startSim, waitFor } from '../helpers/engine.js';
import { GIT, HR, ks, seedFleet } from '../helpers/fleet.js';
import { createJsonPrinter } from '../../src/ui/json.js';
import { KINDS as FLUX_KINDS } from '../../src/core/kinds.js';
import { QUIET_THROTTLES } from '../../src/engine/reflector.js';
import { DEFAULT_CONFIG, type MonitorEvent } from '../../src/core/types.js';
import { SHA_NEW, SHA_OLD, cond, gitReady, helmRelease, hrReady, invId, ksFailed, ksProgressing, ksReady } from '../helpers/flux.js';
import { mulberry32 } from '../helpers/rng.js';

/** The kinds the engine reads with the default config: every served Flux kind, one watch each. */
const KINDS = FLUX_KINDS.length;
const HR_ID = invId('apps', 'podinfo', 'helm.toolkit.fluxcd.io', 'HelmRelease');

let sim: ApiSimulator;
let kubeconfig: string;
let dir: string;

beforeEach(async () => {
  ({ sim, kubeconfig, dir } = await startSim());
  seedFleet(sim, { unrelated: false });
});
afterEach(cleanup);

const run = (over: Partial<RunOptions> = {}) => startEngine({ kubeconfig, tuning: { ...SIM_TUNING, settleDelayMs: 200 }, ...over });
const sessionStarted = (events: MonitorEvent[]) => events.some((e) => e.type === 'session');

/** Flux applies SHA_NEW everywhere, one step at a time (each step is a separate watch event). */
const STEPS: Array<() => void> = [
  () => sim.setStatus(GIT, gitReady(SHA_NEW)),
  () => sim.setStatus(ks('infra'), ksReady(SHA_NEW)),
  () => {
    const hr = sim.apply({ ...helmRelease('podinfo'), spec: { ...helmRelease('podinfo').spec, values: { replicaCount: 2 } } });
    sim.setStatus(ks('apps'), ksReady(SHA_NEW, [HR_ID]));
    sim.setStatus(HR, hrReady(hr.metadata.generation!));
  },
];

describe('faults during a session', () => {
  it('connections dropped at random while Flux works: every change still arrives, verdict success', async () => {
    const { p, events } = run();
    await waitFor('the session', () => sessionStarted(events) && sim.stats().openWatches >= KINDS);
    const rand = mulberry32(42);
    let drops = 0;
    for (const step of STEPS) {
      // Several drops around each change, some while nothing is connected.
      for (let i = 0; i < 3; i++) {
        drops += sim.dropWatchesNow();
        if (rand() < 0.5) await new Promise((r) => setTimeout(r, Math.floor(rand() * 30)));
      }
      step();
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 40)));
    }
    const final = await p;
    expect(drops).toBeGreaterThanOrEqual(KINDS);
    expect(final.verdict).toBe('success');
    expect(Object.values(final.nodes).map((n) => n.phase)).toEqual(['Ready', 'Ready', 'Ready', 'Ready']);
    // Reconnections re-opened every watch, and nothing is reported as an internal error.
    expect(sim.stats().watchesStarted).toBeGreaterThan(KINDS);
    expect(errorsOf(events).filter((e) => e.category === 'internal')).toEqual([]);
    expect(final.error).toBeUndefined();
  });

  it('500s on watches and 429 with Retry-After on discovery are reported, retried, and recovered from', async () => {
    sim.failNext({ status: 429, retryAfterSeconds: 1, verb: 'discovery', count: 1 });
    sim.failNext({ status: 500, verb: 'watch', count: 4 });
    const { p, events } = run();
    await waitFor('the session', () => sessionStarted(events));
    for (const step of STEPS) step();
    const final = await p;
    expect(final.verdict).toBe('success');
    const errors = errorsOf(events);
    const throttled = errors.find((e) => e.category === 'throttled' && !e.recovered);
    expect(throttled?.status).toBe(429);
    expect(throttled?.hint).toMatch(/backs off/);
    expect(errors.some((e) => e.category === 'server-error' && e.status === 500 && !e.recovered)).toBe(true);
    // Each failure is followed by a recovery notice, and the final state carries no stale error.
    expect(errors.some((e) => e.recovered)).toBe(true);
    expect(final.error).toBeUndefined();
  });

  it('a short 429 with Retry-After on a list and on a watch is waited out silently, and the request made again', async () => {
    // What an apiserver that is starting answers for a moment ("storage is (re)initializing"): not news.
    for (const [verb, pathMatch] of [['list', 'kustomizations'], ['watch', 'helmreleases']]) {
      sim.failNext({ status: 429, retryAfterSeconds: 1, verb, pathMatch, count: 1 });
      sim.failNext({ status: 429, retryAfterSeconds: 0, verb, pathMatch, count: QUIET_THROTTLES - 1 });
    }
    const { p, events } = run();
    await waitFor('the session and every watch', () => sessionStarted(events) && sim.stats().openWatches >= KINDS);
    // Every kind, one of them listed again after each 429; the HelmRelease watch opened after its 429s.
    expect(sim.stats().requestsByVerb.list).toBe(KINDS + QUIET_THROTTLES);
    expect(sim.stats().requestsByVerb.watch).toBeGreaterThanOrEqual(KINDS + QUIET_THROTTLES);
    for (const step of STEPS) step();
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(errorsOf(events)).toEqual([]);
    expect(final.error).toBeUndefined();
  });

  it('throttling that lasts is reported once as throttled, then recovered', async () => {
    sim.failNext({ status: 429, retryAfterSeconds: 0, verb: 'list', pathMatch: 'kustomizations', count: QUIET_THROTTLES + 2 });
    const { p, events } = run();
    await waitFor('the session', () => sessionStarted(events));
    expect(errorsOf(events)).toEqual([
      expect.objectContaining({ category: 'throttled', status: 429, recovered: false, hint: expect.stringMatching(/backs off/) }),
      expect.objectContaining({ category: 'throttled', recovered: true, outageMs: expect.any(Number) }),
    ]);
    expect(sim.stats().requestsByVerb.list).toBe(KINDS + QUIET_THROTTLES + 2);
    for (const step of STEPS) step();
    expect((await p).verdict).toBe('success');
  });

  it('a quiet (stalled) watch is re-opened without a word; changes made while every stream is silent are not lost', async () => {
    const { p, events, last: state } = run({
      config: { ...DEFAULT_CONFIG, timeout: 120 },
      tuning: { backoffMs: 20, maxBackoffMs: 200, stallMs: 300, settleDelayMs: 200 },
    });
    await waitFor('the session', () => sessionStarted(events) && sim.stats().openWatches >= KINDS);
    const started = sim.stats().watchesStarted;
    // Every stream goes silent (events and bookmarks held back) until released below, however long that takes.
    sim.stallWatches(600_000);
    for (const step of STEPS) step(); // written while every stream is silent
    // A silent watch is ended after stallMs and re-opened; the new one is silent too: wait for a few rounds.
    await waitFor('the quiet watches to be re-opened', () => sim.stats().watchesStarted >= started + 3 * KINDS, 60_000);
    expect(errorsOf(events)).toEqual([]);
    expect(state()?.error).toBeUndefined();
    sim.stallWatches(0);
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(final.nodes['HelmRelease/apps/podinfo']!.phase).toBe('Ready');
    expect(errorsOf(events)).toEqual([]);
    expect(final.error).toBeUndefined();
  });

  it('the session carries an error while any watch still fails, and one recovery once the last one is back', async () => {
    const { p, events, states, last: state } = run({ config: { ...DEFAULT_CONFIG, timeout: 120 } });
    /** The session's error in every published state. */
    const errorTrail = () => states.map((s) => s.error);
    await waitFor('the session', () => sessionStarted(events) && sim.stats().openWatches >= KINDS);
    // Kustomization watches keep failing; every connection drops: the other kinds come back at once.
    sim.failNext({ status: 500, verb: 'watch', pathMatch: 'kustomizations', count: 1_000_000 });
    sim.dropWatchesNow();
    const from = states.length;
    await waitFor('every other watch back, one kind failing', () => sim.stats().openWatches === KINDS - 1 && errorsOf(events).length > 0);
    STEPS[0]!();
    await waitFor('a change seen by a working watch', () => state()!.nodes['GitRepository/flux-system/flux-system']?.phase === 'Ready');
    // From the first failure on, every published state names an open error: a recovered kind does not clear it.
    const failing = errorTrail().slice(from).findIndex((e) => e !== undefined);
    expect(failing).toBeGreaterThanOrEqual(0);
    expect(errorTrail().slice(from + failing).map((e) => e?.category)).not.toContain(undefined);
    expect(state()!.error?.category).toBe('server-error');
    expect(errorsOf(events).filter((e) => e.recovered)).toEqual([]);
    expect(errorsOf(events)).toHaveLength(1);
    sim.clearFaults();
    for (const step of STEPS.slice(1)) step();
    const final = await p;
    expect(final.verdict).toBe('success');
    expect(final.error).toBeUndefined();
    const errors = errorsOf(events);
    expect(errors).toHaveLength(2);
    expect(errors[1]).toMatchObject({ recovered: true, category: errors[0]!.category, outageMs: expect.any(Number) });
  });

  it('malformed and nonsensical watch frames end the stream, which is reopened; the session is unharmed', async () => {
    const { p, events } = run();
    await waitFor('the session', () => sessionStarted(events) && sim.stats().openWatches >= KINDS);
    // Broken JSON, then valid JSON that is not a watch event: wrong types, objects without metadata, nulls.
    const raw = (frame: string) => {
      for (const w of (sim as unknown as { watchers: Set<{ res: { write(s: string): void } }> }).watchers) w.res.write(frame);
    };
    const bad = [
      '{"type":"MODIFIED","object":{"kind":\n',
      'null\n',
      '"just a string"\n',
      '[1,2,3]\n',
      '{"type":"MODIFIED"}\n',
      '{"type":"MODIFIED","object":null}\n',
      '{"type":"ADDED","object":{"kind":"Kustomization"}}\n',
      '{"type":"MODIFIED","object":{"kind":"Kustomization","metadata":null,"status":7}}\n',
      '{"type":"DELETED","object":{"apiVersion":5,"kind":["x"],"metadata":{"name":{},"namespace":[]}}}\n',
      '{"type":"ERROR","object":"not a status"}\n',
      '{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":{"x":1}}}}\n',
    ];
    for (const frame of bad) {
      raw(frame);
      // A real event after it (a status that cannot end the session: no verdict may race the steps below).
      sim.setStatus(ks('infra'), ksProgressing(SHA_NEW, SHA_OLD));
      await new Promise((r) => setTimeout(r, 30));
    }
    for (const step of STEPS) step();
    const final = await p;
    expect(final.verdict).toBe('success');
    const malformed = errorsOf(events).filter((e) => e.message.includes('malformed watch event'));
    expect(malformed.length).toBeGreaterThan(0);
    expect(malformed.every((e) => e.category === 'server-error')).toBe(true);
    expect(final.error).toBeUndefined();
    expect(Object.keys(final.nodes).sort()).toEqual([
      'GitRepository/flux-system/flux-system',
      'HelmRelease/apps/podinfo',
      'Kustomization/flux-system/apps',
      'Kustomization/flux-system/infra',
    ]);
    expect(sim.stats().watchesStarted).toBeGreaterThan(KINDS);
  });

  it('a 1 MB condition message full of escape codes is sanitised and bounded, in the state and in --json', async () => {
    const esc = [
      '\x1b[31;1mred\x1b[0m',
      '\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07',
      '\x1b]0;title\x1b\\',
      '\x9b2J',
      '\x1bP+q\x1b\\',
      '\x07\x08\x7f\r',
      '\u202Egnp.exe\u202C',
      '\x1b[',
    ].join(' ');
    const huge = ('build failed: ' + esc + ' ').repeat(Math.ceil((1024 * 1024) / (esc.length + 15)));
    expect(huge.length).toBeGreaterThanOrEqual(1024 * 1024);
    const lines: string[] = [];
    const print = createJsonPrinter({ write: (s: string) => lines.push(s) });
    const { p, events } = run({ onEvent: (e) => (events.push(e), print(e)) });
    await waitFor('the session', () => sessionStarted(events));
    sim.setStatus(GIT, gitReady(SHA_NEW));
    sim.setStatus(ks('infra'), {
      ...ksFailed(SHA_NEW, SHA_OLD, 'BuildFailed', huge),
      conditions: [cond('Ready', 'False', `Build\x1b[2JFailed${'x'.repeat(10_000)}`, huge), cond('Reconciling', 'True', 'ProgressingWithRetry', huge)],
    });
    const final = await p;
    expect(final.verdict).toBe('failed');
    const infra = final.nodes['Kustomization/flux-system/infra']!;
    expect(infra.phase).toBe('Failed');
    // eslint-disable-next-line no-control-regex
    const unsafe = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
    for (const text of [infra.message, infra.reason, final.verdictMessage ?? '']) {
      expect(text).not.toMatch(unsafe);
      expect(text.length).toBeLessThanOrEqual(4096);
    }
    expect(infra.message).toContain('build failed: red click');
    expect(infra.reason.length).toBeLessThanOrEqual(128);
    // --json: every line parses, carries no control character once decoded, and is bounded.
    for (const line of lines) {
      expect(line.length).toBeLessThan(64 * 1024);
      expect(Object.values(flatten(JSON.parse(line))).some((v) => typeof v === 'string' && unsafe.test(v))).toBe(false);
    }
    expect(lines.some((l) => l.includes('"type":"summary"') && l.includes('build failed: red'))).toBe(true);
  });

  it('an API server restart mid-session: one outage with its duration, one recovery, nothing for the relists', async () => {
    const { p, events } = run({ config: { ...DEFAULT_CONFIG, timeout: 120 } });
    await waitFor('the session', () => sessionStarted(events) && sim.stats().openWatches >= KINDS);
    const listsBefore = sim.stats().requestsByVerb.list ?? 0;
    const beforeDown = Date.now();
    await sim.setUnavailable(true);
    await waitFor('the outage to be reported', () => errorsOf(events).some((e) => e.category === 'unreachable' && !e.recovered));
    const reported = Date.now();
    STEPS[0]!(); // changes while the monitor cannot see them
    // As after a real restart: the history is gone (every resumed watch gets 410 and relists), and each kind
    // answers 429 "storage is (re)initializing" once to its watch and once to its list.
    sim.compact();
    for (const { plural } of FLUX_KINDS) {
      sim.failNext({ status: 429, retryAfterSeconds: 1, verb: 'watch', pathMatch: plural });
      sim.failNext({ status: 429, retryAfterSeconds: 1, verb: 'list', pathMatch: plural });
    }
    const backUp = Date.now();
    await sim.setUnavailable(false);
    await waitFor('the recovery', () => errorsOf(events).some((e) => e.recovered));
    const recoverySeen = Date.now();
    // Every kind relists (its first list answered 429, the second one served), and none of it is reported.
    await waitFor('every kind to relist', () => sim.stats().requestsByVerb.list! - listsBefore >= 2 * KINDS);
    for (const step of STEPS.slice(1)) step();
    const final = await p;
    expect(final.verdict).toBe('success');
    const errors = errorsOf(events);
    expect(errors).toEqual([
      expect.objectContaining({ category: 'unreachable', recovered: false }),
      expect.objectContaining({ category: 'unreachable', recovered: true, outageMs: expect.any(Number) }),
    ]);
    // The outage began before it was seen and ended after the server was back (causal bounds, not timings).
    expect(errors[1]!.outageMs!).toBeGreaterThanOrEqual(backUp - reported);
    expect(errors[1]!.outageMs!).toBeLessThanOrEqual(recoverySeen - beforeDown);
    expect(final.error).toBeUndefined();
  });
});

/**
 * A loopback HTTP front for the simulator that forwards everything, except that while `loginPage` is set it answers
 * the LISTs (and other GETs) of paths matching it 200 with an HTML login page, as a proxy that wants a login does.
 */
async function loginPageFront(target: string): Promise<{ kubeconfig: string; loginPage?: RegExp; served: number; close(): Promise<void> }> {
  const upstream = new URL(target);
  const front = {
    kubeconfig: '',
    loginPage: undefined as RegExp | undefined,
    served: 0,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (front.loginPage && req.method === 'GET' && !/[?&]watch=true/.test(url) && front.loginPage.test(url.split('?')[0]!)) {
      front.served++;
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!DOCTYPE html><html><head><title>Sign in</title></head><body>Your session has expired.</body></html>');
      return;
    }
    const up = http.request({ host: upstream.hostname, port: upstream.port, path: url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const cfg = YAML.parse(readFileSync(kubeconfig, 'utf8'));
  for (const c of cfg.clusters) c.cluster.server = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  front.kubeconfig = join(dir, 'front.kubeconfig');
  writeFileSync(front.kubeconfig, YAML.stringify(cfg));
  return front;
}

describe('a proxy answering LISTs with a login page', () => {
  it('every relist of a kind answered 200 text/html: its objects are kept (none Deleted), the failure is a server-error, then success', async () => {
    const target = YAML.parse(readFileSync(kubeconfig, 'utf8')).clusters[0].cluster.server as string;
    const front = await loginPageFront(target);
    try {
      const { p, events, last: state } = run({ kubeconfig: front.kubeconfig, config: { ...DEFAULT_CONFIG, timeout: 60 } });
      await waitFor('the session', () => sessionStarted(events) && sim.stats().openWatches >= KINDS);
      // From now on, Kustomization lists get the login page; the watches' history goes, so they must relist.
      // (Every watch ends; a change is made before any is re-opened, then the history is compacted: each resumes
      // from a resourceVersion that is gone, gets 410 and relists.)
      front.loginPage = /kustomizations$/;
      sim.closeWatchesNow();
      sim.setStatus(ks('infra'), ksProgressing(SHA_NEW, SHA_OLD));
      sim.compact();
      const gone = () => Object.values(state()!.nodes).filter((n) => n.deleted || n.reason === 'Deleted');
      await waitFor('a few relists answered by the login page', () => front.served >= 3 || (front.served > 0 && gone().length > 0));
      expect(gone()).toEqual([]);
      const nodes = Object.values(state()!.nodes);
      expect(nodes.filter((n) => n.deleted || n.reason === 'Deleted')).toEqual([]);
      expect(Object.keys(state()!.nodes).filter((k) => k.startsWith('Kustomization/')).sort()).toEqual(['Kustomization/flux-system/apps', 'Kustomization/flux-system/infra']);
      const reported = errorsOf(events).find((e) => !e.recovered);
      expect(reported).toMatchObject({ category: 'server-error', status: 200 });
      expect(reported!.message).toMatch(/text\/html/);
      // The proxy lets the lists through again; Flux applies the commit.
      front.loginPage = undefined;
      for (const step of STEPS) step();
      const final = await p;
      expect(final.verdict).toBe('success');
      expect(Object.values(final.nodes).map((n) => n.phase)).toEqual(['Ready', 'Ready', 'Ready', 'Ready']);
      expect(errorsOf(events).some((e) => e.recovered && e.category === 'server-error')).toBe(true);
    } finally {
      await front.close();
    }
  });
});

/** All string leaves of a JSON value, keyed by path. */
function flatten(v: unknown, path = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) flatten(x, `${path}.${k}`, out);
  else out[path] = v;
  return out;
}
