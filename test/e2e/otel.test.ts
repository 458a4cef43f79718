// `watch` with the OpenTelemetry export configured (docs/config.md#opentelemetry), end to end on the built CLI
// and the API simulator: the trace is POSTed after the verdict to the endpoint the environment names; a dead
// endpoint is one warning on stderr and changes neither the JSON on stdout nor the exit code. (The trace's
// content, read back from a real Jaeger after a real-Flux push: test/conformance/otel.test.ts.)
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/net.js';
import type { KubeObject, MonitorEvent } from '../../src/core/types.js';
import { ApiSimulator } from '../../src/sim/server.js';
import { git as gitStatus, ks as ksStatus } from '../../src/sim/flux-status.js';
import { requireBuild, TestRepo } from '../helpers/e2e.js';

let sim: ApiSimulator;
let kubeconfig: string;
const repos: TestRepo[] = [];

beforeAll(async () => {
  requireBuild();
  sim = new ApiSimulator();
  await sim.start();
  kubeconfig = await sim.writeKubeconfig(join((await import('node:os')).tmpdir(), `fm-e2e-otel-${process.pid}`));
});
afterEach(() => {
  for (const r of repos.splice(0)) r.stopAll();
});
afterAll(async () => {
  await sim?.stop();
});

/** A GitRepository and a Kustomization of the repository, both already Ready at `sha` (the shapes Flux writes: src/sim/flux-status.ts). */
function fluxAt(r: TestRepo, name: string, sha: string): void {
  const ref = (kind: string) => ({ kind, namespace: 'flux-system', name });
  sim.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace: 'flux-system' }, spec: { url: r.remote, ref: { branch: 'main' }, interval: '1m' } } as KubeObject);
  sim.apply({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace: 'flux-system' }, spec: { sourceRef: { kind: 'GitRepository', name }, path: './deploy', interval: '1m', prune: true } } as KubeObject);
  sim.setStatus(ref('GitRepository'), gitStatus.ready(sim.get(ref('GitRepository'))!, `main@sha1:${sha}`));
  sim.setStatus(ref('Kustomization'), ksStatus.ready(sim.get(ref('Kustomization'))!, `main@sha1:${sha}`, {}));
}

async function watch(r: TestRepo, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.cjs'), 'watch', '--json'], { cwd: r.work, env: { ...r.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  return { code, stdout, stderr };
}

const summaryOf = (out: string) => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as MonitorEvent).at(-1);

describe('watch with OpenTelemetry', () => {
  it('a dead endpoint: the same verdict, JSON and exit code, one warning on stderr', async () => {
    const r = new TestRepo({ kubeconfig, install: false, config: 'config:\n  timeout: 20\n  notify: never\n' });
    repos.push(r);
    const sha = r.commit('applied already');
    r.ok(r.work, 'push', '-q', '--no-verify', 'origin', 'main');
    fluxAt(r, 'otel-dead', sha);
    const port = await closedPort();
    const run = await watch(r, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(run.code, run.stderr).toBe(0);
    expect(summaryOf(run.stdout)).toMatchObject({ type: 'summary', verdict: 'success', exitCode: 0 });
    const lines = run.stderr.split('\n').filter((l) => l.includes('OpenTelemetry'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^flux-monitor watch: warning: OpenTelemetry export to http://127\\.0\\.0\\.1:${port}/v1/traces failed: `));
  });

  it('an endpoint that takes it: the trace of the pushed commit is POSTed to /v1/traces after the verdict, nothing said', async () => {
    const r = new TestRepo({ kubeconfig, install: false, config: 'config:\n  timeout: 20\n  notify: never\n' });
    repos.push(r);
    const sha = r.commit('applied already');
    r.ok(r.work, 'push', '-q', '--no-verify', 'origin', 'main');
    fluxAt(r, 'otel-ok', sha);
    const received: Array<{ path?: string; type?: string; body: Buffer }> = [];
    const srv = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
    try {
      const run = await watch(r, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}` });
      expect(run.code, run.stderr).toBe(0);
      expect(summaryOf(run.stdout)).toMatchObject({ type: 'summary', verdict: 'success' });
      expect(run.stderr).not.toContain('OpenTelemetry');
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ path: '/v1/traces', type: 'application/x-protobuf' });
      expect(received[0]!.body.includes(Buffer.from(sha))).toBe(true);
      expect(received[0]!.body.includes(Buffer.from('Kustomization flux-system/otel-ok'))).toBe(true);
    } finally {
      srv.close();
    }
  });
});

