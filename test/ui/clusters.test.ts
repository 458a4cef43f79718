// The views of a session that follows several clusters: one block per cluster (title with its verdict, tree,
// counts, error, verdict line) and the overall verdict, in the live view's lines and the plain printer; and
// `history` listing each cluster's verdict.
import { describe, expect, it } from 'vitest';
import { mergeClusters } from '../../src/core/clusters.js';
import type { SessionState } from '../../src/core/types.js';
import { sessionLines } from '../../src/ui/view.js';
import { createPlainPrinter } from '../../src/ui/plain.js';
import { failureReport } from '../../src/ui/live.js';
import { historyEntry } from '../../src/session/store.js';
import { notificationFor } from '../../src/session/notify.js';
import { fleet, T0 } from './factory.js';

/** prod applied the commit; staging failed on apps; dr never answered. */
function threeClusters(finished: boolean): SessionState {
  const prod = fleet({ apps: 'Ready', hr: 'Ready' }).state;
  const st = fleet({ apps: 'Failed', hr: 'Pending' });
  st.state.nodes[st.apps.key] = { ...st.apps, reason: 'BuildFailed', message: 'kustomize build failed: missing podinfo.yaml' };
  const base = { ...prod, cluster: {}, nodes: {}, edges: [], matchedSources: [] };
  const end = (s: SessionState, verdict: SessionState['verdict'], verdictMessage: string, extra: Partial<SessionState> = {}): SessionState =>
    finished ? { ...s, status: 'finished', verdict, verdictMessage, endedAt: T0 + 30_000, updatedAt: T0 + 30_000, ...extra } : { ...s, ...extra };
  const unreachable = { category: 'unreachable' as const, message: 'connect ECONNREFUSED 10.0.0.9:6443', hint: 'Check that the cluster is running.' };
  return mergeClusters(base, [
    { context: 'prod', state: end({ ...prod, cluster: { context: 'prod', server: 'https://prod.example:6443' } }, 'success', 'commit 3f2a9c1 is applied: 4 ready') },
    { context: 'staging', state: end({ ...st.state, cluster: { context: 'staging' } }, 'failed', 'commit 3f2a9c1 failed: 1 failed, 3 ready (Kustomization flux-system/apps: BuildFailed)') },
    {
      context: 'dr',
      state: end({ ...prod, cluster: { context: 'dr' }, nodes: {}, edges: [], status: 'starting', mode: undefined, error: unreachable }, 'error', `${unreachable.message}. ${unreachable.hint}`, { error: unreachable }),
    },
  ]);
}

const text = (lines: ReturnType<typeof sessionLines>) => lines.map((l) => l.map((s) => s.text).join(''));

describe('live view of several clusters', () => {
  it('one block per cluster, each with its tree, counts, error and verdict line; then the overall verdict', () => {
    const lines = text(sessionLines({ state: threeClusters(true), now: T0 + 40_000, verbosity: 'normal', showAll: false, width: 100, height: 60, spinnerFrame: 0, color: false }));
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    // Titles, in the order of the contexts, with each cluster's verdict icon.
    const prod = at(/^✔ prod {2}prod\.example:6443 · 4 objects$/);
    const staging = at(/^✖ staging {2}4 objects$/);
    const dr = at(/^. dr {2}0 objects$/);
    expect([prod, staging, dr].every((i) => i >= 0)).toBe(true);
    expect(prod).toBeLessThan(staging);
    expect(staging).toBeLessThan(dr);
    // Each tree is under its title, indented.
    expect(lines.slice(prod, staging).some((l) => /^ {2}.*Kustomization flux-system\/apps +Ready/.test(l))).toBe(true);
    expect(lines.slice(staging, dr).some((l) => /^ {2}.*Kustomization flux-system\/apps +Failed/.test(l))).toBe(true);
    expect(lines.slice(staging, dr).some((l) => /BuildFailed: kustomize build failed/.test(l))).toBe(true);
    expect(lines.slice(staging, dr).some((l) => /^ {2}✖ Failed after 30s: commit 3f2a9c1 failed/.test(l))).toBe(true);
    expect(lines.slice(prod, staging).some((l) => /^ {2}✔ Succeeded after 30s: commit 3f2a9c1 is applied/.test(l))).toBe(true);
    expect(lines.slice(dr).some((l) => /^ {2}✖ unreachable: connect ECONNREFUSED 10\.0\.0\.9:6443/.test(l))).toBe(true);
    // The overall verdict is the worst (failed) and names the others.
    const last = lines.slice(dr).join('\n');
    expect(last).toMatch(/Failed after 30s: failed on 1 of 3 clusters — staging: commit 3f2a9c1 failed: .*; prod: success, dr: error/s);
    expect(lines[1]).toContain('on prod, staging, dr');
  });

  it('stays within the height, every cluster keeps its title', () => {
    const lines = text(sessionLines({ state: threeClusters(false), now: T0 + 5_000, verbosity: 'normal', showAll: false, width: 80, height: 16, spinnerFrame: 0, color: false }));
    expect(lines.length).toBeLessThanOrEqual(16);
    for (const c of ['prod', 'staging', 'dr']) expect(lines.some((l) => new RegExp(`^. ${c} `).test(l))).toBe(true);
  });
});

describe('plain printer of several clusters', () => {
  it('prefixes each cluster’s lines with its context and ends with each verdict line and the overall one', () => {
    let out = '';
    const printer = createPlainPrinter({ write: (s: string) => (out += s) }, { verbosity: 'normal', ascii: true });
    // What a detached monitor's file holds before its first merged state: starting, no clusters yet.
    printer.onState({ ...fleet().state, status: 'starting', nodes: {}, edges: [], cluster: {} });
    printer.onState(threeClusters(false));
    printer.finish(threeClusters(true));
    const lines = out.split('\n');
    expect(lines[0]).toBe('flux-monitor: following 3f2a9c1 "Bump podinfo to 6.5.0"');
    expect(lines[1]).toMatch(/^ {2}main → github\.com\/acme\/fleet on 3 clusters: prod, staging, dr · timeout 5m00s$/);
    expect(lines).toContain('[prod] cluster prod (https://prod.example:6443) · 4 objects');
    expect(lines.some((l) => /^\[staging\] .*Kustomization flux-system\/apps {2}Failed {2}BuildFailed: kustomize build failed/.test(l))).toBe(true);
    expect(lines.some((l) => /^\[dr\] .*error \(unreachable\): connect ECONNREFUSED/.test(l))).toBe(true);
    expect(lines).toContain('[prod] [PASS] Succeeded after 30s: commit 3f2a9c1 is applied: 4 ready');
    expect(lines.some((l) => /^\[staging\] \[FAIL\] Failed after 30s: commit 3f2a9c1 failed/.test(l))).toBe(true);
    expect(lines.some((l) => /^\[dr\] \[ERR \] Error after 30s/.test(l))).toBe(true);
    expect(lines.at(-3)).toMatch(/^\[FAIL\] Failed after 30s: failed on 1 of 3 clusters — staging: .*; prod: success, dr: error$/);
    // Under the verdict, the cause of the failure it names (the verdict says its object and reason only).
    expect(lines.at(-2)).toBe('  cause (staging): kustomize build failed: missing podinfo.yaml');
    expect(lines).toContain('[staging]   cause: kustomize build failed: missing podinfo.yaml');
    expect(lines.at(-4)).toBe('summary: 6 ready, 0 progressing, 0 waiting, 1 failed, 1 pending on 3 clusters');
    // Each object line printed once, under its own cluster.
    expect(lines.filter((l) => /Kustomization flux-system\/apps {2}Failed/.test(l))).toHaveLength(1);
  });

  it('keeps one time order over the clusters: a line earlier than one already printed says when it was seen', () => {
    let out = '';
    const printer = createPlainPrinter({ write: (s: string) => (out += s) }, { verbosity: 'normal', ascii: true });
    const cluster = (context: string, appsSince: number): { context: string; state: SessionState } => {
      const f = fleet({ apps: 'Ready', hr: 'Ready' });
      f.state.nodes[f.apps.key] = { ...f.apps, phaseSince: T0 + appsSince };
      return { context, state: { ...f.state, cluster: { context }, updatedAt: T0 + 11_000 } };
    };
    const base = { ...fleet().state, cluster: {}, nodes: {}, edges: [], matchedSources: [] };
    printer.onState(mergeClusters(base, [cluster('prod', 10_000), cluster('staging', 8_000)]));
    const apps = out.split('\n').filter((l) => l.includes('Kustomization flux-system/apps'));
    expect(apps).toEqual(['[prod]    +10s [ OK ] Kustomization flux-system/apps  Ready', '[staging]    +11s [ OK ] Kustomization flux-system/apps  Ready · ready since +8s']);
  });

  it('below the live view\'s final frame, the failures\' whole messages name their cluster', () => {
    expect(failureReport(threeClusters(true), false).split('\n')).toEqual([
      '',
      'What failed, in full (1):',
      '✖ [staging] Kustomization flux-system/apps  Failed  BuildFailed',
      '  kustomize build failed: missing podinfo.yaml',
      '',
    ]);
    expect(failureReport(threeClusters(false), false)).toBe('');
  });

  it('a single-cluster session prints as before: no cluster prefixes', () => {
    let out = '';
    const printer = createPlainPrinter({ write: (s: string) => (out += s) }, { verbosity: 'normal', ascii: true });
    printer.finish({ ...fleet({ apps: 'Ready', hr: 'Ready' }).state, status: 'finished', verdict: 'success', verdictMessage: 'ok', endedAt: T0 + 1000 });
    expect(out).not.toMatch(/^\[kind-dev\]/m);
    expect(out).toMatch(/^ +\+0ms \[ OK \] GitRepository flux-system\/flux-system {2}Ready/m);
    expect(out).toMatch(/^\[PASS\] Succeeded after 1s: ok$/m);
    expect(out).toMatch(/^ {2}main → github\.com\/acme\/fleet on kind-dev · 4 objects/m);
  });
});

describe('history of several clusters', () => {
  it('records each cluster’s verdict; single-cluster entries have none', () => {
    expect(historyEntry(threeClusters(true)).clusters).toEqual([
      { context: 'prod', verdict: 'success', leadMs: expect.any(Number) },
      { context: 'staging', verdict: 'failed', leadMs: expect.any(Number) },
      { context: 'dr', verdict: 'error', leadMs: expect.any(Number) },
    ]);
    expect(historyEntry(fleet().state).clusters).toBeUndefined();
  });
});

describe('desktop notification of several clusters', () => {
  it('names the overall verdict and the cluster of the first failure', () => {
    const n = notificationFor(threeClusters(true));
    expect(n.title).toBe('flux-monitor: Failed 3f2a9c1');
    expect(n.body.split('\n')[1]).toBe('staging: Kustomization flux-system/apps: BuildFailed — kustomize build failed: missing podinfo.yaml');
  });
});
