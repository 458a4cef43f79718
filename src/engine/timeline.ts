// The push's timeline (core/timeline.ts) as the session goes: after each recompute, the nodes it changed are
// looked at once (never per watch event), and what their new phase adds to their moments is recorded in
// state.timeline. A record is replaced, never changed, and the map of records is copied once it has been
// published (EngineContext.published), so a published state keeps what it saw.
import { recordNode, recordSourceReady, TIMELINE_LIMITS, type ObjectMoments, type Timeline } from '../core/timeline.js';
import { SOURCE_KINDS, type FluxKind, type GraphEdge } from '../core/types.js';
import type { EngineContext } from './parts.js';

export class TimelineRecorder {
  /** Consumers of each source (the `source` edges, reversed), rebuilt when the edges change. */
  private consumers?: { edges: GraphEdge[]; by: Map<string, string[]> };

  constructor(private readonly m: Pick<EngineContext, 'state' | 'objects' | 'now' | 'update' | 'published'>) {}

  /** The timeline to record into: the state's own while it has not been published, else a copy put in the state. */
  private get timeline(): Timeline {
    const tl = this.m.state.timeline;
    if (tl && !this.m.published(tl.objects)) return tl;
    const next: Timeline = tl ? { ...tl, objects: { ...tl.objects } } : { objects: {} };
    this.m.update({ timeline: next });
    return next;
  }

  /** After a recompute: records what the nodes `keys` (all nodes when undefined) add to their moments. */
  note(keys?: readonly string[]): void {
    const s = this.m.state;
    const now = this.m.now();
    let tl = s.timeline ?? { objects: {} };
    let writable = false;
    const open = (): Timeline => {
      if (!writable) {
        tl = this.timeline;
        writable = true;
      }
      return tl;
    };
    let count = -1;
    const visit = (key: string) => {
      const n = s.nodes[key];
      if (!n || !n.affected) return;
      const prev = tl.objects[key];
      if (!prev) {
        if (count < 0) count = Object.keys(tl.objects).length;
        if (count >= TIMELINE_LIMITS.objects) {
          const t = open();
          t.dropped = (t.dropped ?? 0) + 1;
          return;
        }
      }
      const next = recordNode(prev, n, this.m.objects.get(key), now, s.startedAt);
      if (next === prev || !next) return;
      if (!prev) count++;
      open().objects[key] = next;
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
