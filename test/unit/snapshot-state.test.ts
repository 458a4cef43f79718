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

describe('snapshotState with the reader’s previous copy', () => {
  it('shares the nodes that have not changed since that copy and copies the others', () => {
    const s = newSessionState({ id: 'x', sha: 'a'.repeat(40), timeoutMs: 1000, now: 0 }, (u) => u);
    s.nodes = { a: node('a'), b: node('b'), c: node('c') };
    const first = snapshotState(s);
    // One status write: a changes in place, c is replaced by an equal object, d appears, b is untouched.
    s.nodes.a!.phase = 'Ready';
    s.nodes.c = { ...s.nodes.c! };
    s.nodes.d = node('d');
    const second = snapshotState(s, first);
    expect(second).toEqual(structuredClone(s));
    expect(second.nodes.b).toBe(first.nodes.b);
    expect(second.nodes.c).toBe(first.nodes.c);
    expect(second.nodes.a).not.toBe(first.nodes.a);
    expect(first.nodes.a!.phase).toBe('Pending');
    // A field added or removed is a change too.
    s.nodes.b!.blockedBy = 'a';
    delete (s.nodes.c as Partial<NodeState>).message;
    const third = snapshotState(s, second);
    expect(third).toEqual(structuredClone(s));
    expect(third.nodes.b).not.toBe(second.nodes.b);
    expect(third.nodes.c).not.toBe(second.nodes.c);
    expect(second.nodes.b!.blockedBy).toBeUndefined();
    // Still a copy: the engine's later in-place changes do not reach it.
    s.nodes.d!.phase = 'Failed';
    expect(third.nodes.d!.phase).toBe('Pending');
  });
});
