// Once a session has ended nothing is retried any more: the hints that said "flux-monitor retries" must not say
// it in the final state, the verdict or MCP results (what to check stays).
import { describe, expect, it } from 'vitest';
import { ApiError, BadBodyError, categorize, finalHint } from '../../src/cluster/errors.js';

describe('finalHint', () => {
  const live = [
    categorize(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' }), 'https://10.0.0.1:6443'),
    categorize(new ApiError(429, '/apis', { kind: 'Status', message: 'slow down' })),
    categorize(new ApiError(503, '/apis', { kind: 'Status', message: 'unavailable' })),
    categorize(new ApiError(410, '/apis', { kind: 'Status', reason: 'Expired', message: 'too old resource version' })),
    categorize(new BadBodyError(200, '/apis/x', 'a body that is not JSON (text/html)')),
    categorize(Object.assign(new Error('bad frame'), { code: 'EPROTO_FRAME' })),
  ];

  it('drops the promise to retry from every hint that makes one, and keeps what to check', () => {
    expect(live.filter((e) => /retr|by itself/.test(e.hint)).length).toBeGreaterThanOrEqual(5);
    for (const e of live) {
      const h = finalHint(e.hint);
      expect(h, e.hint).not.toMatch(/retr|by itself|carries on/);
      expect(h.length, e.hint).toBeGreaterThan(10);
      expect(h).toMatch(/^[A-Z].*\.$/);
    }
    expect(finalHint(live[0]!.hint)).toBe('Check the cluster is up and reachable (VPN, `kubectl cluster-info`, the --context you use).');
  });

  it('leaves other hints unchanged', () => {
    const h = 'Your kubeconfig credentials are missing or expired: log in again (e.g. refresh your cloud CLI token) and check `kubectl auth whoami`.';
    expect(finalHint(h)).toBe(h);
  });
});
