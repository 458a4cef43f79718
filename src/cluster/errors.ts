// Turns failures of the cluster access layer into categorised, actionable errors.
import type { CategorizedError, ErrorCategory } from '../core/types.js';
import { sanitizeText } from '../core/sanitize.js';

/** An HTTP error answered by the API server (non-2xx). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    readonly body: unknown,
    readonly retryAfterMs?: number,
  ) {
    super(`${status} ${statusMessage(body) ?? ''}`.trim());
    this.name = 'ApiError';
  }

  /** Kubernetes Status.reason, when the body is a Status object. */
  get reason(): string | undefined {
    const b = this.body as { reason?: unknown } | undefined;
    return typeof b?.reason === 'string' ? b.reason : undefined;
  }
}

/**
 * A watch the server accepted and then sent nothing on (not even a BOOKMARK) for a while. A quiet watch is normal
 * (a kind nobody changes, a server that sends no bookmarks): the caller re-opens it silently, and only a failure
 * of that re-open says something about the cluster.
 */
export class WatchStallError extends Error {
  readonly code = 'EWATCHSTALL';
  constructor(readonly stallMs: number) {
    super(`watch quiet for ${stallMs} ms`);
    this.name = 'WatchStallError';
  }
}

/**
 * A 2xx answer whose body is not what a Kubernetes API server sends: not JSON (a proxy's login page, a captive
 * portal), JSON cut short, a LIST that is not a list, or a body beyond the size limit. Never "no objects": a
 * transient `server-error`, retried like a 503.
 */
export class BadBodyError extends Error {
  readonly code = 'EBADBODY';
  constructor(
    readonly status: number,
    readonly path: string,
    /** What is wrong, e.g. `a body that is not JSON (text/html)`. */
    readonly what: string,
  ) {
    super(`HTTP ${status} with ${what}`);
    this.name = 'BadBodyError';
  }
}

/** An error that already carries its category (e.g. from discovery or kubeconfig loading). */
export class MonitorError extends Error {
  constructor(readonly info: CategorizedError) {
    super(info.message);
    this.name = 'MonitorError';
  }
}

function statusMessage(body: unknown): string | undefined {
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  if (typeof body === 'string' && body.length > 0) return body.slice(0, 300);
  return undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** Categories of failures that heal on their own (the cluster comes back, a watch is re-opened, a list is made again). */
export const TRANSIENT_CATEGORIES: ReadonlySet<ErrorCategory> = new Set<ErrorCategory>(['unreachable', 'server-error', 'throttled', 'gone']);

/** Whether a failure is worth retrying on its own (the cluster may come back, a watch may be re-opened). */
export function isTransient(err: unknown): boolean {
  return TRANSIENT_CATEGORIES.has(categorize(err).category);
}

/** Maps any error to a category, a short message and one actionable hint. Never leaks credentials. */
/**
 * The hint of an error once the session has ended: flux-monitor no longer retries, reopens or carries on, so the
 * words that promise it are dropped (what to check stays). Hints without such words are returned unchanged.
 */
export function finalHint(hint: string): string {
  const out = hint
    .replace(/;\s*flux-monitor keeps retrying\.?/g, '.')
    .replace(/;\s*flux-monitor (?:lists again and carries on|backs off and retries) by itself\.?/g, '.')
    .replace(/;\s*flux-monitor keeps what it knew and retries\./g, '.')
    .replace(/\s*flux-monitor retries with backoff\./g, '')
    .replace(/^flux-monitor re-?opens (?:quiet watches|the watch) by itself[;.]\s*/i, '')
    .trim();
  return out ? out.charAt(0).toUpperCase() + out.slice(1) : hint;
}

export function categorize(err: unknown, what = 'the Kubernetes API'): CategorizedError {
  if (err instanceof MonitorError) return err.info;
  if (err instanceof ApiError) {
    const msg = sanitizeText(statusMessage(err.body) ?? `HTTP ${err.status}`, { maxLength: 400 });
    switch (err.status) {
      case 401:
        return {
          category: 'unauthorized',
          status: 401,
          message: `the API server rejected the credentials (401 Unauthorized)`,
          hint: 'Your kubeconfig credentials are missing or expired: log in again (e.g. refresh your cloud CLI token) and check `kubectl auth whoami`.',
        };
      case 403:
        return {
          category: 'forbidden',
          status: 403,
          message: msg,
          hint: 'RBAC forbids this: ask for get/list/watch on Flux resources, or limit flux-monitor to namespaces you can read (config `namespaces`).',
        };
      case 404:
        return {
          category: 'not-found',
          status: 404,
          message: msg,
          hint: 'The resource or API is not served: check that Flux is installed (`flux check`) and that you use the right --context.',
        };
      case 410:
        return {
          category: 'gone',
          status: 410,
          message: msg,
          hint: 'The watch fell too far behind (410 Gone); flux-monitor lists again and carries on by itself.',
        };
      case 429:
        return {
          category: 'throttled',
          status: 429,
          message: msg,
          hint: 'The API server is throttling requests; flux-monitor backs off and retries by itself.',
        };
      default:
        if (err.status >= 500) {
          return {
            category: 'server-error',
            status: err.status,
            message: msg,
            hint: 'The API server had an internal error; flux-monitor retries with backoff. If it persists, check the control plane.',
          };
        }
        return { category: 'internal', status: err.status, message: msg, hint: 'Unexpected answer from the API server; rerun with FLUX_MONITOR_DEBUG=1 for details.' };
    }
  }
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } } | undefined;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  const message = sanitizeText(typeof e?.message === 'string' ? e.message : String(err), { maxLength: 400 });
  if (err instanceof WatchStallError) {
    // Not a failure (the reflector re-opens such watches silently); categorised for completeness only.
    return {
      category: 'server-error',
      message: `a watch on ${what} sent nothing for ${Math.round(err.stallMs / 1000)}s`,
      hint: 'flux-monitor re-opens quiet watches by itself.',
    };
  }
  if (err instanceof BadBodyError) {
    return {
      category: 'server-error',
      status: err.status,
      message: sanitizeText(`${what} answered HTTP ${err.status} with ${err.what}`, { maxLength: 400 }),
      hint: 'Something between you and the API server may answer in its place (a proxy that wants a login, a captive portal); flux-monitor keeps what it knew and retries. Check `kubectl get --raw /version`.',
    };
  }
  if (code === 'EPROTO_FRAME') {
    return {
      category: 'server-error',
      message: `${what} sent a malformed watch event`,
      hint: 'flux-monitor reopens the watch by itself; if this keeps happening, check proxies between you and the API server.',
    };
  }
  if (code && TLS_CODES.has(code)) {
    return {
      category: 'unreachable',
      message: `TLS verification of ${what} failed (${code})`,
      hint: 'The server certificate does not match your kubeconfig: check certificate-authority-data and the server address.',
    };
  }
  if ((code && NETWORK_CODES.has(code)) || /socket hang up|network|timed? ?out|ECONNREFUSED/i.test(message)) {
    return {
      category: 'unreachable',
      message: `cannot reach ${what}${code ? ` (${code})` : ''}`,
      hint: 'Check the cluster is up and reachable (VPN, `kubectl cluster-info`, the --context you use); flux-monitor keeps retrying.',
    };
  }
  return { category: 'internal', message, hint: 'Unexpected error; rerun with FLUX_MONITOR_DEBUG=1 for details.' };
}
