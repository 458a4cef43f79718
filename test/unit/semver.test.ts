// Semantic versions and ranges as Flux reads GitRepository spec.ref.semver (Masterminds/semver v3 rules).
import { describe, expect, it } from 'vitest';
import { compareVersions, parseRange, parseVersion, satisfies } from '../../src/core/semver.js';

describe('parseVersion (a tag as source-controller reads it for a semver range)', () => {
  it.each([
    ['1.2.3', { major: 1, minor: 2, patch: 3, pre: '' }],
    ['v1.2.3', { major: 1, minor: 2, patch: 3, pre: '' }],
    ['v1.0.0-rc.1', { major: 1, minor: 0, patch: 0, pre: 'rc.1' }],
    ['1.2.3+build.7', { major: 1, minor: 2, patch: 3, pre: '' }],
    ['v2.0.0-beta.2+exp.sha.5114f85', { major: 2, minor: 0, patch: 0, pre: 'beta.2' }],
    ['v2025.02.03', { major: 2025, minor: 2, patch: 3, pre: '' }], // leading zeros are tolerated, as Flux does
  ])('%s is a version', (tag, v) => {
    expect(parseVersion(tag)).toEqual(v);
  });

  it.each(['v1.2', '1', 'v1', 'latest', 'release-1.2.3', 'V1.2.3', '1.2.3.4', 'v1.2.3-', 'v1.2.3-rc..1', 'v1.2.3-rc.01', '1.2.x', ''])('%j is not a version', (tag) => {
    expect(parseVersion(tag)).toBeUndefined();
  });

  it('orders versions by SemVer precedence (prereleases below their release)', () => {
    const order = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0'];
    const parsed = order.map((s) => parseVersion(s)!);
    for (let i = 1; i < parsed.length; i++) {
      expect(compareVersions(parsed[i - 1]!, parsed[i]!), `${order[i - 1]} < ${order[i]}`).toBeLessThan(0);
      expect(compareVersions(parsed[i]!, parsed[i - 1]!)).toBeGreaterThan(0);
    }
    expect(compareVersions(parseVersion('v1.2.3+a')!, parseVersion('1.2.3+b')!)).toBe(0); // build metadata does not count
  });
});

describe('satisfies (does a pushed tag satisfy a GitRepository semver range)', () => {
  // [range, tag, expected]
  const table: Array<[string, string, boolean]> = [
    // AND: spaces or commas
    ['>=1.0.0 <2.0.0', 'v1.0.0', true],
    ['>=1.0.0 <2.0.0', 'v1.9.9', true],
    ['>=1.0.0 <2.0.0', 'v2.0.0', false],
    ['>=1.0.0 <2.0.0', 'v0.9.9', false],
    ['>=1.0.0, <2.0.0', '1.4.0', true],
    ['>= 1.0.0, < 2.0.0', '2.4.0', false],
    ['=>1.0.0 =<1.5.0', '1.5.0', true],
    // caret
    ['^1.2', 'v1.2.0', true],
    ['^1.2', 'v1.9.9', true],
    ['^1.2', 'v1.1.9', false],
    ['^1.2', 'v2.0.0', false],
    ['^1.2.3', '1.2.2', false],
    ['^0.2.3', '0.2.9', true],
    ['^0.2.3', '0.3.0', false],
    ['^0.0.3', '0.0.3', true],
    ['^0.0.3', '0.0.4', false],
    ['^0', '0.9.0', true],
    ['^0', '1.0.0', false],
    // tilde
    ['~1.2.3', 'v1.2.3', true],
    ['~1.2.3', 'v1.2.9', true],
    ['~1.2.3', 'v1.2.2', false],
    ['~1.2.3', 'v1.3.0', false],
    ['~1.2', '1.2.7', true],
    ['~1.2', '1.3.0', false],
    ['~1', '1.9.0', true],
    ['~1', '2.0.0', false],
    ['~>1.2.3', '1.2.4', true],
    // wildcards and partial versions
    ['1.x', 'v1.0.0', true],
    ['1.x', 'v1.99.3', true],
    ['1.x', 'v2.0.0', false],
    ['1.2.*', '1.2.7', true],
    ['1.2.X', '1.3.0', false],
    ['1.2', '1.2.5', true], // a missing patch is a wildcard
    ['*', 'v5.6.7', true],
    ['x', 'v0.0.1', true],
    // exact and not-equal
    ['1.2.3', 'v1.2.3', true],
    ['=v1.2.3', '1.2.3', true],
    ['1.2.3', 'v1.2.4', false],
    ['=1.2.3', '1.2.3+build.1', true],
    ['!=1.2.3', '1.2.4', true],
    ['!=1.2.3', '1.2.3', false],
    ['!=1.x', '1.5.0', false],
    ['!=1.x', '2.0.0', true],
    // greater / less with wildcards
    ['>1.1', '1.1.5', false], // >1.1 needs 1.2.0 or higher
    ['>1.1', '1.2.0', true],
    ['>1', '1.9.9', false],
    ['>1', '2.0.0', true],
    ['>1.2.3', '1.2.4', true],
    ['<1.2.0', '1.1.9', true],
    ['<1.2.0', '1.2.0', false],
    ['<=1.x', '1.9.9', true],
    ['<=1.x', '2.0.0', false],
    ['<=1.2', '1.2.9', true],
    ['<=1.2', '1.3.0', false],
    // alternatives
    ['<1.0.0 || >=2.0.0', '0.5.0', true],
    ['<1.0.0 || >=2.0.0', '1.5.0', false],
    ['<1.0.0 || >=2.0.0', 'v2.1.0', true],
    ['^1.0 || ^3.0', '3.4.5', true],
    // hyphen ranges
    ['1.2 - 1.4.5', '1.2.0', true],
    ['1.2 - 1.4.5', '1.4.5', true],
    ['1.2 - 1.4.5', '1.4.6', false],
    ['1.0.0 - 2.0.0, !=1.5.0', '1.5.0', false],
    // prereleases match only when the range names one (in the same alternative)
    ['>=1.0.0', 'v1.1.0-rc.1', false],
    ['*', 'v1.0.0-rc.1', false],
    ['^1.x', '1.1.1-beta1', false],
    ['>=1.0.0-0', 'v1.0.0-rc.1', true],
    ['>=1.0.0-0', 'v1.1.0-beta', true],
    ['>=1.0.0-rc.1', '1.0.0-rc.2', true],
    ['>=1.0.0-rc.1', '1.0.0-rc.0', false],
    ['>=1.0.0-rc.1', '1.0.0', true],
    ['~1.1.1-beta', '1.1.1-alpha', false],
    ['~1.1-alpha', '1.1.1-beta', true],
    ['>=1.0.0-0 <2.0.0 || >=3.0.0', 'v1.5.0-rc.1', true],
    ['>=1.0.0-0 <2.0.0 || >=3.0.0', 'v3.1.0-rc.1', false],
    // tags that are not versions never match
    ['*', 'latest', false],
    ['>=1.0.0', 'v1.2', false],
    ['>=1.0.0', 'release-1.2.3', false],
    // invalid ranges match nothing
    ['>= bar', 'v1.0.0', false],
    ['1.2.3.4', '1.2.3', false],
    ['latest', '1.2.3', false],
    ['>=1.0.0<2.0.0', '1.2.3', false],
    ['12.3.4~ 1.2.3', '1.2.3', false],
    ['', '1.2.3', false],
    ['||', '1.2.3', false],
  ];

  it.each(table)('%j with tag %s → %s', (range, tag, expected) => {
    expect(satisfies(tag, range)).toBe(expected);
  });

  it('parses ranges into alternatives of constraints, and rejects invalid ones', () => {
    expect(parseRange('>= 1.2.3, < 2.0 || => 3.0 < 4')?.alternatives.map((a) => a.constraints.length)).toEqual([2, 2]);
    expect(parseRange('1.0.0 - 2.0.0, <=2.0.0')?.alternatives.map((a) => a.constraints.length)).toEqual([3]);
    expect(parseRange('>=1.0.0-0 <2 || 3.x')?.alternatives.map((a) => a.includesPrerelease)).toEqual([true, false]);
    for (const bad of ['', ' ', '>= bar', 'BAR >= 1.2.3', 'v1.2.3-beta.01', '12.3.4.1234', '1.2.3 ||']) expect(parseRange(bad), bad).toBeUndefined();
  });
});
