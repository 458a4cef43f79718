// A git smart-HTTP server on loopback for the real-Flux conformance suite: `git http-backend` (git's own CGI
// program) behind a small Node HTTP server. source-controller clones from it over HTTP (go-git does not read
// file:// URLs), and tests push to it from a working clone with plain `git push`, the path a user's push takes.
// It also serves static files (a Helm chart index and chart archives) under /static/.
import { spawn, execFile } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface GitServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Directory of the bare repositories (`<name>.git`). */
  root: string;
  /** Directory served under `${url}/static/`. */
  staticDir: string;
  /** Creates an empty bare repository `<name>.git` that accepts pushes; returns its clone URL. */
  createRepo(name: string): Promise<string>;
  /** Requests served so far, by path prefix (`git`, `static`). */
  requests: { git: number; static: number };
  /** While true, every request is answered 503 (a source that cannot fetch). */
  failing: boolean;
  close(): Promise<void>;
}

/** Runs git with a clean, predictable environment (no user config, fixed identity). */
export async function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await execFileP('git', args, {
    cwd,
    env: {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Conformance',
      GIT_AUTHOR_EMAIL: 'conformance@example.invalid',
      GIT_COMMITTER_NAME: 'Conformance',
      GIT_COMMITTER_EMAIL: 'conformance@example.invalid',
      ...env,
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim();
}

export async function startGitServer(): Promise<GitServer> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'flux-monitor-git-'));
  const root = path.join(base, 'repos');
  const staticDir = path.join(base, 'static');
  await mkdir(root);
  await mkdir(staticDir);
  const requests = { git: 0, static: 0 };
  const state = { failing: false };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (state.failing) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable (test: source cannot fetch)\n');
      return;
    }
    if (url.pathname.startsWith('/static/')) {
      requests.static++;
      serveStatic(staticDir, decodeURIComponent(url.pathname.slice('/static/'.length)), res);
      return;
    }
    if (url.pathname.startsWith('/git/')) {
      requests.git++;
      serveGit(root, url, req, res);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    root,
    staticDir,
    requests,
    get failing() {
      return state.failing;
    },
    set failing(v: boolean) {
      state.failing = v;
    },
    async createRepo(name: string) {
      const dir = path.join(root, `${name}.git`);
      await git(root, ['init', '--bare', '--initial-branch=main', dir]);
      await git(dir, ['config', 'http.receivepack', 'true']);
      return `${url}/git/${name}.git`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(base, { recursive: true, force: true });
    },
  };
}

function serveStatic(dir: string, rel: string, res: http.ServerResponse): void {
  const file = path.resolve(dir, rel);
  if (!file.startsWith(dir + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404).end();
    return;
  }
  const type = file.endsWith('.yaml') ? 'application/x-yaml' : file.endsWith('.tgz') ? 'application/gzip' : 'application/octet-stream';
  res.writeHead(200, { 'content-type': type, 'content-length': statSync(file).size });
  createReadStream(file).pipe(res);
}

/** One request through `git http-backend` (CGI/1.1: environment in, `Status:`/headers + body out). */
function serveGit(root: string, url: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    HOME: root,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname.slice('/git'.length)),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    REMOTE_USER: 'conformance',
  };
  if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string') env[`HTTP_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  }
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    let sep = head.indexOf('\r\n\r\n');
    let sepLen = 4;
    if (sep < 0) {
      sep = head.indexOf('\n\n');
      sepLen = 2;
    }
    if (sep < 0) return;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, sep).toString('latin1').split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const k = line.slice(0, i).trim();
      const v = line.slice(i + 1).trim();
      if (k.toLowerCase() === 'status') status = parseInt(v, 10) || 200;
      else headers[k] = v;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(sep + sepLen));
  });
  child.stdout.on('end', () => {
    if (!headersDone) res.writeHead(502);
    res.end();
  });
  child.stderr.on('data', () => undefined);
  child.on('error', () => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
}
