// The one reader of Flux's wait messages (src/core/flux-wait.ts parseWaitMessage), used by fail-fast (fluxWait)
// and by the waits (computeWait, src/core/waits.ts). The messages below are formatted exactly as the controllers
// do (kustomize-controller v1.9.6 internal/controller/kustomization_controller.go checkHealth; helm-controller
// v1.6.2 internal/reconcile/atomic_release.go, the same from v1.0.0), with Go's time.Duration.String().
import { describe, expect, it } from 'vitest';
import { parseDurationString, parseWaitMessage } from '../../src/core/flux-wait.js';
import { parseGoDuration } from '../../src/core/waits.js';
import type { KubeObject } from '../../src/core/types.js';
import { hr as simHr, ks as simKs } from '../../src/sim/flux-status.js';

const SHA = '0d950d6b8f1946edbee53b368fb9e2f9da40ffbe';
const health = (rev: string, d: string) => `Running health checks for revision ${rev} with a timeout of ${d}`;
const helm = (action: string, d: string) => `Running '${action}' action with timeout of ${d}`;

describe('parseDurationString: Go time.Duration.String()', () => {
  it('reads what Go prints', () => {
    // time.Duration(x).String() for 5m, 1h, 30s, 90.5s, 1.5s, 500ms, 1.5ms, 250µs, 0, 26h3m.
    const cases: [string, number][] = [
      ['5m0s', 300_000], ['1h0m0s', 3_600_000], ['30s', 30_000], ['1m30.5s', 90_500], ['1.5s', 1_500],
      ['500ms', 500], ['1.5ms', 2], ['250µs', 0], ['0s', 0], ['26h3m0s', 93_780_000], ['9m30s', 570_000],
    ];
    for (const [text, ms] of cases) expect(parseDurationString(text), text).toBe(ms);
  });

  it("shares Go's units with parseGoDuration (waits.ts), but not its 30-day bound: a controller's timeout is what it printed", () => {
    expect(parseDurationString('1000h0m0s')).toBe(3_600_000_000);
    expect(parseGoDuration('1000h0m0s')).toBeUndefined();
    for (const text of ['5m0s', '1h0m0s', '1m30.5s', '500ms', '250µs', '0s']) expect(parseDurationString(text), text).toBe(parseGoDuration(text));
  });

  it('refuses what Go never prints and garbage', () => {
    for (const bad of ['', '5', 's', '5x', '5 minutes', '1m 0s', '1h30m', '90s', '1h', '-5s', '5us', '5μs' /* Greek mu */,
      '0.5s', '1.50s', '05m0s', '1m60s', 'NaNs', 'Infinitys', '1e3s', '1.s', '.5s', '9'.repeat(40) + 's', '1m0s\n', ' 1m0s', 5, null, undefined]) {
      expect(parseDurationString(bad), String(bad)).toBeUndefined();
    }
  });
});

describe('parseWaitMessage: the real messages', () => {
  it('a Kustomization health check (Git, OCI and Bucket revisions)', () => {
    for (const rev of [`main@sha1:${SHA}`, `refs/pull/12/head@sha1:${SHA}`, `v1.2.3@sha256:${'ab'.repeat(32)}`, `sha256:${'cd'.repeat(32)}`, `feature/ünïcode@sha1:${SHA}`]) {
      expect(parseWaitMessage('Kustomization', health(rev, '5m0s'))).toEqual({ action: 'health checks', revision: rev, timeout: '5m0s', timeoutMs: 300_000 });
    }
    // GetTimeout: spec.timeout, else interval − 30s, never under 30s: 1h interval → 59m30s.
    expect(parseWaitMessage('Kustomization', health(`main@sha1:${SHA}`, '59m30s'))?.timeoutMs).toBe(3_570_000);
  });

  it('every Helm action name helm-controller writes (the Name() of each action reconciler)', () => {
    for (const action of ['install', 'upgrade', 'test', 'rollback', 'uninstall', 'unlock', 'correct cluster drift']) {
      expect(parseWaitMessage('HelmRelease', helm(action, '5m0s')), action).toEqual({ action, timeout: '5m0s', timeoutMs: 300_000 });
    }
    expect(parseWaitMessage('HelmRelease', helm('install', '10m0s'))?.timeoutMs).toBe(600_000);
    expect(parseWaitMessage('HelmRelease', helm('upgrade', '1h0m0s'))?.timeoutMs).toBe(3_600_000);
  });

  it('each kind reads its own controller\'s message only', () => {
    expect(parseWaitMessage('HelmRelease', health(`main@sha1:${SHA}`, '5m0s'))).toBeUndefined();
    expect(parseWaitMessage('Kustomization', helm('install', '5m0s'))).toBeUndefined();
    expect(parseWaitMessage('GitRepository', health(`main@sha1:${SHA}`, '5m0s'))).toBeUndefined();
  });

  it('other steps and retries are not waits', () => {
    expect(parseWaitMessage('Kustomization', `Building manifests for revision main@sha1:${SHA} with a timeout of 5m0s`)).toBeUndefined();
    expect(parseWaitMessage('Kustomization', 'Reconciliation in progress')).toBeUndefined();
    expect(parseWaitMessage('HelmRelease', 'retrying after 5m0s')).toBeUndefined();
    expect(parseWaitMessage('HelmRelease', "running 'install' action with timeout of 5m0s")).toBeUndefined(); // the log line, not the condition
  });
});

describe('parseWaitMessage: hostile messages', () => {
  it('garbage durations', () => {
    for (const d of ['soon', '5 minutes', '-5m0s', '1e309s', '1h30m', '9'.repeat(41), '5m0s ', '5m0s\u001b[2J']) {
      expect(parseWaitMessage('Kustomization', health(`main@sha1:${SHA}`, d)), d).toBeUndefined();
      expect(parseWaitMessage('HelmRelease', helm('upgrade', d)), d).toBeUndefined();
    }
  });

  it('escape sequences, control and format characters, spaces in the revision or the action', () => {
    for (const rev of [`main\u001b]8;;https://evil.example\u0007x@sha1:${SHA}`, `main\u202e@sha1:${SHA}`, `main\r@sha1:${SHA}`, 'a b', `main@sha1:${SHA}\u0000`]) {
      expect(parseWaitMessage('Kustomization', health(rev, '5m0s')), JSON.stringify(rev)).toBeUndefined();
    }
    for (const action of ['Install', 'in\u001b[31mstall', "install' action with timeout of 1s'", 'install ', ' install', 'a  b', 'x'.repeat(33), '']) {
      expect(parseWaitMessage('HelmRelease', helm(action, '5m0s')), JSON.stringify(action)).toBeUndefined();
    }
  });

  it('over-long revisions and huge messages are refused, quickly', () => {
    expect(parseWaitMessage('Kustomization', health('r'.repeat(512), '5m0s'))?.revision).toHaveLength(512);
    expect(parseWaitMessage('Kustomization', health('r'.repeat(513), '5m0s'))).toBeUndefined();
    const huge = health(`main@sha1:${SHA}`, '5m0s') + ' '.repeat(1_000_000);
    expect(parseWaitMessage('Kustomization', huge)).toBeUndefined();
    expect(parseWaitMessage('Kustomization', 'Running health checks for revision '.repeat(50_000))).toBeUndefined();
    expect(parseWaitMessage('HelmRelease', `Running '${'a '.repeat(500_000)}' action with timeout of 5m0s`)).toBeUndefined();
  });

  it('non-strings', () => {
    for (const m of [undefined, null, 5, {}, ['Running']]) expect(parseWaitMessage('Kustomization', m)).toBeUndefined();
  });
});

describe('the simulator writes what the controllers write', () => {
  const obj = (kind: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'x/v1', kind, metadata: { name: 'a', namespace: 'b' }, spec, status: {} });
  const reconciling = (st: Record<string, unknown>): string => (st.conditions as { type: string; message: string }[]).find((c) => c.type === 'Reconciling')!.message;

  it('Go\'s Duration.String() of the timeouts, which the parser reads back', () => {
    // spec.timeout as a person writes it → what Go's String() prints → ms.
    const cases: [string | undefined, string, number][] = [['90s', '1m30s', 90_000], ['1h', '1h0m0s', 3_600_000], ['10m', '10m0s', 600_000], ['1h30m', '1h30m0s', 5_400_000], [undefined, '5m0s', 300_000]];
    for (const [timeout, printed, ms] of cases) {
      const msg = reconciling(simHr.progressing(obj('HelmRelease', timeout ? { timeout } : {}), 'upgrade', '1.0.0', undefined, 0));
      expect(msg).toBe(`Running 'upgrade' action with timeout of ${printed}`);
      expect(parseWaitMessage('HelmRelease', msg)).toEqual({ action: 'upgrade', timeout: printed, timeoutMs: ms });
    }
    // Kustomization.GetTimeout(): interval − 30s, never under 30s.
    const msg = reconciling(simKs.progressing(obj('Kustomization', { interval: '2m' }), 'health', `main@sha1:${SHA}`, 0));
    expect(parseWaitMessage('Kustomization', msg)).toEqual({ action: 'health checks', revision: `main@sha1:${SHA}`, timeout: '1m30s', timeoutMs: 90_000 });
  });
});
