// Conformance: the OpenTelemetry export (issue 28 items 4-5) for real. A push through the real source- and
// kustomize-controller, followed by the detached monitor (src/session/monitor-process.ts, as after `git push`)
// with OTEL_EXPORTER_OTLP_ENDPOINT set to a real Jaeger (cmd/jaeger built from its Go module, test/jaeger/);
// the trace is read back from Jaeger's query API and checked against the session file: one root span for the
// push, a child per object, parent links, durations. Then a push with a dead endpoint: the same verdict, one
// warning.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/net.js';
import { orderOf } from '../../src/core/timeline.js';
import { EXIT_CODES } from '../../src/core/types.js';
import { runDetachedSession } from '../../src/session/monitor-process.js';
import { statePaths } from '../../src/session/paths.js';
import { readSessionFile, sessionFile, type StoredSession } from '../../src/session/store.js';
import { startJaeger, type Jaeger, type JaegerSpan, type JaegerTrace } from '../harness/jaeger.js';
import { chainFiles, chainObjects, configMap } from './cases.js';
import { fluxSuite, waitUntil, type Case } from './support.js';

const suite = fluxSuite({ beforeAll, afterAll });
const withCase = suite.withCase;

let jaeger: Jaeger | undefined;
beforeAll(async () => {
  jaeger = await startJaeger();
});
afterAll(async () => {
  await jaeger?.stop();
});

const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;
const parentOf = (s: JaegerSpan) => s.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
/** ms → µs, as Jaeger reports times. */
const us = (ms: number) => ms * 1000;
/** Equal within a microsecond (the SDK's ms → ns → µs conversions). */
const near = (a: number, b: number) => Math.abs(a - b) <= 1;

/** Runs the detached monitor in this process, as `flux-monitor run-session` does after a push. */
async function detached(c: Case, sha: string, home: string, otelEnv: NodeJS.ProcessEnv): Promise<{ code: number; stored: StoredSession; log: string[] }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_STATE_HOME: path.join(home, 'state'), KUBECONFIG: suite.env().kubeconfig, CI: '1' };
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  delete env.OTEL_SDK_DISABLED;
  delete env.OTEL_TRACES_EXPORTER;
  Object.assign(env, otelEnv);
  const paths = statePaths(env);
  const id = `20261206-010000-${sha.slice(0, 8)}`;
  const log: string[] = [];
  const code = await runDetachedSession({ id, repoPath: c.repo.dir, branch: 'main', sha, url: c.repo.url, remote: 'origin', pushedAt: Date.now(), paths, env, kubeconfig: suite.env().kubeconfig, writeIntervalMs: 50, log: (l) => log.push(l) });
  const stored = readSessionFile(sessionFile(paths, id));
  return { code, stored, log };
}

describe('real Flux: OpenTelemetry export to a real Jaeger', () => {
  it('the detached monitor exports the push as one trace (root, objects, parent links, durations of the session); a dead endpoint is one warning', () =>
    withCase('otel-export', 'a push across a dependsOn chain, exported to Jaeger; then one with a dead endpoint', async (c) => {
      const home = mkdtempSync(path.join(os.tmpdir(), 'fm-otel-home-'));
      try {
        const first = await c.setup(chainFiles('one'), chainObjects);
        await c.waitReady([['GitRepository', 'repo'], ['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
        mkdirSync(path.join(c.repo.dir, '.kiro', 'hooks'), { recursive: true });
        writeFileSync(path.join(c.repo.dir, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), 'config:\n  timeout: 180\n  auto_reconcile: true\n  notify: never\n');

        // 1. Exported to Jaeger.
        const sha = await c.push('change both levels', { 'infra/config.yaml': configMap('infra-config', { message: 'two' }), 'apps/config.yaml': configMap('apps-config', { message: 'two' }) });
        const run = await detached(c, sha, home, { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger!.otlpHttpEndpoint });
        await c.adopt(run.stored);
        const s = run.stored;
        expect(s.verdict).toBe('success');
        expect(run.code).toBe(EXIT_CODES.success);
        expect(s.warnings.filter((w) => w.includes('OpenTelemetry'))).toEqual([]);
        const exportedLine = run.log.find((l) => l.startsWith('OpenTelemetry: trace '));
        expect(exportedLine, run.log.join('\n')).toBeDefined();

        // Read back through Jaeger's query API: the service's traces, the one of this commit.
        let trace: JaegerTrace | undefined;
        await waitUntil(suite.env(), 'the trace of the push in Jaeger', async () => {
          const traces = await jaeger!.traces('flux-monitor');
          trace = traces.find((t) => t.spans.some((sp) => tag(sp, 'vcs.ref.head.revision') === sha));
          return trace !== undefined;
        }, 60_000);
        const t = trace!;
        expect(exportedLine).toContain(t.traceID);
        expect(Object.values(t.processes).map((p) => p.serviceName)).toEqual(['flux-monitor']);

        // One root: the push, from the push (the waterfall's axis) to its verdict.
        const roots = t.spans.filter((sp) => sp.references.length === 0);
        expect(roots.map((r) => r.operationName)).toEqual([`push ${sha.slice(0, 7)} to main`]);
        const root = roots[0]!;
        const from = Math.min(s.pushedAt ?? s.startedAt, s.startedAt);
        expect(near(root.startTime, us(from)), `root start ${root.startTime} vs ${us(from)}`).toBe(true);
        expect(near(root.duration, us(s.endedAt! - from)), `root duration ${root.duration} vs ${us(s.endedAt! - from)}`).toBe(true);
        expect(tag(root, 'flux_monitor.verdict')).toBe('success');
        expect(tag(root, 'flux_monitor.session.id')).toBe(s.id);
        expect(tag(root, 'vcs.ref.head.name')).toBe('main');
        expect(tag(root, 'otel.status_code')).toBe('OK');
        const clampMs = (x: number) => Math.min(s.endedAt!, Math.max(from, x));

        // A span per affected object, each a child of the root and inside it, from its first recorded moment to
        // the Ready moment the session's timeline holds; a child span per wait interval it recorded.
        const affected = Object.values(s.nodes).filter((n) => n.affected);
        expect(affected.length).toBeGreaterThanOrEqual(3);
        const objectSpans = t.spans.filter((sp) => tag(sp, 'flux_monitor.object.key') !== undefined);
        expect(objectSpans.map((sp) => tag(sp, 'flux_monitor.object.key')).sort()).toEqual(affected.map((n) => n.key).sort());
        let waits = 0;
        for (const n of affected) {
          const sp = objectSpans.find((x) => tag(x, 'flux_monitor.object.key') === n.key)!;
          const m = s.timeline?.objects[n.key];
          expect(parentOf(sp), n.key).toBe(root.spanID);
          expect(sp.operationName).toBe(`${n.kind} ${n.namespace}/${n.name}`);
          expect(tag(sp, 'flux_monitor.object.phase')).toBe(n.phase);
          expect(tag(sp, 'flux_monitor.object.reason')).toBe(n.reason);
          expect(tag(sp, 'otel.status_code')).toBe('OK');
          expect(sp.startTime).toBeGreaterThanOrEqual(root.startTime);
          expect(sp.startTime + sp.duration).toBeLessThanOrEqual(root.startTime + root.duration + 1);
          expect(n.phase).toBe('Ready');
          expect(m?.ready, `${n.key} has a Ready moment in the timeline`).toBeDefined();
          // Moment times as the session's waterfall draws them (orderOf).
          const first = Math.min(m!.waits?.[0]?.from ?? Infinity, m!.started ? orderOf(m!.started) : Infinity);
          expect(near(sp.startTime, us(clampMs(Number.isFinite(first) ? first : n.firstSeen))), `${n.key} start`).toBe(true);
          expect(near(sp.startTime + sp.duration, us(clampMs(orderOf(m!.ready!)))), `${n.key} end`).toBe(true);
          const events = sp.logs.map((l) => l.fields.find((f) => f.key === 'event')?.value);
          expect(events).toContain('ready');
          if (m!.started) expect(events).toContain('started');
          const waitSpans = t.spans.filter((w) => parentOf(w) === sp.spanID);
          expect(waitSpans.length, `${n.key} wait spans`).toBe(m!.waits?.length ?? 0);
          for (const w of waitSpans) {
            expect(w.operationName).toMatch(/^waiting for /);
            expect(w.startTime).toBeGreaterThanOrEqual(sp.startTime);
            expect(w.startTime + w.duration).toBeLessThanOrEqual(sp.startTime + sp.duration + 1);
          }
          waits += waitSpans.length;
        }
        const apps = objectSpans.find((sp) => tag(sp, 'flux_monitor.object.name') === 'apps' && tag(sp, 'flux_monitor.object.kind') === 'Kustomization')!;
        expect(String(tag(apps, 'flux_monitor.object.revision'))).toContain(sha);
        // Nothing else in the trace: the root, the objects and their waits.
        expect(t.spans.length).toBe(1 + affected.length + waits);

        // 2. A dead endpoint: the verdict and the exit code as without export, one warning.
        const port = await closedPort();
        const sha2 = await c.push('change apps', { 'apps/config.yaml': configMap('apps-config', { message: 'three' }) });
        const dead = await detached(c, sha2, home, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
        await c.adopt(dead.stored);
        expect(dead.stored.verdict).toBe('success');
        expect(dead.code).toBe(EXIT_CODES.success);
        const warnings = dead.stored.warnings.filter((w) => w.includes('OpenTelemetry'));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(new RegExp(`^OpenTelemetry export to http://127\\.0\\.0\\.1:${port}/v1/traces failed: `));
        expect(dead.log.filter((l) => l.includes('OpenTelemetry'))).toEqual(warnings);
        expect(dead.stored.commit.sha).toBe(sha2);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }));
});

