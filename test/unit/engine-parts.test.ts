// Each part of the engine alone, through a fake EngineContext (src/engine/parts.ts, test/helpers/engine-context.ts): no Monitor, no reflector, no
// API server. What each part decides is checked on the state, the events and the requests it makes.
import { describe, expect, it } from 'vitest';
import type { ResourceType } from '../../src/cluster/discovery.js';
import { buildGraph } from '../../src/core/graph.js';
import type { CategorizedError, CommitRelation, FluxKind, KubeObject, NodeState } from '../../src/core/types.js';
import { CommitPlacement } from '../../src/engine/commits.js';
import { ControllerHealth } from '../../src/engine/health.js';
import { Outage } from '../../src/engine/outage.js';
import { ReconcileRequests } from '../../src/engine/reconcile.js';
import { REQUESTED_AT } from '../../src/engine/slim.js';
import { fakeEngineContext, type FakeEngineContext } from '../helpers/engine-context.js';

const SHA = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

type Fake = FakeEngineContext;

/** A session context with a clock the test moves, a client that answers from `answers` and records every request. */
function fake(answers?: (method: string, path: string) => unknown): Fake {
  const resources = new Map<FluxKind, ResourceType>([
    ['GitRepository', { kind: 'GitRepository', group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories', apiVersion: 'source.toolkit.fluxcd.io/v1' } as ResourceType],
    ['OCIRepository', { kind: 'OCIRepository', group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'ocirepositories', apiVersion: 'source.toolkit.fluxcd.io/v1' } as ResourceType],
    ['Kustomization', { kind: 'Kustomization', group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' } as ResourceType],
  ]);
  return fakeEngineContext({ sha: SHA, now: 1_000, timeoutMs: 300_000, answers, resources });
}

function node(key: string, over: Partial<NodeState> = {}): NodeState {
  const [kind, namespace, name] = key.split('/') as [string, string, string];
  return { key, kind, namespace, name, apiVersion: 'v1', phase: 'Pending', reason: 'x', message: '', affected: true, settled: false, phaseSince: 0, firstSeen: 0, ...over };
}

function object(key: string, over: Partial<KubeObject> = {}): KubeObject {
  const [kind, namespace, name] = key.split('/') as [string, string, string];
  return { apiVersion: 'v1', kind, metadata: { name, namespace, ...(over.metadata ?? {}) }, ...over } as KubeObject;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('CommitPlacement', () => {
  it('places each commit once: one containing the push joins through, one that replaced it joins newer', async () => {
    const m = fake();
    const asked: string[] = [];
    const rel: Record<string, CommitRelation> = { [B]: { relation: 'contains' }, [C]: { relation: 'diverged' } };
    const p = new CommitPlacement(m, async (sha) => (asked.push(sha), rel[sha]!));
    for (const r of [`main@sha1:${B}`, `main@sha1:${B}`, `main@sha1:${C}`, `main@sha1:${SHA}`]) p.check(r);
    await tick();
    expect(asked).toEqual([B, C]);
    expect(m.pushed).toMatchObject({ through: [B], newer: [C] });
    expect(p.known).toBe(2);
    expect(m.schedules).toBe(2);
    // The matched source carries B: the session says the push is applied through it.
    m.update({ nodes: { 'GitRepository/flux-system/repo': node('GitRepository/flux-system/repo', { revision: `main@sha1:${B}` }) } });
    p.noteThrough(['GitRepository/flux-system/repo']);
    expect(m.state.commit.through).toBe(B);
  });

  it('a commit git cannot place is said, kept as unknown (never a "no"), and its warning goes once it is placed', async () => {
    const m = fake();
    let answer: CommitRelation = { relation: 'unknown', reason: 'offline' };
    const p = new CommitPlacement(m, async () => answer);
    p.check(`main@sha1:${B}`);
    await tick();
    expect(m.pushed.through).toEqual([]);
    expect(p.lastUnplaced()).toEqual({ sha: B, reason: 'offline' });
    expect(m.state.warnings).toEqual([`a source is at bbbbbbb, and whether it includes aaaaaaa is unknown: offline`]);
    // Asked again later (here by hand: the part's timer would, after 5 s).
    answer = { relation: 'contains' };
    (p as unknown as { relate(sha: string): void }).relate(B);
    await tick();
    expect(m.pushed.through).toEqual([B]);
    expect(m.state.warnings).toEqual([]);
    p.stop();
  });
});

describe('Outage', () => {
  it('failures of several sources are one outage: one error event, one recovery with its duration', () => {
    const m = fake();
    const o = new Outage(m);
    const unreachable: CategorizedError = { category: 'unreachable', message: 'cannot reach https://x', hint: 'h' };
    o.report(unreachable, 'GitRepository/*');
    m.clock += 2_000;
    o.report({ category: 'server-error', message: '503', hint: 'h' }, 'Kustomization/*');
    expect(o.transientOpen()).toBe(true);
    expect(m.events.filter((e) => e.type === 'error')).toHaveLength(1);
    o.recovered('GitRepository/*');
    expect(m.state.error?.message).toBe('503');
    m.clock += 1_000;
    o.recovered('Kustomization/*');
    expect(o.transientOpen()).toBe(false);
    expect(m.state.error).toBeUndefined();
    expect(m.events.at(-1)).toMatchObject({ type: 'error', recovered: true, category: 'unreachable', outageMs: 3_000 });
    expect(m.schedules).toBe(1);
    expect(o.sinceError).toBe(true);
  });
});

describe('ReconcileRequests', () => {
  it('asks the matched sources that lack the push to fetch, never a Ready one, an ExternalArtifact, or twice a dependent', async () => {
    const m = fake();
    const r = new ReconcileRequests(m);
    const keys = ['GitRepository/flux-system/a', 'GitRepository/flux-system/b', 'Kustomization/flux-system/infra', 'Kustomization/flux-system/apps'];
    for (const k of keys) m.objectsMap.set(k, object(k));
    m.update({ matchedSources: ['GitRepository/flux-system/a', 'GitRepository/flux-system/b'] });
    m.update({ nodes: {
      'GitRepository/flux-system/a': node('GitRepository/flux-system/a'),
      'GitRepository/flux-system/b': node('GitRepository/flux-system/b', { phase: 'Ready' }),
      'Kustomization/flux-system/infra': node('Kustomization/flux-system/infra', { phase: 'Ready' }),
      'Kustomization/flux-system/apps': node('Kustomization/flux-system/apps', { phase: 'Waiting' }),
    } });
    await r.requestSources();
    expect(m.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['PATCH /apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/a']);
    expect(m.requests[0]!.body).toEqual({ metadata: { annotations: { [REQUESTED_AT]: new Date(1_000).toISOString() } } });
    // apps dependsOn infra, which is Ready with the push: asked once, however often the recompute runs.
    const g = buildGraph(new Map([['Kustomization/flux-system/apps', { ...object('Kustomization/flux-system/apps'), spec: { dependsOn: [{ name: 'infra' }] } } as KubeObject], ['Kustomization/flux-system/infra', object('Kustomization/flux-system/infra')]]));
    r.nudgeDependents(g);
    r.nudgeDependents(g);
    await tick();
    expect(m.requests.map((q) => q.path)).toEqual(['/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/a', '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps']);
    expect(r.requests.size).toBe(2);
  });
});

describe('ControllerHealth', () => {
  it('a reconcile request left unhandled points at the controller; not running, it ends the session saying so', async () => {
    const m = fake((method, path) => (path.endsWith('/deployments/source-controller') ? { spec: { replicas: 1 }, status: { availableReplicas: 0 } } : {}));
    const key = 'GitRepository/flux-system/repo';
    m.objectsMap.set(key, object(key, { metadata: { name: 'repo', namespace: 'flux-system', annotations: { [REQUESTED_AT]: 't1' } }, status: { lastHandledReconcileAt: 't0' } }));
    m.update({ nodes: { [key]: node(key) } });
    const h = new ControllerHealth(m, { lastMove: new Map(), requests: new Map([[key, { at: 1_000 }]]), graph: () => undefined, notHandledMs: 10_000 });
    m.clock = 5_000;
    h.check();
    await tick();
    expect(m.requests).toEqual([]); // not yet: 4 s
    m.clock = 12_000;
    h.check();
    await tick();
    await tick();
    expect(m.requests.map((q) => q.path)).toEqual(['/apis/apps/v1/namespaces/flux-system/deployments/source-controller']);
    expect(m.failed).toMatchObject({ category: 'controller-down' });
    expect(m.failed!.message).toMatch(/^source-controller is not running: Deployment flux-system\/source-controller has 0\/1 replicas available \(GitRepository flux-system\/repo has not handled the reconcile request of 11s ago\)$/);
    // Reported once.
    h.check();
    await tick();
    expect(m.requests).toHaveLength(1);
  });
});
