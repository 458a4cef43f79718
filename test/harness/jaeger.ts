// A real Jaeger (v2: cmd/jaeger of github.com/jaegertracing/jaeger, an OpenTelemetry-collector distribution) on
// loopback for the OpenTelemetry export test: built by test/jaeger/build.sh from its Go module, started with its
// own YAML config (the all-in-one's memory storage, cmd/jaeger/internal/all-in-one.yaml, cut to what the test
// needs): the OTLP/HTTP receiver, in-memory storage, the query API and the health check, each on a free port.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, installExitHook, liveClusters, logTail, Proc, runBuildScript, waitFor } from './kube-cluster.js';

/** A span as Jaeger's query API (`/api/traces`, its UI's JSON) returns it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  /** µs since epoch. */
  startTime: number;
  /** µs. */
  duration: number;
  tags: { key: string; type: string; value: string | number | boolean }[];
  logs: { timestamp: number; fields: { key: string; type: string; value: string | number | boolean }[] }[];
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
}

export interface Jaeger {
  /** OTLP/HTTP base endpoint (`http://127.0.0.1:<port>`): what OTEL_EXPORTER_OTLP_ENDPOINT is set to. */
  otlpHttpEndpoint: string;
  /** The query API's base URL (`http://127.0.0.1:<port>`). */
  queryUrl: string;
  /** GET /api/traces?service=…: the traces of a service (newest first as Jaeger returns them). */
  traces(service: string): Promise<JaegerTrace[]>;
  /** GET /api/traces/<id>. Undefined when Jaeger does not have it (404). */
  trace(traceId: string): Promise<JaegerTrace | undefined>;
  logs(lines?: number): string;
  stop(): Promise<void>;
}

export function findJaegerDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'test', 'jaeger');
    if (existsSync(path.join(candidate, 'build.sh'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('jaeger: cannot find test/jaeger/build.sh above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let buildPromise: Promise<void> | undefined;

/** Runs test/jaeger/build.sh (a no-op when bin/jaeger is up to date). */
export function ensureJaegerBuilt(opts: { log?: (s: string) => void } = {}): Promise<void> {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  buildPromise ??= runBuildScript(path.join(findJaegerDir(), 'build.sh'), log, 'test/jaeger/build.sh').catch((err) => {
    buildPromise = undefined;
    throw err;
  });
  return buildPromise;
}

/** The config: loopback only, fixed free ports, memory storage, no batching (a span is stored when received). */
function config(p: { otlpHttp: number; query: number; queryGrpc: number; health: number }): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info

extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${p.health}
  jaeger_query:
    storage:
      traces: memstore
    # Times exactly as sent: no clock skew adjustment.
    max_clock_skew_adjust: 0s
    http:
      endpoint: 127.0.0.1:${p.query}
    grpc:
      endpoint: 127.0.0.1:${p.queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000

receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${p.otlpHttp}

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

export async function startJaeger(opts: { log?: (s: string) => void } = {}): Promise<Jaeger> {
  await ensureJaegerBuilt({ log: opts.log });
  const bin = path.join(findJaegerDir(), 'bin', 'jaeger');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flux-monitor-jaeger-'));
  const ports = { otlpHttp: await freePort(), query: await freePort(), queryGrpc: await freePort(), health: await freePort() };
  const configFile = path.join(dir, 'config.yaml');
  await writeFile(configFile, config(ports));
  const proc = new Proc('jaeger', bin, ['--config', configFile], path.join(dir, 'jaeger.log'), () => undefined);
  const handle = { kill: () => proc.killSync() };
  liveClusters.add(handle);
  installExitHook();
  proc.start();
  const queryUrl = `http://127.0.0.1:${ports.query}`;
  try {
    // Ready: the health check says the pipelines run, and the query API answers.
    await waitFor('Jaeger to be ready', 60_000, async () => {
      const fail = proc.failure();
      if (fail) throw Object.assign(new Error(fail), { fatal: true });
      const h = await fetch(`http://127.0.0.1:${ports.health}/status`);
      if (!h.ok) return false;
      const q = await fetch(`${queryUrl}/api/services`);
      return q.ok;
    }, () => logTail(proc.logFile));
  } catch (err) {
    proc.killSync();
    liveClusters.delete(handle);
    throw err;
  }
  const getJson = async (url: string): Promise<{ status: number; body: unknown }> => {
    const r = await fetch(url);
    return { status: r.status, body: r.status === 200 ? await r.json() : await r.text() };
  };
  return {
    otlpHttpEndpoint: `http://127.0.0.1:${ports.otlpHttp}`,
    queryUrl,
    async traces(service) {
      const r = await getJson(`${queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=100`);
      if (r.status !== 200) throw new Error(`jaeger: GET /api/traces: ${r.status} ${String(r.body).slice(0, 300)}`);
      return ((r.body as { data?: JaegerTrace[] }).data ?? []) as JaegerTrace[];
    },
    async trace(traceId) {
      const r = await getJson(`${queryUrl}/api/traces/${traceId}`);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw new Error(`jaeger: GET /api/traces/${traceId}: ${r.status} ${String(r.body).slice(0, 300)}`);
      return (r.body as { data: JaegerTrace[] }).data[0];
    },
    logs: (lines = 40) => logTail(proc.logFile, lines),
    async stop() {
      await proc.stop(2_000);
      liveClusters.delete(handle);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
