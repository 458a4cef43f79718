// Where the commits the objects carry stand to the pushed one. Each commit seen on an object (other than the
// pushed one) is placed once by the git layer: one that contains the push joins pushed.through (the objects
// carrying it carry the push), one that replaced it without containing it joins pushed.newer (Superseded). A
// commit git cannot place (not fetchable, a shallow clone) is said in a warning and asked about again later:
// a "no" that came from a missing object is never kept.
import type { CommitRelation } from '../core/types.js';
import { revisionCommit, sameCommit, throughCommit } from '../core/revision.js';
import type { EngineContext } from './parts.js';

/** How often a commit git could not place is asked about again: 5 s, 10 s, 20 s, then every 60 s. */
export function retryDelay(attempt: number): number {
  return Math.min(60_000, 5_000 * 2 ** (attempt - 1));
}

export class CommitPlacement {
  /** Commits whose relation is known or being asked; an `unknown` answer is asked again later. */
  private readonly checked = new Set<string>();
  /** Commits git could not place, with why, and the timer that asks again. */
  private readonly unplaced = new Map<string, { reason: string; attempt: number; timer?: NodeJS.Timeout }>();
  /** Bumped whenever a commit joins pushed.newer or pushed.through: statuses computed before are stale. */
  known = 0;

  constructor(
    private readonly m: EngineContext,
    private readonly relateCommit?: (sha: string) => Promise<CommitRelation>,
  ) {}

  /** Asks the git layer where the commit a revision names stands to the pushed one (once per commit). */
  check(revision: string | undefined): void {
    if (!revision || !this.relateCommit) return;
    const sha = revisionCommit(revision)?.toLowerCase();
    if (!sha || sha.length < 7 || sameCommit(sha, this.m.pushed.sha) || this.checked.has(sha)) return;
    this.checked.add(sha);
    this.relate(sha);
  }

  private relate(sha: string): void {
    const pushed = this.m.pushed;
    const unknown = (reason: string) => {
      if (this.m.finished) return;
      const attempt = (this.unplaced.get(sha)?.attempt ?? 0) + 1;
      const timer = setTimeout(() => this.relate(sha), retryDelay(attempt));
      timer.unref?.();
      this.unplaced.set(sha, { reason, attempt, timer });
      this.m.warn(`${warningPrefix(sha)}and whether it includes ${pushed.sha.slice(0, 7)} is unknown: ${reason}`);
    };
    this.relateCommit!(sha).then(
      (r) => {
        if (this.m.finished) return;
        if (r.relation === 'unknown') return unknown(r.reason);
        if (this.unplaced.delete(sha)) this.m.update({ warnings: this.m.state.warnings.filter((w) => !w.startsWith(warningPrefix(sha))) });
        if (r.relation === 'contains') pushed.through!.push(sha);
        else if (r.relation === 'diverged') pushed.newer!.push(sha);
        else return;
        this.known++;
        this.m.schedule();
      },
      (err) => unknown(err instanceof Error ? err.message : String(err)),
    );
  }

  /** The last commit git could not place, and why (for the timeout's verdict message). */
  lastUnplaced(): { sha: string; reason: string } | undefined {
    const last = [...this.unplaced].at(-1);
    return last && { sha: last[0], reason: last[1].reason };
  }

  /**
   * `commit.through`: the commit containing the push that the matched sources carry (the objects that carry it
   * are judged as carrying the push).
   */
  noteThrough(matched: string[]): void {
    const pushed = this.m.pushed;
    if (!pushed.through!.length) return;
    let through: string | undefined;
    for (const k of matched) {
      const t = throughCommit(this.m.state.nodes[k]?.revision, pushed);
      if (t) through = t;
    }
    if (through && this.m.state.commit.through !== through) this.m.update({ commit: { ...this.m.state.commit, through } });
  }

  stop(): void {
    for (const u of this.unplaced.values()) clearTimeout(u.timer);
  }
}

const warningPrefix = (sha: string) => `a source is at ${sha.slice(0, 7)}, `;
