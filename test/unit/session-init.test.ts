// The one builder of a session's first state (src/core/session.ts), which the Monitor, the several-cluster session,
// the sessions that end before they start and the detached monitor's first record all use.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pushSessionState } from '../../src/core/session.js';
import { DEFAULT_CONFIG } from '../../src/core/types.js';
import { runMonitor } from '../../src/engine/run.js';

const SHA = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
const push = {
  id: 's1',
  pushed: { sha: SHA, tag: 'v1.0.0' },
  branch: 'main',
  repoUrl: 'https://user:s3cret@github.com/acme/fleet.git',
  remote: 'origin',
  repoPath: '/home/me/fleet',
  subject: 'fix \u001b[2Jthe chart\u0007' + 'x'.repeat(400),
};

describe('pushSessionState', () => {
  it('takes who pushed what where, without the URL’s credentials, with the subject made safe to print', () => {
    const s = pushSessionState(push, { context: 'prod', server: 'https://prod:6443', timeoutMs: 60_000, now: 1_000 });
    expect(s).toMatchObject({
      id: 's1',
      status: 'starting',
      startedAt: 1_000,
      updatedAt: 1_000,
      timeoutMs: 60_000,
      repo: { path: '/home/me/fleet', remote: 'origin', branch: 'main' },
      commit: { sha: SHA.toLowerCase(), tag: 'v1.0.0' },
      cluster: { context: 'prod', server: 'https://prod:6443' },
      nodes: {},
    });
    expect(s.repo.url).not.toContain('s3cret');
    expect(s.repo.url).toContain('github.com/acme/fleet');
    expect(s.commit.subject).not.toMatch(/[\u0000-\u001f]/);
    expect(s.commit.subject!.length).toBeLessThanOrEqual(200);
    expect(s.commit.subject).toMatch(/^fix /);
  });

  it('is what a session that cannot start (no kubeconfig) ends with, as the Monitor starts from it', async () => {
    const final = await runMonitor({ ...push, sessionId: 's1', config: { ...DEFAULT_CONFIG, timeout: 60 }, kubeconfig: join(tmpdir(), 'fm-no-such-kubeconfig', 'config') });
    expect(final).toMatchObject({ status: 'finished', verdict: 'error' });
    const first = pushSessionState(push, { timeoutMs: 60_000, now: final.startedAt });
    expect({ repo: final.repo, commit: final.commit, id: final.id, timeoutMs: final.timeoutMs }).toEqual({ repo: first.repo, commit: first.commit, id: first.id, timeoutMs: first.timeoutMs });
  });
});
