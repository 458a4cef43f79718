// A fake EngineContext (src/engine/parts.ts) for testing one part of the engine alone: no Monitor, no reflector,
// no API server. The state is kept as the Monitor keeps it under the tests (FLUX_MONITOR_FREEZE_STATES): every
// state is deep-frozen and `update` makes a new one, so a part that writes a published state in place throws.
// The clock is the test's (`clock`); events, warnings, schedules, the error verdict and the client's requests are
// recorded; `objectsMap` are the objects the part sees; `isFinished` is what `finished` says.
import type { ClusterClient } from '../../src/cluster/client.js';
import type { ResourceType } from '../../src/cluster/discovery.js';
import { deepFreeze, newSessionState, type CategorizedError, type FluxKind, type KubeObject, type MonitorEvent, type SessionState } from '../../src/core/types.js';
import type { EngineContext } from '../../src/engine/parts.js';

export interface FakeEngineContext extends EngineContext {
  events: MonitorEvent[];
  warnings: string[];
  requests: Array<{ method: string; path: string; body?: unknown }>;
  schedules: number;
  failed?: CategorizedError;
  clock: number;
  objectsMap: Map<string, KubeObject>;
  isFinished: boolean;
}

export interface FakeEngineContextOptions {
  /** The pushed commit. */
  sha: string;
  /** The session's start and the clock's first time (ms since epoch). */
  now: number;
  /** The session's timeout. */
  timeoutMs: number;
  /** What the client answers to each request (an Error is thrown); `{}` when not given. */
  answers?: (method: string, path: string) => unknown;
  /** The served resource of each Flux kind; none when not given. */
  resources?: ReadonlyMap<FluxKind, ResourceType>;
}

/** A running session's context over a fresh state for `sha`, with a clock the test moves. */
export function fakeEngineContext(opts: FakeEngineContextOptions): FakeEngineContext {
  const answers = opts.answers ?? (() => ({}));
  let state: SessionState = deepFreeze({ ...newSessionState({ id: 's', sha: opts.sha, timeoutMs: opts.timeoutMs, now: opts.now }, (u) => u), status: 'running' });
  const update = (patch: Partial<SessionState>) => void (state = deepFreeze({ ...state, ...patch }));
  const f = {
    events: [] as MonitorEvent[],
    warnings: [] as string[],
    requests: [] as FakeEngineContext['requests'],
    schedules: 0,
    clock: opts.now,
    objectsMap: new Map<string, KubeObject>(),
    isFinished: false,
  } as Partial<FakeEngineContext>;
  const client = {
    request: async (method: string, path: string, o?: { body?: unknown }) => {
      f.requests!.push({ method, path, body: o?.body });
      const a = answers(method, path);
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as ClusterClient;
  Object.defineProperty(f, 'state', { get: () => state, enumerable: true });
  return Object.assign(f, {
    update,
    published: () => true,
    client,
    pushed: { sha: opts.sha, branch: 'main', newer: [], through: [] },
    get objects() {
      return f.objectsMap!;
    },
    resources: opts.resources ?? new Map<FluxKind, ResourceType>(),
    get finished() {
      return f.isFinished!;
    },
    synced: true,
    concluding: false,
    signal: new AbortController().signal,
    now: () => f.clock!,
    time: () => new Date(f.clock!).toISOString(),
    emit: (e: MonitorEvent) => void f.events!.push(e),
    publish: () => undefined,
    warn: (m: string) => {
      if (!f.warnings!.includes(m)) f.warnings!.push(m);
      if (!state.warnings.includes(m)) update({ warnings: [...state.warnings, m] });
    },
    categorize: (err: unknown) => ({ category: 'internal' as const, message: String(err), hint: 'x' }),
    schedule: () => void f.schedules!++,
    failWith: (err: CategorizedError) => void (f.failed = err),
  }) as FakeEngineContext;
}
