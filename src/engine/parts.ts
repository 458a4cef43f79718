// What the parts of the engine (commits, reconcile requests, controller health, diagnoses, custom kinds) need
// from the Monitor that wires them: the session state, the clock, the event and state outlets, and the objects
// as the reflectors keep them. Each part is given this and nothing else, so it can be tested with a fake one.
import type { ClusterClient } from '../cluster/client.js';
import type { ResourceType } from '../cluster/discovery.js';
import type { CategorizedError, FluxKind, KubeObject, MonitorEvent, PushedRevision, SessionState } from '../core/types.js';

export interface EngineContext {
  /**
   * The current session state. A change is a new state made by `update`, sharing what did not change (the nodes
   * record and the node objects included). Nothing a published state holds is ever changed; only the nodes
   * record of a state not published yet may be changed in place, by the recompute (`published()`).
   */
  readonly state: Readonly<SessionState>;
  /** Makes the current state a new one: `state` with `patch` over it (published by the next `publish()`). */
  update(patch: Partial<SessionState>): void;
  /**
   * Whether a record of the state (its `nodes`, its timeline's `objects`) has been published: then it is never
   * changed again, and a change goes into a copy.
   */
  published(nodes: Readonly<Record<string, unknown>>): boolean;
  readonly client: ClusterClient;
  readonly pushed: PushedRevision;
  /** The current objects of the Flux kinds, slimmed, by key. */
  readonly objects: ReadonlyMap<string, KubeObject>;
  /** The served resource of each Flux kind (from discovery). */
  readonly resources: ReadonlyMap<FluxKind, ResourceType>;
  /** The session has its verdict: parts stop acting. */
  readonly finished: boolean;
  /** The first LIST of every kind has arrived. */
  readonly synced: boolean;
  /** The verdict is decided and waits for the last diagnoses: the state is frozen. */
  readonly concluding: boolean;
  /** Aborted when the session finishes. */
  readonly signal: AbortSignal;
  now(): number;
  /** `now()` as an ISO time, for events. */
  time(): string;
  emit(e: MonitorEvent): void;
  /** Hands the current state to its readers. */
  publish(): void;
  /** A warning event, once per text. */
  warn(message: string): void;
  /** An error in words, naming the API server the session reaches. */
  categorize(err: unknown): CategorizedError;
  /** Recomputes the nodes soon (batched). */
  schedule(): void;
  /** Ends the session with an error verdict (a controller that is not running, say). */
  failWith(err: CategorizedError): void;
}
