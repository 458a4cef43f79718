import { describe, expect, it } from 'vitest';
import { buildTree, formatDuration, shownPhase, summarize, type TreeRow } from '../../src/ui/layout.js';
import { countKey, countPhases } from '../../src/core/types.js';
import { colorEnabled, shouldUseInk } from '../../src/ui/mode.js';
import { cleanText, shortUrl, textWidth, truncate, wrapLine } from '../../src/ui/theme.js';
import type { NodeState } from '../../src/core/types.js';
import { edge, fleet, node, sampleSession, session, T0 } from './factory.js';

/** Rows as text lines: prefix + a short label, to compare the tree shape. */
function shape(rows: TreeRow[]): string[] {
  return rows.map((r) => {
    switch (r.type) {
      case 'node':
        return `${r.prefix}${r.node.kind}/${r.node.name}`;
      case 'detail':
        return `${r.prefix}${r.text}`;
      case 'ref':
      case 'more':
        return `${r.prefix}${r.text}`;
    }
  });
}

describe('buildTree', () => {
  it('puts sources first and hangs dependents, consumers and applied objects under them', () => {
    const f = fleet();
    expect(shape(buildTree(f.state, { showAll: false, verbosity: 'normal' }))).toEqual([
      'GitRepository/flux-system',
      '└─ Kustomization/infra',
      '   └─ Kustomization/apps',
      '      └─ HelmRelease/podinfo',
    ]);
  });

  it('shows the objects of custom kinds (a PipelineRun of the push) as their own roots after the Flux tree, with a failure’s reason', () => {
    const f = fleet();
    const pr: NodeState = {
      ...node('Kustomization', 'x', 'Failed'),
      key: 'PipelineRun/ci/build-x7k2p',
      kind: 'PipelineRun',
      namespace: 'ci',
      name: 'build-x7k2p',
      apiVersion: 'tekton.dev/v1',
      reason: 'Failed',
      message: 'Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1',
    };
    const state = session([...Object.values(f.state.nodes), pr], f.edges, { matchedSources: [f.src.key] });
    expect(shape(buildTree(state, { showAll: false, verbosity: 'normal' }))).toEqual([
      'GitRepository/flux-system',
      '└─ Kustomization/infra',
      '   └─ Kustomization/apps',
      '      └─ HelmRelease/podinfo',
      'PipelineRun/build-x7k2p',
      '  Failed: Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1',
    ]);
    expect(summarize(state).counts.failed).toBe(1);
  });

  it('draws an object reachable twice once, with a reference at the second place', () => {
    const src = node('GitRepository', 'flux-system', 'Ready');
    const crds = node('Kustomization', 'crds', 'Ready');
    const infra = node('Kustomization', 'infra', 'Ready');
    const apps = node('Kustomization', 'apps', 'Progressing');
    const s = session([src, crds, infra, apps], [
      edge(crds, src, 'source'),
      edge(infra, src, 'source'),
      edge(apps, src, 'source'),
      edge(apps, crds, 'dependsOn'),
      edge(apps, infra, 'dependsOn'),
    ]);
    const rows = buildTree(s, { showAll: false, verbosity: 'normal' });
    expect(shape(rows)).toEqual([
      'GitRepository/flux-system',
      '├─ Kustomization/crds',
      '│  └─ Kustomization/apps',
      '└─ Kustomization/infra',
      '   └─ ↳ see Kustomization flux-system/apps',
    ]);
    expect(rows.filter((r) => r.type === 'node' && r.key === apps.key)).toHaveLength(1);
  });

  it('terminates on dependsOn cycles and marks them', () => {
    const a = node('Kustomization', 'a', 'Waiting');
    const b = node('Kustomization', 'b', 'Waiting');
    const c = node('Kustomization', 'c', 'Waiting');
    const s = session([a, b, c], [edge(a, b, 'dependsOn'), edge(b, c, 'dependsOn'), edge(c, a, 'dependsOn')], {
      cycles: [[a.key, b.key, c.key]],
    });
    const rows = buildTree(s, { showAll: false, verbosity: 'normal' });
    expect(shape(rows)).toEqual(['Kustomization/a', '└─ Kustomization/c', '   └─ Kustomization/b', '      └─ ↻ cycle back to Kustomization flux-system/a']);
    expect(rows.filter((r) => r.type === 'node').every((r) => r.type === 'node' && r.cycle)).toBe(true);
  });

  it('keeps a source applied by its own Kustomization as a root (flux-system bootstrap)', () => {
    const src = node('GitRepository', 'flux-system', 'Ready');
    const ks = node('Kustomization', 'flux-system', 'Ready');
    const s = session([ks, src], [edge(ks, src, 'source'), edge(ks, src, 'inventory'), edge(ks, ks, 'inventory')]);
    expect(shape(buildTree(s, { showAll: false, verbosity: 'normal' }))).toEqual(['GitRepository/flux-system', '└─ Kustomization/flux-system']);
  });

  it('hangs a HelmRepository under the Kustomization that applies it, while the pushed-to source stays a root', () => {
    const src = node('GitRepository', 'flux-system', 'Ready');
    const ks = node('Kustomization', 'apps', 'Ready');
    const repo = node('HelmRepository', 'podinfo', 'Ready');
    const chart = node('HelmChart', 'apps-podinfo', 'Ready');
    const s = session(
      [src, ks, repo, chart],
      [edge(ks, src, 'source'), edge(ks, src, 'inventory'), edge(ks, repo, 'inventory'), edge(chart, repo, 'source')],
      { matchedSources: [src.key] },
    );
    expect(shape(buildTree(s, { showAll: false, verbosity: 'normal' }))).toEqual([
      'GitRepository/flux-system',
      '└─ Kustomization/apps',
      '   └─ HelmRepository/podinfo',
      '      └─ HelmChart/apps-podinfo',
    ]);
  });

  it('shows only affected objects unless showAll', () => {
    const f = fleet();
    const other = node('Kustomization', 'unrelated', 'Ready', { affected: false });
    const s = session([...Object.values(f.state.nodes), other], f.edges);
    expect(shape(buildTree(s, { showAll: false, verbosity: 'normal' }))).not.toContain('Kustomization/unrelated');
    expect(shape(buildTree(s, { showAll: true, verbosity: 'normal' }))).toContain('Kustomization/unrelated');
  });

  it('adds the failure reason and the message line that carries the cause under failed objects; verbose adds the rest and blockers', () => {
    // Flux puts the cause last: the last line, not the first, says what to fix.
    const failed = node('Kustomization', 'apps', 'Failed', { reason: 'BuildFailed', message: 'kustomize build failed\nsecond line' });
    const waiting = node('Kustomization', 'web', 'Waiting', { reason: 'DependencyNotReady', message: "dependency 'flux-system/apps' is not ready", blockers: ['flux-system/apps'] });
    const s = session([failed, waiting], [edge(waiting, failed, 'dependsOn')]);
    expect(shape(buildTree(s, { showAll: false, verbosity: 'normal' }))).toEqual([
      'Kustomization/apps',
      '│ BuildFailed: second line',
      '└─ Kustomization/web',
    ]);
    expect(shape(buildTree(s, { showAll: false, verbosity: 'verbose' }))).toEqual([
      'Kustomization/apps',
      '│ BuildFailed: kustomize build failed',
      '│ second line',
      '└─ Kustomization/web',
      "     waiting for: flux-system/apps",
      "     DependencyNotReady: dependency 'flux-system/apps' is not ready",
    ]);
  });

  it('show_dependencies: false keeps dependents out of their dependencies and names no blockers', () => {
    const failed = node('Kustomization', 'apps', 'Failed', { reason: 'BuildFailed', message: 'kustomize build failed' });
    const waiting = node('Kustomization', 'web', 'Waiting', { reason: 'DependencyNotReady', message: "dependency 'flux-system/apps' is not ready", blockers: ['flux-system/apps'] });
    const s = session([failed, waiting], [edge(waiting, failed, 'dependsOn')]);
    expect(shape(buildTree(s, { showAll: false, verbosity: 'verbose', showDependencies: false }))).toEqual([
      'Kustomization/apps',
      '  BuildFailed: kustomize build failed',
      'Kustomization/web',
      "  DependencyNotReady: dependency 'flux-system/apps' is not ready",
    ]);
  });

  it('truncates detail lines to the width, and wraps them in verbose mode', () => {
    const failed = node('Kustomization', 'apps', 'Failed', { reason: 'BuildFailed', message: 'word '.repeat(40).trim() });
    const s = session([failed]);
    const normal = buildTree(s, { showAll: false, verbosity: 'normal', width: 40 }).filter((r) => r.type === 'detail');
    expect(normal).toHaveLength(1);
    expect(normal[0]!.type === 'detail' && normal[0]!.text.endsWith('…')).toBe(true);
    const verbose = buildTree(s, { showAll: false, verbosity: 'verbose', width: 40 }).filter((r) => r.type === 'detail');
    expect(verbose.length).toBeGreaterThan(4);
    for (const r of verbose) expect(textWidth(r.prefix + (r.type === 'detail' ? r.text : ''))).toBeLessThanOrEqual(40);
    expect(verbose.map((r) => (r.type === 'detail' ? r.text : '')).join(' ')).toBe(`BuildFailed: ${'word '.repeat(40).trim()}`);
  });

  it('reuses the shape of the tree for a new state of the same graph, and follows what changed since', () => {
    // The live view asks for a tree at every new state; the engine keeps its edges array while the graph holds.
    const f = fleet({ apps: 'Progressing', hr: 'Pending' });
    // apps also applies a HelmRepository: it hangs under apps unless it is a matched source.
    const charts = node('HelmRepository', 'charts', 'Ready');
    f.state = session([...Object.values(f.state.nodes), charts], [...f.edges, edge(f.apps, charts, 'inventory')], { matchedSources: [f.src.key] });
    const opts = { showAll: false, verbosity: 'normal' as const, maxRows: 20, width: 80 };
    const fresh = (s: typeof f.state) => buildTree(structuredClone(s), opts); // a new edges array: nothing reused
    buildTree(f.state, opts);
    // Phases move (same graph, new node objects as the live view's copy has them).
    const moved = { ...f.state, nodes: { ...f.state.nodes, [f.apps.key]: { ...f.apps, phase: 'Failed' as const, reason: 'BuildFailed', message: 'kustomize build failed' } } };
    expect(buildTree(moved, opts)).toEqual(fresh(moved));
    // An object stops being affected: the shown set changes, the edges array does not.
    const hidden = { ...moved, nodes: { ...moved.nodes, [f.infra.key]: { ...f.infra, affected: false } } };
    expect(shape(buildTree(hidden, opts))).toEqual(shape(fresh(hidden)));
    expect(shape(buildTree(hidden, opts))).not.toContain('└─ Kustomization/infra');
    // The matched sources change (a new list, same edges).
    const rematched = { ...hidden, matchedSources: [charts.key] };
    expect(shape(buildTree(rematched, opts))).toEqual(shape(fresh(rematched)));
    expect(shape(buildTree(rematched, opts))[0]).toBe('HelmRepository/charts');
    // show_dependencies off with the same state.
    const flat = { ...opts, showDependencies: false };
    expect(shape(buildTree(moved, flat))).toEqual(shape(buildTree(structuredClone(moved), flat)));
    expect(shape(buildTree(moved, flat))).not.toEqual(shape(buildTree(moved, opts)));
  });

  describe('collapsing to a height budget', () => {
    function bigFleet() {
      const src = node('GitRepository', 'flux-system', 'Ready');
      const nodes = [src];
      const edges = [];
      for (let i = 0; i < 20; i++) {
        const phase = i === 3 ? 'Failed' : i === 5 ? 'Progressing' : i === 8 ? 'Suspended' : 'Ready';
        const k = node('Kustomization', `app-${String(i).padStart(2, '0')}`, phase, { reason: 'HealthCheckFailed', message: 'timeout' });
        nodes.push(k);
        edges.push(edge(k, src, 'source'));
      }
      return session(nodes, edges);
    }

    it('folds ready subtrees first into "+N more ready", keeping failures and progress', () => {
      const rows = buildTree(bigFleet(), { showAll: false, verbosity: 'normal', maxRows: 12 });
      expect(rows.length).toBeLessThanOrEqual(12);
      const text = shape(rows);
      expect(text).toContain('├─ Kustomization/app-03');
      expect(text).toContain('│    HealthCheckFailed: timeout');
      expect(text).toContain('├─ Kustomization/app-05');
      expect(text).toContain('├─ Kustomization/app-08'); // suspended is only folded after the ready ones
      const more = rows.find((r) => r.type === 'more');
      expect(more).toMatchObject({ type: 'more', text: expect.stringMatching(/^\+\d+ more ready$/) });
      // Every object is either drawn or counted.
      const drawn = rows.filter((r) => r.type === 'node').length;
      expect(drawn + (more?.type === 'more' ? more.count : 0)).toBe(21);
    });

    it('then folds other settled subtrees, naming their phases', () => {
      const rows = buildTree(bigFleet(), { showAll: false, verbosity: 'normal', maxRows: 5 });
      expect(rows).toHaveLength(5);
      const text = shape(rows);
      expect(text).toContain('├─ Kustomization/app-03');
      expect(text).toContain('├─ Kustomization/app-05');
      expect(text).not.toContain('├─ Kustomization/app-08');
      expect(text).toContain('└─ +18 more (17 ready, 1 suspended)');
    });

    it('never exceeds the budget, even when only failures are left', () => {
      const nodes = Array.from({ length: 10 }, (_, i) => node('Kustomization', `bad-${i}`, 'Failed', { reason: 'BuildFailed', message: 'x' }));
      const rows = buildTree(session(nodes), { showAll: false, verbosity: 'normal', maxRows: 5 });
      expect(rows).toHaveLength(5);
      // Details go before objects: four failed objects, then the count of the rest.
      expect(rows.slice(0, 4).every((r) => r.type === 'node' && r.node.phase === 'Failed')).toBe(true);
      expect(rows.at(-1)).toMatchObject({ type: 'more', text: '+6 more not shown', count: 6 });
      // With room for them, failures keep their reason line.
      const some = buildTree(session(nodes.slice(0, 3)), { showAll: false, verbosity: 'normal', maxRows: 6 });
      expect(shape(some)).toEqual(['Kustomization/bad-0', '  BuildFailed: x', 'Kustomization/bad-1', '  BuildFailed: x', 'Kustomization/bad-2', '  BuildFailed: x']);
    });

    it('drops references and folds in-progress subtrees before cutting, keeping the failure', () => {
      const rows = buildTree(sampleSession(), { showAll: false, verbosity: 'normal', maxRows: 6 });
      expect(shape(rows)).toEqual([
        'GitRepository/flux-system',
        '└─ Kustomization/infra-controllers',
        '   ├─ Kustomization/monitoring',
        "   │    HealthCheckFailed: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress'] (after 30s)",
        // tenants waits on the failed monitoring: blocked, as the summary counts it.
        '   └─ +4 more (2 progressing, 1 blocked, 1 ready)',
        '+2 more ready',
      ]);
    });

    it('leaves the tree alone when it fits', () => {
      const s = bigFleet();
      expect(buildTree(s, { showAll: false, verbosity: 'normal', maxRows: 100 })).toEqual(buildTree(s, { showAll: false, verbosity: 'normal' }));
    });
  });
});

describe('summarize', () => {
  it('one vocabulary: each object counts once, as its row shows it; a blocked one only as blocked (the --json counts too)', () => {
    const f = fleet({ apps: 'Failed', hr: 'Pending' });
    // What the engine's computeSettled leaves: the HelmRelease apps would apply, and a dependent of apps, blocked.
    f.state.nodes[f.hr.key] = { ...f.hr, settled: true, blockedBy: f.apps.key };
    const web = node('Kustomization', 'web', 'Waiting', { settled: true, blockedBy: f.apps.key });
    const later = node('Kustomization', 'later', 'Waiting'); // still waiting: what it waits for may yet come
    const s = session([...Object.values(f.state.nodes), web, later], [...f.edges, edge(web, f.apps, 'dependsOn')]);
    const counts = summarize(s).counts;
    expect(counts).toMatchObject({ ready: 2, failed: 1, waiting: 1, pending: 0, blocked: 2 });
    expect(summarize(s).countsLine).toBe('2 ready, 0 progressing, 1 waiting, 1 failed, 0 pending, 2 blocked');
    // Every object counted once: the counts add up to the objects (what --json's summary carries: countPhases).
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(Object.keys(s.nodes).length);
    expect(countPhases(Object.values(s.nodes))).toEqual(counts);
    // The rows say the same words.
    const rows = buildTree(s, { showAll: false, verbosity: 'normal' }).filter((r) => r.type === 'node');
    const said = Object.fromEntries(rows.map((r) => [r.node.name, shownPhase(r.node)]));
    expect(said).toMatchObject({ podinfo: 'Blocked', web: 'Blocked', later: 'Waiting', apps: 'Failed' });
    for (const r of rows) expect(shownPhase(r.node) === 'Blocked').toBe(countKey(r.node) === 'blocked');
  });

  it('counts affected objects by phase, adding rare phases only when present', () => {
    const f = fleet({ apps: 'Failed', hr: 'Waiting' });
    expect(summarize(f.state).countsLine).toBe('2 ready, 0 progressing, 1 waiting, 1 failed, 0 pending');
    const s = session([node('Kustomization', 'a', 'Suspended'), node('Kustomization', 'b', 'Superseded'), node('Kustomization', 'c', 'Ready', { affected: false })]);
    expect(summarize(s).countsLine).toBe('0 ready, 0 progressing, 0 waiting, 0 failed, 0 pending, 1 suspended, 1 superseded');
    expect(summarize(s).total).toBe(2);
  });

  it('gives the verdict line once there is a verdict', () => {
    const f = fleet();
    expect(summarize(f.state).verdictLine).toBeUndefined();
    const done = { ...f.state, status: 'finished' as const, verdict: 'timeout' as const, verdictMessage: 'apps still progressing', endedAt: T0 + 300_000 };
    expect(summarize(done).verdictLine).toBe('Timed out after 5m00s: apps still progressing');
    // The engine's timeout message starts with what the title says: said once.
    const engine = { ...done, verdictMessage: 'timed out after 300s: 2 ready, 1 progressing, 0 waiting, 0 pending' };
    expect(summarize(engine).verdictLine).toBe('Timed out after 5m00s: 2 ready, 1 progressing, 0 waiting, 0 pending');
    // A cluster error restated by the verdict (with the context it was on) is not said a second time.
    const error = { category: 'unreachable' as const, message: 'cannot reach https://10.0.0.1:6443 (ECONNREFUSED)', hint: 'Check the cluster is up and reachable.' };
    const unreachable = { ...done, verdict: 'error' as const, error, verdictMessage: `${error.message}; context prod. ${error.hint}` };
    expect(summarize(unreachable).verdictLine).toBe('Error after 5m00s (see the error above)');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [12_400, '12s'],
    [185_000, '3m05s'],
    [3_720_000, '1h02m'],
    [-5, '0ms'],
  ])('%d ms -> %s', (ms, out) => expect(formatDuration(ms)).toBe(out));
});

describe('theme helpers', () => {
  it('truncates to a width with an ellipsis, counting wide characters', () => {
    expect(truncate('flux-system/apps', 10)).toBe('flux-syst…');
    expect(truncate('short', 10)).toBe('short');
    expect(textWidth(truncate('日本語のなまえ', 7))).toBeLessThanOrEqual(7);
  });

  it('strips terminal escapes and control characters from cluster text', () => {
    expect(cleanText('\u001b[31mred\u001b[0m\tx\u0007\r\nnext\u001b]0;title\u0007')).toBe('red x\nnext');
  });

  it('wraps at spaces and cuts words longer than the line', () => {
    expect(wrapLine('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
    expect(wrapLine('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('shortens repository URLs and drops credentials', () => {
    expect(shortUrl('https://user:token@github.com/acme/fleet.git')).toBe('github.com/acme/fleet');
    expect(shortUrl('ssh://git@github.com/acme/fleet')).toBe('github.com/acme/fleet');
  });
});

describe('mode', () => {
  it('uses Ink only on a terminal, outside CI, with a capable TERM', () => {
    expect(shouldUseInk({ TERM: 'xterm' }, { isTTY: true })).toBe(true);
    expect(shouldUseInk({ TERM: 'xterm' }, { isTTY: false })).toBe(false);
    expect(shouldUseInk({ CI: 'true' }, { isTTY: true })).toBe(false);
    expect(shouldUseInk({ CI: '1' }, { isTTY: true })).toBe(false);
    expect(shouldUseInk({ CI: 'false' }, { isTTY: true })).toBe(true);
    expect(shouldUseInk({ TERM: 'dumb' }, { isTTY: true })).toBe(false);
  });

  it('disables colours with NO_COLOR, FORCE_COLOR=0 or TERM=dumb', () => {
    expect(colorEnabled({})).toBe(true);
    expect(colorEnabled({ NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled({ TERM: 'dumb' })).toBe(false);
  });
});
