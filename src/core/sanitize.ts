// Sanitising of text that comes from the cluster (condition messages, events, errors) before it reaches a
// terminal, a log or a JSON event. Pure. Every regular expression here is linear in the input length:
// character classes that cannot overlap with what follows, and bounded repetitions where they could.

export interface SanitizeOptions {
  /** Maximum length of the result, ellipsis included. Default 4096. */
  maxLength?: number;
}

export const DEFAULT_MAX_LENGTH = 4096;
/** Ellipsis marker appended to truncated text. */
export const ELLIPSIS = '…';
/** Inputs longer than this are cut before processing (a condition message is at most 32 KiB in Flux). */
const MAX_INPUT = 8 * 1024 * 1024;

// One pass removes, in this order of alternatives:
//  1. CSI: ESC [ (or C1 0x9B), parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, one final byte 0x40-0x7E.
//  2. String sequences OSC (ESC ] / 0x9D), DCS (ESC P / 0x90), SOS (ESC X / 0x98), PM (ESC ^ / 0x9E),
//     APC (ESC _ / 0x9F), up to BEL or ST (ESC \ or 0x9C). The body stops at any ESC or C1 byte, so an
//     unterminated sequence costs one scan up to the next introducer and then falls through to 3.
//  3. Any other escape: ESC, intermediates 0x20-0x2F, one final 0x30-0x7E (charset selection, ESC 7, ESC c...).
//  4. Remaining C0 controls except TAB and LF (CR is normalised first), DEL, C1 controls, and the bidi
//     embedding/override/isolate characters U+202A-U+202E and U+2066-U+2069 (Trojan Source).
const STRIP =
  // eslint-disable-next-line no-control-regex
  /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x80-\x9f]*(?:\x07|\x1b\\|\x9c)|\x1b[ -/]*[0-~]?|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

// Credentials inside URLs: `scheme://userinfo@`. The userinfo runs to the LAST `@` before the host (a password may
// hold an `@`: `https://user:p@ss@host`), so it may hold `@` but no `/`, `?`, `#` or space; up to 8 KiB (a JWT
// used as a password is ~1 KiB). Two scans cannot overlap (the next scheme's `//` stops one), and the scheme is
// bounded, so the search stays linear.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/?#]{1,8192})@/gi;
// An `Authorization:` (or `Proxy-Authorization:`) header: its value, after a known scheme word, to the end of the
// line or a quote (`Authorization: token ghp…`, `Authorization: Bearer …`, `Authorization: Basic …`, a bare
// value). An unknown first word is not kept: it may be the secret itself.
const AUTH_HEADER =
  /\b((?:Proxy-)?Authorization["']?[ \t]{0,16}[:=][ \t]{0,16}["'[]?(?:(?:Basic|Bearer|token|Digest|Negotiate|NTLM|OAuth|ApiKey|Key|AWS4-HMAC-SHA256)[ \t]{1,16})?)[^\s"'\]][^\n"'\]]{0,4095}/gi;
// `Bearer <token>` anywhere. At least 8 token characters, so that prose such as "bearer token expired" is left alone.
const BEARER = /\b(Bearer)([ \t]{1,16})[A-Za-z0-9\-._~+/]{8,4096}=*/gi;
// A bare JSON Web Token (Kubernetes service-account tokens, OIDC id tokens): base64url `{"…` header, then two or
// more dot-separated parts.
const JWT = /\beyJ[A-Za-z0-9_-]{4,8192}(?:\.[A-Za-z0-9_-]{0,8192}){2,4}/g;
// Well-known token shapes that leak into error messages without a URL around them: GitHub (ghp_, gho_, ghu_,
// ghs_, ghr_, github_pat_), GitLab (glpat-, gldt-, glrt-, glptt-, glft-, glimt-, glagent-, glcbt-, glsoat-),
// Slack (xoxb-, xoxp-, xoxa-, xoxo-, xoxr-, xoxs-, xapp-), AWS access key ids (AKIA…, ASIA…), Google API keys
// (AIza…), npm (npm_), Docker Hub (dckr_pat_), HashiCorp Vault (hvs., hvb.).
const KNOWN_TOKENS =
  /\b(?:gh[pousr]_[A-Za-z0-9]{10,255}|github_pat_[A-Za-z0-9_]{20,255}|gl(?:pat|dt|rt|ptt|ft|imt|agent|cbt|soat)-[A-Za-z0-9_-]{10,255}|xox[abposr]-[A-Za-z0-9-]{8,255}|xapp-[A-Za-z0-9-]{8,255}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,64}|npm_[A-Za-z0-9]{30,64}|dckr_pat_[A-Za-z0-9_-]{20,255}|hv[sb]\.[A-Za-z0-9_-]{20,255})/g;
// `key=value` (query parameters, form bodies, command lines) whose key names a secret: password, passwd, pwd,
// token (access_token, private_token, X-Amz-Security-Token…), secret (client_secret…), signature and sig
// (X-Amz-Signature, Azure SAS), credential (X-Amz-Credential), api/access/secret/private key, auth. The value is
// cut at `&`, space, a quote or `#`.
const SECRET_KEY = '(?:[A-Za-z0-9_-]{0,40}[_-])?(?:password|passwd|pwd|token|secret|signature|sig|credential|(?:api|access|secret|private)[_-]?key|apikey|auth)';
const SECRET_PARAM = new RegExp(`(?<![A-Za-z0-9])(${SECRET_KEY}=)[^&\\s"'#]{1,4096}`, 'gi');
// The same keys as JSON members: `"password": "…"`.
const SECRET_JSON = new RegExp(`("${SECRET_KEY}"[ \\t]{0,16}:[ \\t]{0,16}")(?:[^"\\\\\\n]|\\\\.){1,4096}"`, 'gi');

/** Removes terminal control sequences and control characters; keeps `\n` and `\t`; CRLF and CR become LF. */
export function stripControl(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(STRIP, '');
}

/**
 * Replaces credentials in text: `https://user:pass@host` and `https://token@host` become `https://***@host`
 * (an ssh user without a password, like `ssh://git@host`, is not a secret and is kept), the value of an
 * `Authorization:` header and of `Bearer <token>` become `***`, and so do bare JWTs, well-known token shapes
 * (GitHub, GitLab, Slack, AWS, Google, npm…) and the values of secret-named parameters (`password=`, `token=`,
 * `X-Amz-Signature=`, `"client_secret": "…"`…).
 */
export function redactSecrets(s: string): string {
  // Cheap guard first: without an `@` there is no URL userinfo and that scan is skipped.
  const out = s.includes('@') ? redactUrlUserinfo(s) : s;
  return redactParams(
    out
      .replace(AUTH_HEADER, (_all, head: string) => `${head}***`)
      .replace(BEARER, (_all, scheme: string, space: string) => `${scheme}${space}***`)
      .replace(JWT, '***')
      .replace(KNOWN_TOKENS, '***'),
  );
}

/** Replaces the values of secret-named parameters (`password=…`, `token=…`, `X-Amz-Signature=…`, JSON members). */
export function redactParams(s: string): string {
  const out = s.includes('=') ? s.replace(SECRET_PARAM, (_all, key: string) => `${key}***`) : s;
  return out.includes('"') ? out.replace(SECRET_JSON, (_all, head: string) => `${head}***"`) : out;
}

function redactUrlUserinfo(s: string): string {
  return s.replace(URL_USERINFO, (all, scheme: string, userinfo: string) => {
    const isSsh = /^(?:ssh|git\+ssh|ssh\+git):\/\/$/i.test(scheme);
    if (isSsh && !userinfo.includes(':') && !userinfo.includes('@')) return all;
    return `${scheme}***@`;
  });
}

function toText(s: unknown): string {
  if (s === undefined || s === null) return '';
  if (typeof s === 'string') return s;
  if (s instanceof Error) return s.message;
  if (typeof s === 'object') {
    try {
      return JSON.stringify(s) ?? '';
    } catch {
      return String(s);
    }
  }
  return String(s);
}

/** Cuts `s` to at most `max` characters including the ellipsis, never inside a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= ELLIPSIS.length) return ELLIPSIS.slice(0, Math.max(0, max));
  let end = max - ELLIPSIS.length;
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--; // do not keep a lone high surrogate
  return s.slice(0, end) + ELLIPSIS;
}

/**
 * Makes text from the cluster safe to print: no terminal escapes or control characters (except newline and
 * tab), no bidi overrides, no credentials, at most `maxLength` characters (default 4096) ending with `…`
 * when cut. Accepts anything (Errors give their message, objects their JSON).
 */
export function sanitizeText(s: unknown, opts: SanitizeOptions = {}): string {
  const max = opts.maxLength ?? DEFAULT_MAX_LENGTH;
  let text = toText(s);
  if (text.length > MAX_INPUT) text = text.slice(0, MAX_INPUT);
  return truncate(redactSecrets(stripControl(text)), max);
}

/** The first non-blank line of the sanitised text, trimmed ('' when there is none). */
export function firstLine(s: unknown, opts: SanitizeOptions = {}): string {
  const text = sanitizeText(s, { maxLength: Number.MAX_SAFE_INTEGER });
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t) return truncate(t, opts.maxLength ?? DEFAULT_MAX_LENGTH);
  }
  return '';
}
