// Parsing and correlation of Flux revision strings with the pushed commit. Pure.
//
// Forms Flux writes (source-controller, kustomize-controller, helm-controller):
//   main@sha1:<40hex>            branch            v1.2.3@sha1:<40hex>   tag
//   sha1:<40hex>                 commit only       refs/pull/1/head@sha1:<40hex>  named ref
//   main/<40hex>, <40hex>        legacy (before Flux 2.0 / Feb 2023)
//   latest@sha256:<64hex>        OCI tag + digest  sha256:<64hex>        digest only
//   0.1.0+abcdef123456[.2]       Helm chart built from git with reconcileStrategy Revision
//                                (12 hex of the commit, `.<generation>` when valuesFiles are used)
//   1.2.3                        plain chart version

import type { PushedRevision } from './types.js';

export interface ParsedRevision {
  /** Branch, tag, named ref or OCI tag before the `@` (or before the `/` of a legacy revision). */
  ref?: string;
  algo?: 'sha1' | 'sha256';
  /** Lower-case hex after `<algo>:` (or the sha of a legacy revision). */
  digest?: string;
  /** Lower-case 12 hex from Helm chart build metadata (`<version>+<12hex>`). */
  shortCommit?: string;
  /** Chart version without build metadata, for chart revisions. */
  chartVersion?: string;
  /** The `.<generation>` (or bare `+<generation>`) build metadata of a chart built with valuesFiles. */
  generation?: number;
  /** Legacy `<ref>/<sha>` or bare `<sha>` form. */
  legacy?: boolean;
}

const HEX40_OR_64 = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;
// SemVer 2.0 core and pre-release (a leading `v` is tolerated: charts and tags use it).
const SEMVER = /^v?(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$/;

export function parseRevision(rev: string): ParsedRevision {
  const r = (rev ?? '').trim();
  if (!r) return {};

  // `<ref>@<algo>:<hex>` or `<algo>:<hex>`. Branch names may contain `@`, so split at the last one.
  const at = r.lastIndexOf('@');
  const tail = at >= 0 ? r.slice(at + 1) : r;
  const m = /^(sha1|sha256):([0-9a-f]+)$/i.exec(tail);
  if (m) {
    const out: ParsedRevision = { algo: m[1]!.toLowerCase() as 'sha1' | 'sha256', digest: m[2]!.toLowerCase() };
    if (at > 0) out.ref = r.slice(0, at);
    return out;
  }

  // Legacy `<ref>/<sha>` (refs may contain slashes) and bare `<sha>`.
  const slash = r.lastIndexOf('/');
  const legacySha = slash >= 0 ? r.slice(slash + 1) : r;
  if (HEX40_OR_64.test(legacySha) && slash !== 0) {
    const out: ParsedRevision = {
      algo: legacySha.length === 40 ? 'sha1' : 'sha256',
      digest: legacySha.toLowerCase(),
      legacy: true,
    };
    if (slash > 0) out.ref = r.slice(0, slash);
    return out;
  }

  // Helm chart versions, optionally with build metadata.
  const plus = r.indexOf('+');
  const version = plus >= 0 ? r.slice(0, plus) : r;
  if (!SEMVER.test(version)) return {};
  const out: ParsedRevision = { chartVersion: version };
  if (plus >= 0) {
    const meta = r.slice(plus + 1);
    const cm = /^([0-9a-f]{12})(?:\.(\d+))?$/i.exec(meta);
    if (cm) {
      out.shortCommit = cm[1]!.toLowerCase();
      if (cm[2] !== undefined) out.generation = Number(cm[2]);
    } else if (/^\d+$/.test(meta)) {
      out.generation = Number(meta);
    }
  }
  return out;
}

export interface RevisionCommitOptions {
  /** Treat `sha256` digests as git commits (repositories using the SHA-256 object format). Default false:
   * a `sha256` digest is an OCI/Bucket content digest. */
  sha256?: boolean;
}

/** The git commit (full, or the 12-hex short form of chart revisions) that a revision names, lower case. */
export function revisionCommit(rev: string | undefined, opts: RevisionCommitOptions = {}): string | undefined {
  if (!rev) return undefined;
  const p = parseRevision(rev);
  if (p.shortCommit) return p.shortCommit;
  if (p.digest && (p.algo === 'sha1' || (p.algo === 'sha256' && opts.sha256))) return p.digest;
  return undefined;
}

const MIN_PREFIX = 7;

/** Whether two commit ids name the same commit: equal, or the shorter (>= 7 hex) is a prefix of the longer. */
export function sameCommit(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const [short, long] = x.length <= y.length ? [x, y] : [y, x];
  return short.length >= MIN_PREFIX && long.startsWith(short);
}

function commitFor(rev: string | undefined, pushed: PushedRevision): string | undefined {
  // A pushed sha of 64 hex means a SHA-256 repository: then `sha256:` revisions are commits too.
  return revisionCommit(rev, { sha256: pushed.sha.length === 64 });
}

/**
 * Whether a revision carries the pushed commit: true = it names the pushed commit or one known to contain it
 * (`pushed.through`), false = it names another commit, undefined = it carries no commit (a Bucket/OCI digest, a
 * plain chart version, nothing).
 */
export function revisionMatches(rev: string | undefined, pushed: PushedRevision): boolean | undefined {
  const c = commitFor(rev, pushed);
  if (!c) return undefined;
  return sameCommit(c, pushed.sha) || (pushed.through ?? []).some((t) => sameCommit(c, t));
}

/** The commit containing the pushed one that a revision names (one of `pushed.through`), if it names one. */
export function throughCommit(rev: string | undefined, pushed: PushedRevision): string | undefined {
  const c = commitFor(rev, pushed);
  if (!c || sameCommit(c, pushed.sha)) return undefined;
  return (pushed.through ?? []).find((t) => sameCommit(c, t));
}

/** True when the revision's commit is one of the commits that replaced ours without containing it (`pushed.newer`). */
export function isNewer(rev: string | undefined, pushed: PushedRevision): boolean {
  const c = commitFor(rev, pushed);
  if (!c || sameCommit(c, pushed.sha)) return false;
  return (pushed.newer ?? []).some((n) => sameCommit(c, n));
}

export function shortSha(sha: string, n = 7): string {
  return (sha ?? '').slice(0, n).toLowerCase();
}
