// Semantic versions and ranges as Flux reads them for GitRepository `spec.ref.semver` (pure).
//
// source-controller lists the repository's tags, keeps those that parse as versions (fluxcd/pkg/version
// ParseVersion: three dot-separated parts, an optional leading `v`) and checks them against the range with
// Masterminds/semver v3 constraints. This module follows that library's rules:
//   - `||` separates alternatives; within one, constraints separated by spaces or commas must all hold;
//   - operators `=` (or none), `!=`, `>`, `<`, `>=` (`=>`), `<=` (`=<`), `~` (`~>`), `^`;
//   - `x`, `X` and `*` are wildcards, and a missing minor or patch is one too (`1.x`, `1.2.*`, `1`, `*`);
//   - `1.2 - 1.4.5` is `>= 1.2, <= 1.4.5`;
//   - a prerelease version (`1.2.3-rc.1`) satisfies an alternative only when one of its constraints names a
//     prerelease (`>=1.2.3-0`).

export interface Version {
  major: number;
  minor: number;
  patch: number;
  /** Prerelease identifiers after `-` (empty for a release). */
  pre: string;
}

const LOOSE_VERSION = /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** Masterminds' NewVersion (lenient: `v1`, `1.2`, leading zeros), or undefined when it is not a version. */
function coerceVersion(s: string): Version | undefined {
  const m = LOOSE_VERSION.exec(s);
  if (!m) return undefined;
  const pre = m[4] ?? '';
  if (pre && !validPrerelease(pre)) return undefined;
  const num = (g: string | undefined) => (g ? Number(g.replace(/^\./, '')) : 0);
  const v = { major: num(m[1]), minor: num(m[2]), patch: num(m[3]), pre };
  return Number.isSafeInteger(v.major) && Number.isSafeInteger(v.minor) && Number.isSafeInteger(v.patch) ? v : undefined;
}

function validPrerelease(pre: string): boolean {
  // Identifiers are non-empty; numeric ones have no leading zero.
  return pre.split('.').every((p) => p !== '' && !(/^[0-9]+$/.test(p) && p.length > 1 && p.startsWith('0')));
}

/**
 * A tag as source-controller reads it for a semver range: `1.2.3` or `v1.2.3`, with an optional prerelease and
 * build metadata; `v1.2` or `release-1` are not versions (undefined).
 */
export function parseVersion(tag: string): Version | undefined {
  if (tag.split('.').length < 3) return undefined;
  return coerceVersion(tag);
}

/** Negative, zero or positive as a is lower than, equal to or higher than b (SemVer 2.0 precedence). */
export function compareVersions(a: Version, b: Version): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.pre === b.pre) return 0;
  if (!a.pre) return 1; // a release is higher than its prereleases
  if (!b.pre) return -1;
  return comparePrerelease(a.pre, b.pre);
}

function comparePrerelease(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = comparePrePart(pa[i] ?? '', pb[i] ?? '');
    if (d) return d;
  }
  return 0;
}

function comparePrePart(s: string, o: string): number {
  if (s === o) return 0;
  if (!s) return -1; // fewer identifiers: lower
  if (!o) return 1;
  const sn = /^[0-9]+$/.test(s);
  const on = /^[0-9]+$/.test(o);
  if (sn && on) return Number(s) < Number(o) ? -1 : 1;
  if (sn) return -1; // numeric identifiers are lower than alphanumeric ones
  if (on) return 1;
  return s < o ? -1 : 1;
}

type Op = '' | '=' | '!=' | '>' | '<' | '>=' | '=>' | '<=' | '=<' | '~' | '~>' | '^';

interface Constraint {
  op: Op;
  con: Version;
  /** The major is a wildcard or missing (`*`, `x`). */
  dirty: boolean;
  /** The minor is a wildcard or missing (`1`, `1.x`). */
  minorDirty: boolean;
  /** The patch is a wildcard or missing (`1.2`, `1.2.x`). */
  patchDirty: boolean;
}

/** A parsed range: alternatives (`||`) of constraints that must all hold. */
export interface Range {
  alternatives: Array<{ constraints: Constraint[]; includesPrerelease: boolean }>;
}

const OPS = String.raw`!=|>=|=>|<=|=<|~>|>|<|=|~|\^|`;
const CV = String.raw`v?([0-9xX*]+)(\.[0-9xX*]+)?(\.[0-9xX*]+)?(-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?`;
const CV_NOGROUPS = CV.replace(/\((?!\?)/g, '(?:');
const CONSTRAINT = new RegExp(String.raw`^\s*(${OPS})\s*(${CV})\s*$`);
const FIND_CONSTRAINT = new RegExp(String.raw`(?:${OPS})\s*(?:${CV_NOGROUPS})`, 'g');
const VALID_GROUP = new RegExp(String.raw`^(?:\s*(?:${OPS})\s*(?:${CV_NOGROUPS})\s*)(?:(?:\s+|,\s*)(?:${OPS})\s*(?:${CV_NOGROUPS})\s*)*$`);
const HYPHEN_RANGE = new RegExp(String.raw`\s*(${CV_NOGROUPS})\s+-\s+(${CV_NOGROUPS})\s*`, 'g');

const isX = (s: string | undefined) => s === 'x' || s === 'X' || s === '*';

function parseConstraint(text: string): Constraint | undefined {
  const m = CONSTRAINT.exec(text);
  if (!m) return undefined;
  const [, op, whole, major, minor, patch, pre = ''] = m as unknown as [string, Op, string, string, string | undefined, string | undefined, string | undefined];
  let ver = whole;
  let dirty = false;
  let minorDirty = false;
  let patchDirty = false;
  if (isX(major)) {
    ver = `0.0.0${pre}`;
    dirty = true;
  } else if (!minor || isX(minor.slice(1))) {
    ver = `${major}.0.0${pre}`;
    dirty = minorDirty = true;
  } else if (!patch || isX(patch.slice(1))) {
    ver = `${major}${minor}.0${pre}`;
    dirty = patchDirty = true;
  }
  const con = coerceVersion(ver);
  return con ? { op, con, dirty, minorDirty, patchDirty } : undefined;
}

/** Parses a range (`>=1.0.0 <2.0.0`, `^1.2`, `~1.2.3`, `1.x`, `*`, `1.2 - 1.4 || >=3`); undefined when invalid. */
export function parseRange(range: string): Range | undefined {
  const rewritten = range.replace(HYPHEN_RANGE, (_, from: string, to: string) => `>= ${from}, <= ${to} `);
  const out: Range = { alternatives: [] };
  for (const group of rewritten.split('||')) {
    if (!VALID_GROUP.test(group)) return undefined;
    const constraints: Constraint[] = [];
    for (const text of group.match(FIND_CONSTRAINT) ?? []) {
      const c = parseConstraint(text);
      if (!c) return undefined;
      constraints.push(c);
    }
    if (!constraints.length) return undefined;
    out.alternatives.push({ constraints, includesPrerelease: constraints.some((c) => c.con.pre !== '') });
  }
  return out;
}

/** Whether a version satisfies a parsed range. */
export function rangeIncludes(r: Range, v: Version): boolean {
  return r.alternatives.some((a) => a.constraints.every((c) => check(c, v, a.includesPrerelease)));
}

/** Whether `tag` (a git tag such as `v1.2.3`) satisfies `range`; false when either is not valid. */
export function satisfies(tag: string, range: string): boolean {
  const v = parseVersion(tag);
  const r = v && parseRange(range);
  return Boolean(v && r && rangeIncludes(r, v));
}

function check(c: Constraint, v: Version, includePre: boolean): boolean {
  if (v.pre && !includePre) return false;
  const cmp = compareVersions(v, c.con);
  switch (c.op) {
    case '':
    case '=':
      return c.dirty ? tilde(c, v, cmp) : cmp === 0;
    case '!=':
      return notEqual(c, v, cmp);
    case '>':
      if (!c.dirty) return cmp > 0;
      if (v.major !== c.con.major) return v.major > c.con.major;
      if (c.minorDirty) return false; // >1 needs 2.0.0 or higher
      if (c.patchDirty) return v.minor > c.con.minor; // >1.1 needs 1.2.0 or higher
      return cmp > 0;
    case '<':
      return cmp < 0;
    case '>=':
    case '=>':
      return cmp >= 0;
    case '<=':
    case '=<':
      if (!c.dirty) return cmp <= 0;
      if (v.major > c.con.major) return false;
      return !(v.major === c.con.major && v.minor > c.con.minor && !c.minorDirty);
    case '~':
    case '~>':
      return tilde(c, v, cmp);
    case '^':
      return caret(c, v, cmp);
  }
}

// ~1.2.3 → >=1.2.3 <1.3.0; ~1.2 → >=1.2.0 <1.3.0; ~1 → >=1.0.0 <2.0.0; ~* → any.
function tilde(c: Constraint, v: Version, cmp: number): boolean {
  if (cmp < 0) return false;
  if (c.con.major === 0 && c.con.minor === 0 && c.con.patch === 0 && !c.minorDirty && !c.patchDirty) return true;
  if (v.major !== c.con.major) return false;
  return v.minor === c.con.minor || c.minorDirty;
}

// ^1.2.3 → >=1.2.3 <2.0.0; ^0.2.3 → >=0.2.3 <0.3.0; ^0.0.3 → >=0.0.3 <0.0.4; ^0 → <1.0.0; ^0.0 → <0.1.0.
function caret(c: Constraint, v: Version, cmp: number): boolean {
  if (cmp < 0) return false;
  if (c.con.major > 0 || c.minorDirty) return v.major === c.con.major;
  if (v.major > 0) return false;
  if (c.con.minor > 0 || c.patchDirty) return v.minor === c.con.minor;
  if (v.minor > 0) return false;
  return v.patch === c.con.patch;
}

function notEqual(c: Constraint, v: Version, cmp: number): boolean {
  if (c.dirty) {
    if (c.con.major !== v.major) return true;
    if (c.con.minor !== v.minor && !c.minorDirty) return true;
    if (c.minorDirty) return false;
    if (c.con.patch !== v.patch && !c.patchDirty) return true;
    // Same major.minor as `!=1.2.x`: different only by a prerelease.
    if (c.patchDirty) return (v.pre !== '' || c.con.pre !== '') && comparePrerelease(v.pre, c.con.pre) !== 0;
  }
  return cmp !== 0;
}
