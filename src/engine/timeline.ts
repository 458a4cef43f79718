// The push's timeline (core/timeline.ts) as the session goes: after each recompute, the nodes it changed are
// looked at once (never per watch event), and what their new phase adds to their moments is recorded in
// state.timeline. A record is replaced, never changed, so a snapshot of the state keeps what it saw.
import { recordNode, recordSourceReady, TIMELINE_LIMITS, type ObjectMoments, type Timeline } from '../core/timeline.js';
import { SOURCE_KINDS, type FluxKind, type GraphEdge } from '../core/types.js';
import type { EngineContext } from './parts.js';

export class TimelineRecorder {
  /** Consumers of each source (the `source` edges, reversed), rebuilt when the edges change. */
  private consumers?: { edges: GraphEdge[]; by: Map<string, string[]> };

  constructor(private readonly m: Pick<EngineContext, 'state' | 'objects' | 'now'>) {}

  private get timeline(): Timeline {
    return (this.m.state.timeline ??= { objects: {} });
  }

  /** After a recompute: records what the nodes `keys` (all nodes when undefined) add to their moments. */
  note(keys?: readonly string[]): void {
    const s = this.m.state;
    const now = this.m.now();
    const tl = this.timeline;
    const objects = tl.objects;
    let count = -1;
    const visit = (key: string) => {
      const n = s.nodes[key];
      if (!n || !n.affected) return;
      const prev = objects[key];
      if (!prev) {
        if (count < 0) count = Object.keys(objects).length;
        if (count >= TIMELINE_LIMITS.objects) {
          tl.dropped = (tl.dropped ?? 0) + 1;
          return;
        }
      }
      const next = recordNode(prev, n, this.m.objects.get(key), now, s.startedAt);
      if (next === prev || !next) return;
      if (!prev) count++;
      objects[key] = next;
      if (next.ready && !prev?.ready && SOURCE_KINDS.includes(n.kind as FluxKind)) this.sourceReady(key, next);
    };
    if (keys) for (const k of keys) visit(k);
    else for (const k in s.nodes) visit(k);
  }

  /** A source has the commit: its consumers record when, and how long they waited on it. */
  private sourceReady(key: string, m: ObjectMoments): void {
    const s = this.m.state;
    if (this.consumers?.edges !== s.edges) {
      const by = new Map<string, string[]>();
      for (const e of s.edges) {
        if (e.type !== 'source') continue;
        let l = by.get(e.to);
        if (!l) by.set(e.to, (l = []));
        l.push(e.from);
      }
      this.consumers = { edges: s.edges, by };
    }
    const objects = this.timeline.objects;
    const affected = (this.consumers.by.get(key) ?? []).filter((c) => s.nodes[c]?.affected && (objects[c] || Object.keys(objects).length < TIMELINE_LIMITS.objects));
    for (const [c, next] of recordSourceReady(key, m.ready!, affected, (k) => objects[k], s.startedAt)) objects[c] = next;
  }
}
