import { describe, expect, it } from 'vitest';
import { isNewer, parseRevision, revisionCommit, revisionMatches, sameCommit, shortSha } from '../../src/core/revision.js';
import type { PushedRevision } from '../../src/core/types.js';

const PUSHED = '0d950d6b8f1946edbee53b368fb9e2f9da40ffbe';
const OLD = 'a8c246e0ca811f6dedc150d2be673074e7a1280b';
const NEWER = '0adf7bfe1a301523913413d83e479d10d533b4ba';
const DIGEST = 'fbb2f4c99b69154b7f41968f75c498a366fa9c9a68af9c77b5565a05ad673210';
const pushed: PushedRevision = { sha: PUSHED, branch: 'main', newer: [NEWER] };

describe('parseRevision', () => {
  it.each([
    ['branch', `main@sha1:${PUSHED}`, { ref: 'main', algo: 'sha1', digest: PUSHED }],
    ['tag', `v1.2.3@sha1:${PUSHED}`, { ref: 'v1.2.3', algo: 'sha1', digest: PUSHED }],
    ['commit only', `sha1:${PUSHED}`, { algo: 'sha1', digest: PUSHED }],
    ['named ref', `refs/pull/1/head@sha1:${PUSHED}`, { ref: 'refs/pull/1/head', algo: 'sha1', digest: PUSHED }],
    ['branch with slash', `feature/x@sha1:${PUSHED}`, { ref: 'feature/x', algo: 'sha1', digest: PUSHED }],
    ['branch containing @', `user@fix@sha1:${PUSHED}`, { ref: 'user@fix', algo: 'sha1', digest: PUSHED }],
    ['upper-case hex', `main@SHA1:${PUSHED.toUpperCase()}`, { ref: 'main', algo: 'sha1', digest: PUSHED }],
    ['legacy branch', `main/${PUSHED}`, { ref: 'main', algo: 'sha1', digest: PUSHED, legacy: true }],
    ['legacy tag', `v1.2.3/${PUSHED}`, { ref: 'v1.2.3', algo: 'sha1', digest: PUSHED, legacy: true }],
    ['legacy nested branch', `release/2024/${PUSHED}`, { ref: 'release/2024', algo: 'sha1', digest: PUSHED, legacy: true }],
    ['plain sha', PUSHED, { algo: 'sha1', digest: PUSHED, legacy: true }],
    ['legacy bucket digest', DIGEST, { algo: 'sha256', digest: DIGEST, legacy: true }],
    ['OCI tag and digest', `latest@sha256:${DIGEST}`, { ref: 'latest', algo: 'sha256', digest: DIGEST }],
    ['OCI semver tag', `6.5.0@sha256:${DIGEST}`, { ref: '6.5.0', algo: 'sha256', digest: DIGEST }],
    ['digest only', `sha256:${DIGEST}`, { algo: 'sha256', digest: DIGEST }],
    ['chart from git', '0.1.0+0d950d6b8f19', { chartVersion: '0.1.0', shortCommit: '0d950d6b8f19' }],
    ['chart from git with valuesFiles', '0.1.0+0d950d6b8f19.2', { chartVersion: '0.1.0', shortCommit: '0d950d6b8f19', generation: 2 }],
    ['chart with valuesFiles only', '6.5.0+3', { chartVersion: '6.5.0', generation: 3 }],
    ['plain chart version', '1.2.3', { chartVersion: '1.2.3' }],
    ['pre-release chart version', '1.2.3-rc.1', { chartVersion: '1.2.3-rc.1' }],
    ['v-prefixed chart version', 'v6.5.0', { chartVersion: 'v6.5.0' }],
  ])('%s: %s', (_name, rev, want) => {
    expect(parseRevision(rev)).toEqual(want);
  });

  it.each(['', '   ', 'latest', 'main', 'sha1:', 'sha1:xyz', `/${PUSHED}`, '1.2', '0.1.0+not-hex'])('gives nothing structured for %j', (rev) => {
    const p = parseRevision(rev);
    expect(p.digest).toBeUndefined();
    expect(p.shortCommit).toBeUndefined();
  });

  it('tolerates surrounding whitespace', () => {
    expect(parseRevision(`  main@sha1:${PUSHED}\n`)).toEqual({ ref: 'main', algo: 'sha1', digest: PUSHED });
  });
});

describe('revisionCommit', () => {
  it.each([
    [`main@sha1:${PUSHED}`, PUSHED],
    [`sha1:${PUSHED.toUpperCase()}`, PUSHED],
    [`main/${PUSHED}`, PUSHED],
    [PUSHED, PUSHED],
    ['0.1.0+0D950D6B8F19', '0d950d6b8f19'],
    ['0.1.0+0d950d6b8f19.7', '0d950d6b8f19'],
    [`latest@sha256:${DIGEST}`, undefined],
    [`sha256:${DIGEST}`, undefined],
    ['1.2.3', undefined],
    [undefined, undefined],
  ])('%s → %s', (rev, want) => {
    expect(revisionCommit(rev)).toBe(want);
  });

  it('treats sha256 digests as commits only when asked (SHA-256 repositories)', () => {
    expect(revisionCommit(`main@sha256:${DIGEST}`, { sha256: true })).toBe(DIGEST);
  });
});

describe('sameCommit', () => {
  it('matches equal and prefix forms, case-insensitively', () => {
    expect(sameCommit(PUSHED, PUSHED)).toBe(true);
    expect(sameCommit(PUSHED.slice(0, 12), PUSHED)).toBe(true);
    expect(sameCommit(PUSHED, PUSHED.slice(0, 7).toUpperCase())).toBe(true);
  });
  it('rejects prefixes shorter than 7 and different commits', () => {
    expect(sameCommit(PUSHED.slice(0, 6), PUSHED)).toBe(false);
    expect(sameCommit(OLD, PUSHED)).toBe(false);
    expect(sameCommit(undefined, PUSHED)).toBe(false);
    expect(sameCommit('', PUSHED)).toBe(false);
  });
});

describe('revisionMatches', () => {
  it.each([
    [`main@sha1:${PUSHED}`, true],
    [`v1.2.3@sha1:${PUSHED}`, true],
    [`sha1:${PUSHED}`, true],
    [`refs/pull/1/head@sha1:${PUSHED}`, true],
    [`main/${PUSHED}`, true],
    [PUSHED, true],
    [`main@sha1:${PUSHED.toUpperCase()}`, true],
    ['0.1.0+0d950d6b8f19', true],
    ['0.1.0+0d950d6b8f19.2', true],
    [`main@sha1:${OLD}`, false],
    [`main/${OLD}`, false],
    ['0.1.0+a8c246e0ca81', false],
    [`main@sha1:${NEWER}`, false],
    [`latest@sha256:${DIGEST}`, undefined],
    [`sha256:${DIGEST}`, undefined],
    ['1.2.3', undefined],
    ['6.5.0+3', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s → %s', (rev, want) => {
    expect(revisionMatches(rev, pushed)).toBe(want);
  });

  it('accepts a pushed sha given as a 7+ prefix', () => {
    const short: PushedRevision = { sha: PUSHED.slice(0, 7) };
    expect(revisionMatches(`main@sha1:${PUSHED}`, short)).toBe(true);
    expect(revisionMatches('0.1.0+0d950d6b8f19', short)).toBe(true);
    expect(revisionMatches(`main@sha1:${OLD}`, short)).toBe(false);
  });

  it('is case-insensitive on the pushed side too', () => {
    expect(revisionMatches(`main@sha1:${PUSHED}`, { sha: PUSHED.toUpperCase() })).toBe(true);
  });

  it('correlates sha256 revisions in SHA-256 repositories', () => {
    const p: PushedRevision = { sha: DIGEST };
    expect(revisionMatches(`main@sha256:${DIGEST}`, p)).toBe(true);
    expect(revisionMatches(`main@sha256:${'1'.repeat(64)}`, p)).toBe(false);
  });
});

describe('isNewer', () => {
  it('is true for a revision naming a commit in pushed.newer', () => {
    expect(isNewer(`main@sha1:${NEWER}`, pushed)).toBe(true);
    expect(isNewer(`main/${NEWER}`, pushed)).toBe(true);
    expect(isNewer('0.1.0+0adf7bfe1a30', pushed)).toBe(true);
  });
  it('is false for the pushed commit, older commits and revisions without a commit', () => {
    expect(isNewer(`main@sha1:${PUSHED}`, pushed)).toBe(false);
    expect(isNewer(`main@sha1:${OLD}`, pushed)).toBe(false);
    expect(isNewer('1.2.3', pushed)).toBe(false);
    expect(isNewer(undefined, pushed)).toBe(false);
    expect(isNewer(`main@sha1:${NEWER}`, { sha: PUSHED })).toBe(false);
  });
  it('accepts short newer shas', () => {
    expect(isNewer(`main@sha1:${NEWER}`, { sha: PUSHED, newer: [NEWER.slice(0, 8)] })).toBe(true);
  });
});

describe('shortSha', () => {
  it('shortens and lower-cases', () => {
    expect(shortSha(PUSHED)).toBe('0d950d6');
    expect(shortSha(PUSHED.toUpperCase(), 12)).toBe('0d950d6b8f19');
    expect(shortSha('abc')).toBe('abc');
  });
});
