// OpenTelemetry export of a finished session (docs/config.md#opentelemetry): one trace per session, sent over
// OTLP/HTTP (protobuf) with the OpenTelemetry JS SDK, after the verdict has been written or printed. The SDK is
// loaded lazily (a separate chunk of the bundle), only when an endpoint is configured: other runs load nothing.
//
// Who chooses where the data goes: only the environment of the user (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
// OTEL_EXPORTER_OTLP_ENDPOINT, the standard variables). A repository's hook file is untrusted (docs/security.md):
// it may turn exporting off for its sessions (`config.otel: false`), never name an endpoint.
import { redactUrl } from '../core/giturl.js';
import { firstLine } from '../core/sanitize.js';
import type { MonitorConfig, SessionState } from '../core/types.js';
import { planTrace, type PlannedSpan, type TracePlan } from './otel-plan.js';

/** Longest the export may take after the verdict (the flush), whatever the endpoint does. */
export const DEFAULT_EXPORT_TIMEOUT_MS = 3000;

/** The instrumentation scope and the service name of the spans. */
export const SERVICE_NAME = 'flux-monitor';

export interface OtelTarget {
  /** The OTLP/HTTP traces URL the spans are POSTed to. */
  url: string;
  /** The same, with credentials and query removed: what messages show. */
  shown: string;
  /** The variable it came from. */
  from: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_EXPORTER_OTLP_ENDPOINT';
}

/**
 * Where to send the trace, from the environment, as the OpenTelemetry specification reads the variables:
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the full URL; OTEL_EXPORTER_OTLP_ENDPOINT is a base URL to which
 * `v1/traces` is appended. `OTEL_SDK_DISABLED=true` and `OTEL_TRACES_EXPORTER=none` turn exporting off, and so does
 * `otel: false` in the repository's hook file. A value that is not an http(s) URL is a problem to warn about.
 */
export function otelTarget(env: NodeJS.ProcessEnv, config?: Pick<MonitorConfig, 'otel'>): OtelTarget | { problem: string } | undefined {
  if (config?.otel === false) return undefined;
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return undefined;
  if ((env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase() === 'none') return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const from = traces ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : base ? 'OTEL_EXPORTER_OTLP_ENDPOINT' : undefined;
  if (!from) return undefined;
  let url: URL;
  try {
    url = new URL(traces || base!);
  } catch {
    return { problem: `${from} is not a URL: ${firstLine(redactUrl(traces || base!), { maxLength: 200 })}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `${from} must be an http or https URL (got ${url.protocol})` };
  if (!traces) url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  const full = url.toString();
  const shown = new URL(full);
  shown.username = '';
  shown.password = '';
  shown.search = '';
  return { url: full, shown: redactUrl(shown.toString()), from };
}

export interface ExportResult {
  /** The trace was accepted by the endpoint. */
  exported: boolean;
  /** Spans sent (0 when nothing was). */
  spans: number;
  /** The trace id (32 hex digits) when spans were made. */
  traceId?: string;
  /** How long the export took, ms. */
  ms: number;
  /** One line saying why nothing was exported, when an endpoint was configured; absent otherwise. */
  warning?: string;
}

export interface ExportOptions {
  env: NodeJS.ProcessEnv;
  config?: Pick<MonitorConfig, 'otel'>;
  /** Bound on the whole export, ms (default DEFAULT_EXPORT_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * Exports a finished session as one trace when the environment names an endpoint; otherwise does nothing and
 * loads nothing. Never throws and never takes longer than `timeoutMs`, the SDK's loading included: a dead, slow
 * or refusing endpoint gives `warning`, one line, and the caller says it once.
 */
export async function exportSession(state: SessionState, o: ExportOptions): Promise<ExportResult | undefined> {
  const target = otelTarget(o.env, o.config);
  if (!target) return undefined;
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  if ('problem' in target) return { exported: false, spans: 0, ms: 0, warning: `OpenTelemetry export skipped: ${target.problem}` };
  const plan = planTrace(state);
  if (!plan) return undefined;
  const timeoutMs = o.timeoutMs ?? DEFAULT_EXPORT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<{ ok: false; why: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, why: `no answer within ${timeoutMs} ms` }), timeoutMs);
    timer.unref?.();
  });
  try {
    const deadlineAt = performance.now() + timeoutMs;
    const work = sendPlan(plan, target.url, () => deadlineAt - performance.now()).then(
      (r) => r,
      (err: unknown) => ({ ok: false as const, why: firstLine(err, { maxLength: 300 }) || 'export failed', spans: 0 }),
    );
    const r = await Promise.race([work, deadline]);
    if (r.ok) return { exported: true, spans: r.spans, traceId: r.traceId, ms: ms() };
    return { exported: false, spans: 0, ms: ms(), warning: `OpenTelemetry export to ${target.shown} failed: ${firstLine(r.why, { maxLength: 300 })}` };
  } finally {
    clearTimeout(timer);
  }
}

type SendResult = { ok: true; spans: number; traceId: string } | { ok: false; why: string };

/** Makes the plan's spans with the SDK (explicit times and parents) and sends them in one OTLP request. */
async function sendPlan(plan: TracePlan, url: string, remainingMs: () => number): Promise<SendResult> {
  const [api, sdk, resources, semconv, exporterModule] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  type ReadableSpan = import('@opentelemetry/sdk-trace').ReadableSpan;
  const ended: ReadableSpan[] = [];
  // Collects the ended spans; they are sent below in one request whose outcome is known (not by a batch timer).
  const collector: import('@opentelemetry/sdk-trace').SpanProcessor = {
    onStart: () => {},
    onEnd: (span) => void ended.push(span),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: SERVICE_NAME }),
    spanProcessors: [collector],
    // Nothing is sampled away: the whole session is one small trace.
    sampler: new sdk.AlwaysOnSampler(),
  });
  const tracer = provider.getTracer(SERVICE_NAME);
  const made = new Map<string, import('@opentelemetry/api').Span>();
  for (const p of plan.spans) {
    const parent = p.parent ? made.get(p.parent) : undefined;
    const ctx = parent ? api.trace.setSpan(api.ROOT_CONTEXT, parent) : api.ROOT_CONTEXT;
    const span = tracer.startSpan(p.name, { startTime: p.start, attributes: p.attributes, kind: api.SpanKind.INTERNAL, root: !parent }, ctx);
    for (const e of p.events) span.addEvent(e.name, e.attributes, e.time);
    setStatus(span, p, api.SpanStatusCode);
    made.set(p.id, span);
  }
  // End children before parents (the plan lists parents first).
  for (const p of [...plan.spans].reverse()) made.get(p.id)!.end(p.end);
  const traceId = made.get(plan.spans[0]!.id)!.spanContext().traceId;

  // The exporter retries what may pass (a refused connection, 429, 503) with backoff inside its own timeout: a
  // little shorter than what is left of the bound, so that a dead endpoint ends with its reason rather than with
  // the bound.
  const exporter = new exporterModule.OTLPTraceExporter({ url, timeoutMillis: Math.max(100, Math.floor(remainingMs() * 0.8)), keepAlive: false });
  try {
    const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(ended, resolve));
    if (result.code === 0) return { ok: true, spans: ended.length, traceId };
    return { ok: false, why: result.error?.message ?? 'the endpoint refused the trace' };
  } finally {
    void exporter.shutdown().catch(() => {});
  }
}

function setStatus(span: import('@opentelemetry/api').Span, p: PlannedSpan, codes: typeof import('@opentelemetry/api').SpanStatusCode): void {
  if (p.status.code === 'error') span.setStatus({ code: codes.ERROR, message: p.status.message });
  else if (p.status.code === 'ok') span.setStatus({ code: codes.OK });
}
