// The proxy of the environment, picked as client-go picks it: kubectl's REST client uses Go's
// http.ProxyFromEnvironment (golang.org/x/net/http/httpproxy) when the cluster has no `proxy-url`:
// - HTTPS_PROXY (or https_proxy) for an https server, HTTP_PROXY (or http_proxy) for an http one; the upper-case
//   name wins; no fallback from one to the other;
// - a value without a scheme is http:// (`proxy.corp:3128`);
// - never for `localhost` or a loopback address;
// - NO_PROXY (or no_proxy): comma-separated; `*` matches everything; an IP or a CIDR matches IP servers; a domain
//   `example.com` matches it and its subdomains, `.example.com` and `*.example.com` only its subdomains; an entry
//   may name a port (`example.com:6443`), which must then be the server's (443/80 when the URL has none).
import net from 'node:net';

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };
const SCHEMES = new Set(['http:', 'https:', 'socks5:', 'socks5h:', 'socks4:', 'socks4a:', 'socks:']);

function getEnvAny(env: NodeJS.ProcessEnv, ...names: string[]): string {
  for (const n of names) {
    const v = env[n];
    if (v) return v;
  }
  return '';
}

/** Go's parseProxy: a value that is not a URL with a scheme and a host is tried again as http://value. */
function parseProxy(value: string, name: string): URL {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  // `proxy:3128` parses as the scheme "proxy:" without a host; `10.0.0.1:3128` does not parse.
  if (!u || !u.host) {
    try {
      u = new URL(`http://${value}`);
    } catch {
      /* the original value is reported */
    }
  }
  if (!u || !u.host) throw new Error(`invalid proxy address in ${name}`);
  if (!SCHEMES.has(u.protocol)) throw new Error(`unsupported proxy scheme "${u.protocol.replace(/:$/, '')}" in ${name}`);
  return u;
}

/** Parses an IPv4/IPv6 address into bytes (IPv4-mapped IPv6 as IPv4), or undefined. */
function ipBytes(s: string): number[] | undefined {
  const host = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  const v = net.isIP(host);
  if (v === 4) return host.split('.').map(Number);
  if (v !== 6) return undefined;
  // Expand IPv6 (with an optional trailing dotted IPv4).
  let h = host.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (dotted) {
    const b = dotted[1]!.split('.').map(Number);
    h = h.slice(0, -dotted[1]!.length) + ((b[0]! << 8) | b[1]!).toString(16) + ':' + ((b[2]! << 8) | b[3]!).toString(16);
  }
  const [head, rest] = h.split('::') as [string, string | undefined];
  const hs = head ? head.split(':') : [];
  const rs = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? hs : [...hs, ...Array(8 - hs.length - rs.length).fill('0'), ...rs];
  const out: number[] = [];
  for (const g of groups) {
    const n = parseInt(g || '0', 16);
    out.push(n >> 8, n & 0xff);
  }
  // IPv4-mapped: ::ffff:a.b.c.d compares as a.b.c.d, as Go's net.IP does.
  if (out.slice(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff) return out.slice(12);
  return out;
}

function isLoopback(ip: number[]): boolean {
  if (ip.length === 4) return ip[0] === 127;
  return ip.slice(0, 15).every((b) => b === 0) && ip[15] === 1;
}

function sameIp(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function inCidr(ip: number[], net_: number[], bits: number): boolean {
  if (ip.length !== net_.length) return false;
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((ip[byte]! & mask) !== (net_[byte]! & mask)) return false;
  }
  return true;
}

/** Splits `host:port` / `[v6]:port`; undefined when there is no port (Go's net.SplitHostPort fails). */
function splitHostPort(s: string): [string, string] | undefined {
  if (s.startsWith('[')) {
    const m = /^\[([^\]]*)\]:(\d*)$/.exec(s);
    return m ? [m[1]!, m[2]!] : undefined;
  }
  const i = s.lastIndexOf(':');
  if (i < 0 || s.indexOf(':') !== i) return undefined; // none, or a bare IPv6 address
  return [s.slice(0, i), s.slice(i + 1)];
}

/** Whether NO_PROXY says to go direct to host:port (host lower-case, brackets removed). */
export function noProxyMatches(noProxy: string, host: string, port: string): boolean {
  const ip = ipBytes(host);
  for (const raw of noProxy.split(',')) {
    const p = raw.trim().toLowerCase();
    if (!p) continue;
    if (p === '*') return true;
    const slash = p.indexOf('/');
    if (slash > 0) {
      const netIp = ipBytes(p.slice(0, slash));
      const bits = Number(p.slice(slash + 1));
      if (netIp && /^\d+$/.test(p.slice(slash + 1)) && bits <= netIp.length * 8) {
        if (ip && inCidr(ip, netIp, bits)) return true;
        continue;
      }
    }
    let phost = p;
    let pport = '';
    const hp = splitHostPort(p);
    if (hp) {
      if (!hp[0]) continue;
      [phost, pport] = hp;
    }
    const pip = ipBytes(phost);
    if (pip) {
      if (ip && sameIp(ip, pip) && (!pport || pport === port)) return true;
      continue;
    }
    if (!phost) continue;
    if (ip) continue; // a domain never matches an IP server
    if (phost.startsWith('*.')) phost = phost.slice(1);
    const matchHost = !phost.startsWith('.');
    if (matchHost) phost = '.' + phost;
    if ((host.endsWith(phost) || (matchHost && host === phost.slice(1))) && (!pport || pport === port)) return true;
  }
  return false;
}

/**
 * The proxy for requests to `server` from the environment, or undefined (no variable, NO_PROXY, loopback).
 * Throws when the variable that applies is not a usable proxy address.
 */
export function proxyFromEnvironment(server: string, env: NodeJS.ProcessEnv): { url: string; from: string } | undefined {
  let target: URL;
  try {
    target = new URL(server);
  } catch {
    return undefined;
  }
  const names = target.protocol === 'https:' ? ['HTTPS_PROXY', 'https_proxy'] : target.protocol === 'http:' ? ['HTTP_PROXY', 'http_proxy'] : [];
  const value = getEnvAny(env, ...names);
  if (!value) return undefined;
  const from = names.find((n) => env[n]) ?? names[0]!;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || DEFAULT_PORT[target.protocol]!;
  if (host === 'localhost') return undefined;
  const ip = ipBytes(host);
  if (ip && isLoopback(ip)) return undefined;
  if (noProxyMatches(getEnvAny(env, 'NO_PROXY', 'no_proxy'), host, port)) return undefined;
  return { url: parseProxy(value, from).href, from };
}
