// OpenTelemetry export (issue 28 item 4): the trace of a finished session as data (src/session/otel-plan.ts, pure),
// where it may be sent (otelTarget: the environment only; a hook file may only turn it off) and what a dead or
// refusing endpoint does (one warning, never an exception, bounded). The real export, read back from a real
// Jaeger after a push through the real Flux controllers, is test/conformance/otel.test.ts.
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/net.js';
import { parseConfig } from '../../src/config/load.js';
import { newSessionState, type NodeState, type SessionState } from '../../src/core/types.js';
import { MAX_OBJECT_SPANS, planTrace, type PlannedSpan } from '../../src/session/otel-plan.js';
import { exportSession, otelTarget } from '../../src/session/otel.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const T0 = 1_700_000_000_000;

function node(key: string, over: Partial<NodeState> = {}): NodeState {
  const [kind, namespace, name] = key.split('/') as [string, string, string];
  return { key, kind, namespace, name, apiVersion: 'v1', phase: 'Ready', reason: 'ReconciliationSucceeded', message: 'Applied revision: main@sha1:' + SHA, affected: true, settled: true, phaseSince: T0 + 4000, firstSeen: T0 + 100, ...over };
}

function finished(over: Partial<SessionState> = {}, nodes: NodeState[] = []): SessionState {
  const s = newSessionState(
    { id: 'sess1', sha: SHA, subject: 'bump podinfo', branch: 'main', repoUrl: 'https://user:ghp_abcdefghijklmnopqrstuvwxyz0123456789@git.example/team/repo.git', context: 'kind-dev', server: 'https://admin:pw@10.0.0.1:6443', timeoutMs: 300_000, now: T0 },
    (u) => u, // unredacted on purpose: the plan must redact on its own
  );
  return { ...s, status: 'finished', verdict: 'success', verdictMessage: `commit ${SHA.slice(0, 7)} applied`, endedAt: T0 + 10_000, nodes: Object.fromEntries(nodes.map((n) => [n.key, n])), ...over };
}

const byId = (spans: PlannedSpan[], id: string) => spans.find((s) => s.id === id)!;

describe('planTrace', () => {
  it('has no trace for a session without a verdict', () => {
    expect(planTrace(finished({ verdict: undefined, endedAt: undefined, status: 'running' }))).toBeUndefined();
  });

  it('a root span for the push from the session start to the verdict, a child per affected object ending when it settled', () => {
    const plan = planTrace(
      finished({}, [
        node('GitRepository/flux-system/repo', { phaseSince: T0 + 1500, firstSeen: T0 }),
        node('Kustomization/flux-system/apps', { phaseSince: T0 + 6000, firstSeen: T0 + 50 }),
        node('Kustomization/flux-system/other', { affected: false }),
      ]),
    )!;
    expect(plan.spans.map((s) => s.id)).toEqual(['push', 'object:GitRepository/flux-system/repo', 'object:Kustomization/flux-system/apps']);
    const root = plan.spans[0]!;
    expect(root.parent).toBeUndefined();
    expect(root).toMatchObject({ name: 'push 0123456 to main', start: T0, end: T0 + 10_000, status: { code: 'ok' } });
    expect(root.attributes).toMatchObject({
      'vcs.ref.head.revision': SHA,
      'vcs.ref.head.name': 'main',
      'flux_monitor.verdict': 'success',
      'flux_monitor.cluster.context': 'kind-dev',
      'flux_monitor.objects': 2,
    });
    // No credentials leave: the remote's token and the server's password are redacted.
    expect(JSON.stringify(plan)).not.toMatch(/ghp_|:pw@/);
    expect(root.attributes['vcs.repository.url.full']).toContain('git.example/team/repo');
    expect(root.attributes['flux_monitor.cluster.server']).toContain('10.0.0.1:6443');

    const ks = byId(plan.spans, 'object:Kustomization/flux-system/apps');
    expect(ks).toMatchObject({ parent: 'push', name: 'Kustomization flux-system/apps', start: T0 + 50, end: T0 + 6000, status: { code: 'ok' } });
    expect(ks.attributes).toMatchObject({ 'flux_monitor.object.phase': 'Ready', 'flux_monitor.object.reason': 'ReconciliationSucceeded', 'k8s.namespace.name': 'flux-system' });
    expect(ks.events).toEqual([{ name: 'phase Ready', time: T0 + 6000, attributes: { 'flux_monitor.object.reason': 'ReconciliationSucceeded' } }]);
  });

  it('a failed object is an error span with its reason and message, sanitised; the failed verdict an error root', () => {
    const plan = planTrace(
      finished({ verdict: 'failed', verdictMessage: 'commit 0123456 failed: 1 failed' }, [
        node('HelmRelease/apps/podinfo', { phase: 'Failed', reason: 'UpgradeFailed', message: '\u001b[31mboom\u001b[0m Authorization: Bearer abc.def.ghi token=s3cr3t', phaseSince: T0 + 7000 }),
        node('HelmRelease/apps/old', { phase: 'Failed', reason: 'InstallFailed', message: 'was failing before', preexisting: true }),
      ]),
    )!;
    expect(plan.spans[0]!.status).toEqual({ code: 'error', message: 'commit 0123456 failed: 1 failed' });
    const hr = byId(plan.spans, 'object:HelmRelease/apps/podinfo');
    expect(hr.status.code).toBe('error');
    const msg = String(hr.attributes['flux_monitor.object.message']);
    expect(msg).toContain('boom');
    expect(msg).not.toMatch(/\u001b|abc\.def\.ghi|s3cr3t/);
    expect(hr.end).toBe(T0 + 7000);
    // Failing since before the push: not the push's failure.
    expect(byId(plan.spans, 'object:HelmRelease/apps/old').status.code).toBe('unset');
  });

  it('an object that ended waiting on another has a waiting span, from when it began waiting to the end, naming the blocker', () => {
    const plan = planTrace(
      finished({ verdict: 'timeout', verdictMessage: 'timed out after 10s', endedAt: T0 + 10_000 }, [
        node('Kustomization/flux-system/apps', { phase: 'Waiting', reason: 'DependencyNotReady', message: "dependency 'flux-system/infra' is not ready", settled: true, phaseSince: T0 + 2000, blockedBy: 'Kustomization/flux-system/infra', blockers: ['Kustomization/flux-system/infra'] }),
        node('Kustomization/flux-system/infra', { phase: 'Progressing', reason: 'Progressing', settled: false, phaseSince: T0 + 1000 }),
      ]),
    )!;
    const apps = byId(plan.spans, 'object:Kustomization/flux-system/apps');
    const wait = byId(plan.spans, 'wait:Kustomization/flux-system/apps#0');
    expect(apps.end).toBe(T0 + 10_000); // waiting is not an end
    expect(wait).toMatchObject({ parent: apps.id, name: 'waiting for Kustomization/flux-system/infra', start: T0 + 2000, end: T0 + 10_000 });
    expect(wait.attributes['flux_monitor.blocker']).toBe('Kustomization/flux-system/infra');
    // Still moving at the end: runs to the end of the session.
    expect(byId(plan.spans, 'object:Kustomization/flux-system/infra').end).toBe(T0 + 10_000);
    expect(plan.spans[0]!.status.code).toBe('error');
  });

  it('with the timeline: the object from its first wait to Ready, its moments as events, a span per wait interval', () => {
    const plan = planTrace({
      ...finished({ pushedAt: T0 - 500 } as Partial<SessionState>, [
        node('Kustomization/flux-system/apps', { firstSeen: T0, phaseSince: T0 + 8000 }),
        node('Kustomization/flux-system/infra', { firstSeen: T0, phaseSince: T0 + 3000 }),
      ]),
      timeline: {
        objects: {
          'Kustomization/flux-system/apps': {
            source: { at: T0 + 1000, from: 'condition' },
            waits: [
              { from: T0 + 1200, to: T0 + 3500, on: 'dependency', blockers: ['flux-system/infra'], reason: 'DependencyNotReady' },
              { from: T0 + 4000, on: 'source', blockers: ['GitRepository/flux-system/repo'], reason: 'SourceNotReady' },
            ],
            started: { at: T0 + 5000, from: 'condition' },
            applied: { at: T0 + 6000, from: 'event' },
            ready: { at: T0 + 7000, from: 'condition' },
          },
          'Kustomization/flux-system/infra': { started: { at: T0 + 1500, from: 'event' }, ready: { at: T0 + 3000, from: 'condition', seen: T0 + 3400 } },
        },
      },
      pushedAt: T0 - 500,
    } as SessionState)!;
    // The root starts at the push, as the waterfall's axis does.
    expect(plan.spans[0]!.start).toBe(T0 - 500);
    const apps = byId(plan.spans, 'object:Kustomization/flux-system/apps');
    expect(apps).toMatchObject({ start: T0 + 1200, end: T0 + 7000 });
    expect(apps.events.map((e) => [e.name, e.time - T0])).toEqual([
      ['source has the commit', 1200], // before the span: clamped into it
      ['started', 5000],
      ['applied', 6000],
      ['ready', 7000],
    ]);
    expect(apps.events[1]!.attributes).toEqual({ 'flux_monitor.moment.from': 'condition' });
    expect(byId(plan.spans, 'wait:Kustomization/flux-system/apps#0')).toMatchObject({ parent: apps.id, name: 'waiting for flux-system/infra', start: T0 + 1200, end: T0 + 3500, attributes: { 'flux_monitor.wait.on': 'dependency', 'flux_monitor.object.reason': 'DependencyNotReady' } });
    // An interval left open ends when the object started.
    expect(byId(plan.spans, 'wait:Kustomization/flux-system/apps#1')).toMatchObject({ name: 'waiting for GitRepository/flux-system/repo', start: T0 + 4000, end: T0 + 5000 });
    // A condition time (whole seconds) seen within its second ends where the waterfall draws it: when it was seen.
    expect(byId(plan.spans, 'object:Kustomization/flux-system/infra')).toMatchObject({ start: T0 + 1500, end: T0 + 3400 });
  });

  it('several clusters: a span per cluster under the push, each cluster\'s objects under it', () => {
    const plan = planTrace(
      finished(
        {
          verdict: 'failed',
          clusters: [
            { context: 'east', status: 'finished', startedAt: T0, updatedAt: T0, endedAt: T0 + 5000, verdict: 'success', verdictMessage: 'ok' },
            { context: 'west', status: 'finished', startedAt: T0, updatedAt: T0, endedAt: T0 + 10_000, verdict: 'failed', verdictMessage: 'failed: boom' },
          ],
        },
        [node('east/Kustomization/flux-system/apps', { cluster: 'east', namespace: 'flux-system', name: 'apps', kind: 'Kustomization' }), node('west/HelmRelease/apps/web', { cluster: 'west', kind: 'HelmRelease', namespace: 'apps', name: 'web', phase: 'Failed', phaseSince: T0 + 9000 })],
      ),
    )!;
    expect(byId(plan.spans, 'cluster:east')).toMatchObject({ parent: 'push', start: T0, end: T0 + 5000, status: { code: 'ok' } });
    expect(byId(plan.spans, 'cluster:west').status).toEqual({ code: 'error', message: 'failed: boom' });
    expect(byId(plan.spans, 'object:east/Kustomization/flux-system/apps').parent).toBe('cluster:east');
    expect(byId(plan.spans, 'object:west/HelmRelease/apps/web').parent).toBe('cluster:west');
  });

  it('a fleet: at most MAX_OBJECT_SPANS object spans, the failed and waiting ones kept, the rest counted as left out', () => {
    const many = Array.from({ length: MAX_OBJECT_SPANS + 10 }, (_, i) => node(`Kustomization/ns/k${String(i).padStart(5, '0')}`, { firstSeen: T0 + i }));
    many.push(node('HelmRelease/apps/broken', { phase: 'Failed', reason: 'UpgradeFailed', firstSeen: T0 + 5000 }));
    const plan = planTrace(finished({ verdict: 'failed' }, many))!;
    const objects = plan.spans.filter((s) => s.id.startsWith('object:'));
    expect(objects).toHaveLength(MAX_OBJECT_SPANS);
    expect(objects.some((s) => s.id === 'object:HelmRelease/apps/broken')).toBe(true);
    expect(plan.spans[0]!.attributes['flux_monitor.objects']).toBe(MAX_OBJECT_SPANS + 11);
    expect(plan.spans[0]!.attributes['flux_monitor.objects.left_out']).toBe(11);
    expect(planTrace(finished({}, many.slice(0, 5)))!.spans[0]!.attributes['flux_monitor.objects.left_out']).toBeUndefined();
  });

  it('every span lies inside its parent, whatever the recorded times say', () => {
    const plan = planTrace(
      finished({}, [
        node('GitRepository/flux-system/early', { firstSeen: T0 - 5000, phaseSince: T0 - 4000 }), // seen before the start (the first LIST)
        node('Kustomization/flux-system/late', { firstSeen: T0 + 20_000, phaseSince: T0 + 30_000, settled: false, phase: 'Progressing' }),
      ]),
    )!;
    const spans = new Map(plan.spans.map((s) => [s.id, s]));
    for (const s of plan.spans) {
      expect(s.start).toBeLessThanOrEqual(s.end);
      if (!s.parent) continue;
      const p = spans.get(s.parent)!;
      expect(s.start).toBeGreaterThanOrEqual(p.start);
      expect(s.end).toBeLessThanOrEqual(p.end);
    }
  });
});

describe('otelTarget: who chooses where the trace goes', () => {
  it('the standard variables: the traces endpoint as is, the base endpoint with /v1/traces', () => {
    expect(otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toMatchObject({ url: 'http://collector:4318/v1/traces', from: 'OTEL_EXPORTER_OTLP_ENDPOINT' });
    expect(otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example/prefix/' })).toMatchObject({ url: 'https://otel.example/prefix/v1/traces' });
    expect(otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' })).toMatchObject({ url: 'http://b:9999/custom', from: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' });
  });

  it('nothing without a variable, with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none, or with otel: false in the hook file', () => {
    expect(otelTarget({})).toBeUndefined();
    expect(otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { otel: false })).toBeUndefined();
    expect(otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { otel: true })).toMatchObject({ url: 'http://c:4318/v1/traces' });
  });

  it('a bad value is a problem to warn about, and credentials in it are never shown', () => {
    expect(otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toEqual({ problem: expect.stringContaining('must be an http or https URL') });
    expect(otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toEqual({ problem: expect.stringContaining('is not a URL') });
    const t = otelTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://me:hunter2@otel.example/?api_key=k3y' }) as { shown: string; url: string };
    expect(t.url).toContain('hunter2'); // sent as the user wrote it
    expect(t.shown).not.toMatch(/hunter2|k3y|me:/);
  });

  it('a hook file may turn exporting off, never name an endpoint', () => {
    expect(parseConfig('config:\n  otel: false\n', 'hook.yaml').config.otel).toBe(false);
    expect(() => parseConfig('config:\n  otel:\n    endpoint: https://attacker.example\n', 'hook.yaml')).toThrow(/otel must be true or false: the endpoint \(endpoint\) cannot be set in a repository's file/);
    expect(() => parseConfig('config:\n  otel: "https://attacker.example"\n', 'hook.yaml')).toThrow(/otel must be true or false/);
  });
});

describe('exportSession against endpoints that do not take the trace', () => {
  const state = finished({}, [node('Kustomization/flux-system/apps')]);

  it('does nothing without an endpoint', async () => {
    expect(await exportSession(state, { env: {} })).toBeUndefined();
  });

  it('a closed port: one warning naming the endpoint, no exception', async () => {
    const port = await closedPort();
    const r = await exportSession(state, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, timeoutMs: 5000 });
    expect(r).toMatchObject({ exported: false, spans: 0 });
    // The reason the exporter gave (its retries end inside the bound), not a bare timeout.
    expect(r!.warning).toMatch(/ECONNREFUSED/);
    expect(r!.warning).toMatch(new RegExp(`^OpenTelemetry export to http://127\\.0\\.0\\.1:${port}/v1/traces failed: `));
    expect(r!.warning).not.toContain('\n');
  });

  it('an endpoint that never answers: the bound ends the wait with one warning', async () => {
    const srv = net.createServer(() => {}); // accepts and says nothing
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const r = await exportSession(state, { env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` }, timeoutMs: 300 });
      expect(r).toMatchObject({ exported: false });
      expect(r!.warning).toMatch(/failed: /);
    } finally {
      srv.close();
    }
  });

  it('an endpoint that refuses (HTTP 400): one warning; one that accepts: exported, with the spans it was sent', async () => {
    const bodies: Buffer[] = [];
    let status = 400;
    const srv = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks));
        res.writeHead(status, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const env = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}` };
      const refused = await exportSession(state, { env, timeoutMs: 20_000 });
      expect(refused).toMatchObject({ exported: false });
      expect(refused!.warning).toMatch(/failed/);
      status = 200;
      const ok = await exportSession(state, { env, timeoutMs: 20_000 });
      expect(ok).toMatchObject({ exported: true, spans: 2 });
      expect(ok!.warning).toBeUndefined();
      expect(ok!.traceId).toMatch(/^[0-9a-f]{32}$/);
      // The body is the OTLP protobuf request: it carries the pushed sha as an attribute value.
      expect(bodies.at(-1)!.includes(Buffer.from(SHA))).toBe(true);
    } finally {
      srv.close();
    }
  });
});

