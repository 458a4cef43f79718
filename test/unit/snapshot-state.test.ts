// snapshotState: the live view's copy of the engine's state must not see the engine's later in-place updates.
import { describe, expect, it } from 'vitest';
import { newSessionState, snapshotState, type NodeState } from '../../src/core/types.js';

const node = (key: string): NodeState => ({
  key,
  kind: 'Kustomization',
  namespace: 'flux-system',
  name: key,
  phase: 'Pending',
  reason: 'Pending',
  message: 'waiting',
  affected: true,
  settled: false,
  phaseSince: 0,
  firstSeen: 0,
});

describe('snapshotState', () => {
  it('is equal to the state and unaffected by what the engine changes in place afterwards', () => {
    const s = newSessionState({ id: 'x', sha: 'a'.repeat(40), timeoutMs: 1000, now: 0 }, (u) => u);
    s.nodes = { a: node('a'), b: node('b') };
    s.warnings.push('w1');
    const snap = snapshotState(s);
    expect(snap).toEqual(structuredClone(s));
    // What the engine does: settle marks and rewrites on nodes, a node replaced in the record, a warning added.
    s.nodes.a!.settled = true;
    s.nodes.a!.phase = 'Superseded';
    s.nodes.a!.blockedBy = 'b';
    s.nodes.b = { ...node('b'), phase: 'Ready' };
    s.warnings.push('w2');
    s.updatedAt = 5;
    expect(snap.nodes.a).toMatchObject({ settled: false, phase: 'Pending' });
    expect(snap.nodes.a!.blockedBy).toBeUndefined();
    expect(snap.nodes.b!.phase).toBe('Pending');
    expect(snap.warnings).toEqual(['w1']);
    expect(snap.updatedAt).toBe(0);
  });
});
