// Errors of the session's sources (discovery, each reflector scope) as one story: the first failure opens an
// outage and is reported; while it lasts, other transient failures (more kinds losing their watch, 5xx or 429
// while an apiserver restarts) are part of it and only update the session's error, and a different non-transient
// one (401, 403) is reported too. When every source works again: one recovery event, with the outage's duration.
// Routine events (a relist after 410 Gone, a quiet watch) never get here: the reflector handles them.
import { TRANSIENT_CATEGORIES } from '../cluster/errors.js';
import type { CategorizedError } from '../core/types.js';
import type { EngineContext } from './parts.js';

export class Outage {
  /** Errors reported during the current outage (category:message), so that each is said once. */
  private readonly reported = new Set<string>();
  /** The open error of each source, latest report last; removed on recovery. */
  private readonly open = new Map<string, CategorizedError>();
  /** From the first failure of any source until every source works again. */
  private current?: { since: number; first: CategorizedError };
  /** A source failed since the last full confirmation of a verdict: the next one reads every kind. */
  sinceError = false;

  constructor(private readonly m: EngineContext) {}

  /** A failure of one source. */
  report(err: CategorizedError, source: string): void {
    const m = this.m;
    this.sinceError = true;
    this.open.delete(source);
    this.open.set(source, err);
    m.update({ error: err });
    this.current ??= { since: m.now(), first: err };
    const id = `${err.category}:${err.message}`;
    if (this.reported.size === 0 || (!TRANSIENT_CATEGORIES.has(err.category) && !this.reported.has(id))) {
      this.reported.add(id);
      m.emit({ type: 'error', time: m.time(), session: m.state.id, recovered: false, ...err });
    }
    m.publish();
  }

  /** A source works again. When no source is failing any more, the outage is over (a verdict held back may be due). */
  recovered(source: string): void {
    const m = this.m;
    if (!this.open.delete(source)) return;
    m.update({ error: [...this.open.values()].at(-1) });
    if (!m.state.error && this.current) {
      const { since, first } = this.current;
      this.current = undefined;
      this.reported.clear();
      m.emit({ type: 'error', time: m.time(), session: m.state.id, recovered: true, ...first, outageMs: m.now() - since });
      m.schedule();
    }
    m.publish();
  }

  /** Whether a source is failing for a passing reason (unreachable, 5xx, throttled): what is known may be stale. */
  transientOpen(): boolean {
    return [...this.open.values()].some((e) => TRANSIENT_CATEGORIES.has(e.category));
  }
}
