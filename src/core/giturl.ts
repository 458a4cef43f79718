// Git remote URLs: a canonical comparable form, credential redaction and ref names. Pure, no URL parsing
// by `new URL` (it rejects scp-like forms and percent-encodes paths differently across forms).

export interface ParsedGitUrl {
  /** Lower-case scheme (`https`, `ssh`, `git`, `file`...), `ssh` for scp-like forms, `file` for local paths. */
  scheme: string;
  /** Userinfo as written (may hold credentials!). */
  userinfo?: string;
  /** Host, lower case, without brackets for IPv6; '' for local paths. */
  host: string;
  port?: string;
  /** Path as written, without the leading `/` for remote URLs. */
  path: string;
  /** The URL was written as `[user@]host:path`. */
  scpLike: boolean;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
const DEFAULT_PORTS: Record<string, string> = { https: '443', http: '80', ssh: '22', 'git+ssh': '22', 'ssh+git': '22', git: '9418' };

/** Splits a git URL into its parts, or undefined for an empty string. */
export function parseGitUrl(input: string): ParsedGitUrl | undefined {
  const url = (input ?? '').trim();
  if (!url) return undefined;

  const sm = SCHEME.exec(url);
  if (sm) {
    const scheme = sm[1]!.toLowerCase();
    const rest = url.slice(sm[0].length);
    if (scheme === 'file') {
      // file:///abs/path or file://host/path (host ignored: only local files are meaningful here).
      const slash = rest.indexOf('/');
      return { scheme, host: '', path: slash >= 0 ? rest.slice(slash) : `/${rest}`, scpLike: false };
    }
    const slash = rest.indexOf('/');
    const authority = slash >= 0 ? rest.slice(0, slash) : rest;
    const path = slash >= 0 ? rest.slice(slash + 1) : '';
    const at = authority.lastIndexOf('@');
    const userinfo = at >= 0 ? authority.slice(0, at) : undefined;
    const hostPort = at >= 0 ? authority.slice(at + 1) : authority;
    let host = hostPort;
    let port: string | undefined;
    if (hostPort.startsWith('[')) {
      const close = hostPort.indexOf(']');
      host = hostPort.slice(1, close >= 0 ? close : undefined);
      const after = close >= 0 ? hostPort.slice(close + 1) : '';
      if (after.startsWith(':') && after.length > 1) port = after.slice(1);
    } else {
      const colon = hostPort.lastIndexOf(':');
      if (colon >= 0) {
        host = hostPort.slice(0, colon);
        port = hostPort.slice(colon + 1) || undefined;
      }
    }
    return { scheme, ...(userinfo !== undefined ? { userinfo } : {}), host: host.toLowerCase(), ...(port ? { port } : {}), path, scpLike: false };
  }

  // Local paths: absolute, relative, home, and Windows drive paths (`C:\x`, `C:/x`).
  if (/^(?:\/|\.\.?(?:\/|\\|$)|~|[a-z]:[\\/])/i.test(url)) {
    return { scheme: 'file', host: '', path: url, scpLike: false };
  }

  // scp-like `[user@]host:path`: the `:` after the host comes before any `/`.
  const firstSlash = url.indexOf('/');
  const head = firstSlash >= 0 ? url.slice(0, firstSlash) : url;
  const at = head.lastIndexOf('@');
  const hostStart = at + 1;
  const colon = url[hostStart] === '[' ? url.indexOf(']:', hostStart) + 1 : url.indexOf(':', hostStart);
  if (colon > hostStart && (firstSlash < 0 || colon < firstSlash)) {
    let host = url.slice(hostStart, colon);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    return {
      scheme: 'ssh',
      ...(at >= 0 ? { userinfo: url.slice(0, at) } : {}),
      host: host.toLowerCase(),
      path: url.slice(colon + 1).replace(/^\/+/, ''),
      scpLike: true,
    };
  }

  // Anything else (`host/path` without a scheme, a bare name): treat as a relative local path.
  return { scheme: 'file', host: '', path: url, scpLike: false };
}

function cleanPath(path: string): string {
  return path
    .replace(/\\/g, '/')
    .replace(/\/{2,}/g, '/')
    .replace(/\/+$/, '')
    .replace(/\.git$/i, '')
    .replace(/\/+$/, '');
}

/**
 * Canonical comparable form of a git remote: `host[:port]/path`, lower case, without scheme, userinfo,
 * default port (22, 80, 443, 9418 for their schemes), trailing `/` or `.git`. Azure DevOps ssh remotes
 * (`ssh.dev.azure.com:v3/org/project/repo`) and `org.visualstudio.com` URLs are mapped to the
 * `dev.azure.com/org/project/_git/repo` form so the https and ssh remotes of a repository compare equal.
 * Local paths and `file://` URLs give the path itself, case kept (file systems may be case sensitive).
 * Returns '' for an empty input.
 */
export function normalizeGitUrl(url: string): string {
  const p = parseGitUrl(url);
  if (!p) return '';
  if (p.scheme === 'file') {
    const path = cleanPath(p.path);
    return path || (p.path.startsWith('/') ? '/' : p.path);
  }
  let host = p.host;
  let path = cleanPath(p.path).replace(/^\/+/, '').toLowerCase();
  const port = p.port && p.port !== DEFAULT_PORTS[p.scheme] ? p.port : undefined;

  // Azure DevOps.
  if ((host === 'ssh.dev.azure.com' || host === 'vs-ssh.visualstudio.com') && path.startsWith('v3/')) {
    const [org, project, ...repo] = path.slice(3).split('/');
    if (org && project && repo.length) {
      host = 'dev.azure.com';
      path = `${org}/${project}/_git/${repo.join('/')}`;
    }
  } else if (host.endsWith('.visualstudio.com') && path.includes('/_git/')) {
    const org = host.slice(0, -'.visualstudio.com'.length);
    host = 'dev.azure.com';
    path = `${org}/${path.replace(/^defaultcollection\//, '')}`;
  }
  const hostPart = host.includes(':') ? `[${host}]` : host; // IPv6
  return `${hostPart}${port ? `:${port}` : ''}${path ? `/${path}` : ''}`;
}

function withoutPort(normalized: string): string {
  const slash = normalized.indexOf('/');
  const hostPort = slash >= 0 ? normalized.slice(0, slash) : normalized;
  const rest = slash >= 0 ? normalized.slice(slash) : '';
  return hostPort.replace(/:\d+$/, '') + rest;
}

/**
 * Whether two remotes name the same repository. Ports are ignored, because the ssh and https remotes of
 * one server often differ only by port (`ssh://git@gitlab.example.com:2222/g/r` vs `https://gitlab.example.com/g/r`).
 */
export function sameRepo(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = normalizeGitUrl(a);
  const y = normalizeGitUrl(b);
  if (!x || !y) return false;
  return x === y || withoutPort(x) === withoutPort(y);
}

/**
 * The URL with any secret removed; never returns credentials. Choice made:
 * - `user:password@` keeps the user and hides the password: `https://user:***@host/x`;
 * - a lone userinfo on a non-ssh URL is treated as a token (GitHub/GitLab accept a token as the user name):
 *   `https://ghp_x@host/x` → `https://***@host/x`;
 * - a lone ssh user is not a secret and is kept: `ssh://git@host/x`, `git@host:x`;
 * - the userinfo runs to the last `@` of the authority, so a password holding `@` is hidden whole;
 * - every query value is hidden, its name kept (`?private_token=***`, `X-Amz-Signature=***`), a bare one
 *   becomes `***`: a git remote's query is never what identifies it.
 * Everything else is returned as written (trimmed). What identifies the repository (scheme, host, port, path) is
 * kept, so `normalizeGitUrl(redactUrl(u)) === normalizeGitUrl(u)` for a URL without a query. The hooks apply the
 * same rule in sh (`fm_redact`, hooks/lib/common.sh) to the URL they write to the intent file; it is idempotent.
 */
export function redactUrl(url: string): string {
  const u = redactUserinfo((url ?? '').trim());
  if (!SCHEME.test(u)) return u;
  const q = u.indexOf('?');
  if (q < 0) return u;
  const hash = u.indexOf('#', q);
  const query = hash >= 0 ? u.slice(q + 1, hash) : u.slice(q + 1);
  const params = query.split('&').map((p) => {
    const eq = p.indexOf('=');
    return eq >= 0 ? `${p.slice(0, eq)}=***` : p ? '***' : p;
  });
  return `${u.slice(0, q)}?${params.join('&')}${hash >= 0 ? u.slice(hash) : ''}`;
}

function redactUserinfo(u: string): string {
  const sm = SCHEME.exec(u);
  if (sm) {
    const scheme = sm[1]!.toLowerCase();
    const rest = u.slice(sm[0].length);
    const slash = rest.indexOf('/');
    const authority = slash >= 0 ? rest.slice(0, slash) : rest;
    const at = authority.lastIndexOf('@');
    if (at < 0) return u;
    const userinfo = authority.slice(0, at);
    const tail = rest.slice(at);
    const colon = userinfo.indexOf(':');
    const isSsh = scheme === 'ssh' || scheme === 'git+ssh' || scheme === 'ssh+git';
    let safe: string;
    if (colon >= 0) safe = `${userinfo.slice(0, colon)}:***`;
    else safe = isSsh ? userinfo : '***';
    return `${sm[0]}${safe}${tail}`;
  }
  // scp-like: `user:password@host:path` is not valid git syntax, but never echo a password if present.
  const p = parseGitUrl(u);
  if (p?.scpLike && p.userinfo?.includes(':')) {
    return `${p.userinfo.slice(0, p.userinfo.indexOf(':'))}:***${u.slice(p.userinfo.length)}`;
  }
  return u;
}

/** `refs/heads/main` → `main`; a name without `refs/` is returned as is; other refs (tags, notes...) → undefined. */
export function branchFromRef(ref: string): string | undefined {
  const r = (ref ?? '').trim();
  if (!r) return undefined;
  if (r.startsWith('refs/heads/')) return r.slice('refs/heads/'.length) || undefined;
  if (r.startsWith('refs/')) return undefined;
  return r;
}

/** `refs/tags/v1.2.3` → `v1.2.3`; anything else → undefined. */
export function tagFromRef(ref: string): string | undefined {
  const r = (ref ?? '').trim();
  if (r.startsWith('refs/tags/')) return r.slice('refs/tags/'.length).replace(/\^\{\}$/, '') || undefined;
  return undefined;
}
