// A real etcd + kube-apiserver on loopback for flux-monitor's kube tests.
// Binaries are built from Go modules by test/kube/build.sh; see docs/testing.md.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import YAML from 'yaml';

const execFileP = promisify(execFile);

export type KubeIdentity = 'admin' | 'limited' | 'bad';

export interface KubeResponse {
  status: number;
  /** Parsed JSON when the response is JSON, else the raw text. */
  body: any;
  text: string;
}

export interface KubeRequestOptions {
  /** Who sends the request (default admin). */
  as?: KubeIdentity;
  /** Content-Type for the body (default application/json). */
  contentType?: string;
  timeoutMs?: number;
}

export interface KubeCluster {
  /** https://127.0.0.1:<port> */
  server: string;
  /** CN=admin, O=system:masters client cert. */
  adminKubeconfigPath: string;
  /** CN=limited-user: get/list/watch Flux kinds in namespace team-a only; context namespace team-a. */
  limitedKubeconfigPath: string;
  /** Bogus bearer token: every request is 401. */
  badCredsKubeconfigPath: string;
  /** Temp dir holding certs, kubeconfigs, etcd data and the logs (etcd.log, kube-apiserver.log). */
  dataDir: string;
  caCertPem: string;
  /** Raw REST call, e.g. request('PATCH', '/apis/…/status', obj, { contentType: 'application/merge-patch+json' }). */
  request(method: string, apiPath: string, body?: unknown, opts?: KubeRequestOptions): Promise<KubeResponse>;
  /** Kill only the apiserver (SIGKILL by default; graceful: SIGTERM first). etcd keeps the data. */
  stopApiserver(opts?: { graceful?: boolean }): Promise<void>;
  /** Start the apiserver again on the same port and wait for /readyz. */
  startApiserver(): Promise<void>;
  /**
   * Compact etcd at its current revision and return it. Requests that reach etcd with an
   * older resourceVersion then get 410 Gone. With the watch cache on (the default) the
   * apiserver keeps serving recent versions from memory until it restarts, so start the
   * cluster with `watchCache: false` to see 410 right after compaction.
   */
  compactEtcd(): Promise<number>;
  /** Kill everything and remove dataDir (kept if FLUX_MONITOR_KEEP_KUBE=1). */
  stop(): Promise<void>;
}

export interface StartKubeClusterOptions {
  log?: (s: string) => void;
  /** Wait this long for etcd / apiserver readiness (default 120 s each). */
  readyTimeoutMs?: number;
  /** false: --watch-cache=false, every read goes to etcd (compaction → 410 at once). Default true. */
  watchCache?: boolean;
  /** Extra kube-apiserver flags. */
  apiserverArgs?: string[];
}

export const TEAM_NAMESPACES = ['team-a', 'team-b', 'flux-system'] as const;
export const LIMITED_USER = 'limited-user';

// ---------------------------------------------------------------- binaries

function findKubeDir(): string {
  if (process.env.FLUX_MONITOR_KUBE_DIR) return path.resolve(process.env.FLUX_MONITOR_KUBE_DIR);
  // Works from test/harness/ and from a compiled copy (dist/test/harness/).
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'test', 'kube');
    if (existsSync(path.join(candidate, 'build.sh'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('kube-cluster: cannot find test/kube/build.sh above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let binariesPromise: Promise<{ apiserver: string; etcd: string }> | undefined;

/** Runs test/kube/build.sh (a no-op when bin/ is up to date) and returns the binary paths. */
export function ensureKubeBinaries(opts: { log?: (s: string) => void } = {}): Promise<{ apiserver: string; etcd: string }> {
  binariesPromise ??= buildBinaries(opts.log ?? ((s) => process.stderr.write(s + '\n'))).catch((err) => {
    binariesPromise = undefined;
    throw err;
  });
  return binariesPromise;
}

/** Runs a build script with bash (Go on PATH or in /usr/local/go/bin), logging its lines; rejects with its tail. */
export function runBuildScript(script: string, log: (s: string) => void, what: string): Promise<void> {
  const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin` };
  return new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (chunk: Buffer) => {
      const s = chunk.toString();
      tail = (tail + s).slice(-4000);
      for (const line of s.split('\n')) if (line.trim()) log(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}); needs Go ≥1.24 and the Go module proxy:\n${tail}`))));
  });
}

async function buildBinaries(log: (s: string) => void): Promise<{ apiserver: string; etcd: string }> {
  const kubeDir = findKubeDir();
  await runBuildScript(path.join(kubeDir, 'build.sh'), log, 'test/kube/build.sh');
  return { apiserver: path.join(kubeDir, 'bin', 'kube-apiserver'), etcd: path.join(kubeDir, 'bin', 'etcd') };
}

// ---------------------------------------------------------------- small helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function logTail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, onTimeout: () => Promise<string> | string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if ((err as { fatal?: boolean }).fatal) throw err; // e.g. the process died: no point waiting
    }
    if (Date.now() > deadline) throw new Error(`kube-cluster: timed out after ${timeoutMs} ms waiting for ${what}\n${await onTimeout()}`);
    await sleep(150);
  }
}

function httpJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

// ---------------------------------------------------------------- certificates

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;

interface Pki {
  ca: string; caKey: string;
  serverCert: string; serverKey: string;
  adminCert: string; adminKey: string;
  limitedCert: string; limitedKey: string;
  saPub: string; saKey: string;
}

async function makePki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const cnf = path.join(dir, 'openssl.cnf');
  await writeFile(cnf, OPENSSL_CNF);
  const f = (n: string) => path.join(dir, n);
  const newCert = (name: string, ext: string, subj: string, signed: boolean) =>
    execFileP('openssl', [
      'req', '-x509', '-config', cnf, '-extensions', ext, '-days', '7', '-subj', subj,
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`),
      ...(signed ? ['-CA', f('ca.crt'), '-CAkey', f('ca.key')] : []),
    ]);
  await newCert('ca', 'ca', '/CN=flux-monitor-test-ca', false);
  await Promise.all([
    newCert('apiserver', 'server', '/CN=kube-apiserver', true),
    newCert('admin', 'client', '/O=system:masters/CN=admin', true),
    newCert('limited', 'client', `/CN=${LIMITED_USER}`, true),
  ]);
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(f('sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(f('sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
  const read = (n: string) => readFile(f(n), 'utf8');
  return {
    ca: await read('ca.crt'), caKey: f('ca.key'),
    serverCert: f('apiserver.crt'), serverKey: f('apiserver.key'),
    adminCert: await read('admin.crt'), adminKey: await read('admin.key'),
    limitedCert: await read('limited.crt'), limitedKey: await read('limited.key'),
    saPub: f('sa.pub'), saKey: f('sa.key'),
  };
}

function kubeconfig(server: string, caPem: string, name: string, user: Record<string, string>, namespace?: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'flux-monitor-test', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name, user }],
    contexts: [{ name, context: { cluster: 'flux-monitor-test', user: name, ...(namespace ? { namespace } : {}) } }],
    'current-context': name,
  });
}

// ---------------------------------------------------------------- processes

export const liveClusters = new Set<{ kill(): void }>();
let exitHookInstalled = false;

export function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of liveClusters) c.kill();
  });
}

export class Proc {
  child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    readonly name: string,
    readonly bin: string,
    readonly args: string[],
    readonly logFile: string,
    private readonly onChange: () => void,
    private readonly env?: NodeJS.ProcessEnv,
  ) {}

  start(): void {
    const fd = openSync(this.logFile, 'a');
    try {
      const child = spawn(this.bin, this.args, { stdio: ['ignore', fd, fd], env: this.env ?? process.env });
      this.child = child;
      this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
      child.once('error', () => undefined); // surfaces as exit / readiness failure
      child.unref();
    } finally {
      closeSync(fd);
    }
    this.onChange();
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(graceMs: number): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const timer = graceMs > 0 ? setTimeout(() => child.kill('SIGKILL'), graceMs) : undefined;
    await this.exited;
    clearTimeout(timer);
    this.onChange();
  }

  killSync(): void {
    if (this.running) this.child!.kill('SIGKILL');
  }

  failure(): string | undefined {
    if (this.running) return undefined;
    const c = this.child!;
    return `${this.name} exited (code ${c.exitCode}, signal ${c.signalCode}); last lines of ${this.logFile}:\n${logTail(this.logFile)}`;
  }
}

/**
 * Backstop for workers that die without running 'exit' handlers (SIGKILL, SIGTERM):
 * a shell that waits for this Node process to go away, then kills the recorded pids
 * and removes the dir. It exits by itself once the dir has been removed.
 */
export function startWatchdog(dir: string, pidFile: string, keepDir: boolean): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null && [ -d "$1" ]; do sleep 1; done
if [ -d "$1" ]; then for p in $(cat "$2" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done; [ "$3" = keep ] || rm -rf "$1"; fi`;
  const args = ['-c', script, 'kube-cluster-watchdog', dir, pidFile, keepDir ? 'keep' : 'remove'];
  const w = spawn('sh', args, { stdio: 'ignore', detached: true });
  w.unref();
}

// ---------------------------------------------------------------- REST

interface Credentials { cert?: string; key?: string; token?: string }

function kubeRequest(server: string, ca: string, creds: Credentials, method: string, apiPath: string, body: unknown, opts: KubeRequestOptions): Promise<KubeResponse> {
  const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (data !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  if (creds.token) headers.authorization = `Bearer ${creds.token}`;
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(apiPath, server),
      { method, headers, ca, cert: creds.cert, key: creds.key, agent: false, timeout: opts.timeoutMs ?? 30_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed: any = text;
          if ((res.headers['content-type'] ?? '').includes('json')) {
            try { parsed = JSON.parse(text); } catch { /* keep text */ }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: timeout`)));
    req.on('error', reject);
    req.end(data);
  });
}

function ensureOk(what: string, r: KubeResponse, allowed: number[] = []): void {
  if ((r.status < 200 || r.status > 299) && !allowed.includes(r.status)) {
    throw new Error(`kube-cluster: ${what}: HTTP ${r.status}: ${r.text.slice(0, 500)}`);
  }
}

// ---------------------------------------------------------------- cluster

export async function startKubeCluster(opts: StartKubeClusterOptions = {}): Promise<KubeCluster> {
  const log = opts.log ?? (() => undefined);
  const readyTimeout = opts.readyTimeoutMs ?? 120_000;
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

  const bins = await ensureKubeBinaries({ log: opts.log }); // build output goes to stderr by default
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'flux-monitor-kube-'));
  const pidFile = path.join(dataDir, 'pids');
  const procs: Proc[] = [];
  const writePids = () => writeFileSync(pidFile, procs.filter((p) => p.running).map((p) => p.child!.pid).join('\n'));
  const keep = process.env.FLUX_MONITOR_KEEP_KUBE === '1';
  const handle = {
    kill() {
      for (const p of procs) p.killSync();
      if (!keep) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  liveClusters.add(handle);
  installExitHook();
  startWatchdog(dataDir, pidFile, keep);

  try {
    const pki = await makePki(path.join(dataDir, 'pki'));
    log(`kube-cluster: certificates ready (${since()})`);

    // etcd; retried on fresh ports in case another process took one meanwhile.
    let etcdUrl = '';
    for (let attempt = 1; ; attempt++) {
      const [clientPort, peerPort] = [await freePort(), await freePort()];
      etcdUrl = `http://127.0.0.1:${clientPort}`;
      const peerUrl = `http://127.0.0.1:${peerPort}`;
      const etcd = new Proc('etcd', bins.etcd, [
        '--name=default', `--data-dir=${path.join(dataDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`, '--unsafe-no-fsync', '--log-level=warn',
      ], path.join(dataDir, 'etcd.log'), writePids);
      procs.push(etcd);
      etcd.start();
      try {
        await waitFor('etcd /health', readyTimeout, async () => {
          const fail = etcd.failure();
          if (fail) throw Object.assign(new Error(fail), { fatal: true });
          const r = await fetch(`${etcdUrl}/health`);
          return r.ok && ((await r.json()) as { health?: string }).health === 'true';
        }, () => logTail(etcd.logFile));
        break;
      } catch (err) {
        if (attempt >= 3 || !/address already in use/.test(logTail(etcd.logFile))) throw new Error(etcd.failure() ?? String(err));
        await etcd.stop(0);
        procs.pop();
      }
    }
    log(`kube-cluster: etcd ready at ${etcdUrl} (${since()})`);

    const port = await freePort();
    const server = `https://127.0.0.1:${port}`;
    const apiserver = new Proc('kube-apiserver', bins.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${path.join(dataDir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki.serverCert}`, `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${path.join(dataDir, 'pki', 'ca.crt')}`,
      `--secure-port=${port}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
      '--authorization-mode=RBAC',
      // No controller-manager here: pods would wait for a default ServiceAccount forever.
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      ...(opts.watchCache === false ? ['--watch-cache=false'] : []),
      ...(opts.apiserverArgs ?? []),
    ], path.join(dataDir, 'kube-apiserver.log'), writePids);
    procs.push(apiserver);

    const creds: Record<KubeIdentity, Credentials> = {
      admin: { cert: pki.adminCert, key: pki.adminKey },
      limited: { cert: pki.limitedCert, key: pki.limitedKey },
      bad: { token: 'not-a-valid-token' },
    };
    const request = (method: string, apiPath: string, body?: unknown, o: KubeRequestOptions = {}) =>
      kubeRequest(server, pki.ca, creds[o.as ?? 'admin'], method, apiPath, body, o);

    const waitReady = async () => {
      await waitFor('kube-apiserver /readyz', readyTimeout, async () => {
        const fail = apiserver.failure();
        if (fail) throw Object.assign(new Error(fail), { fatal: true });
        return (await request('GET', '/readyz', undefined, { timeoutMs: 5000 })).status === 200;
      }, async () => {
        const verbose = await request('GET', '/readyz?verbose', undefined, { timeoutMs: 5000 }).then((r) => r.text, (e) => String(e));
        return `readyz: ${verbose.split('\n').filter((l) => !l.includes(' ok')).join('\n')}\nlast lines of ${apiserver.logFile}:\n${logTail(apiserver.logFile)}`;
      }).catch((err) => {
        throw new Error(apiserver.failure() ?? err.message);
      });
    };

    apiserver.start();
    await waitReady();
    log(`kube-apiserver ready at ${server} (${since()})`);

    const [fluxResources] = await Promise.all([applyCrds(request), applyTenancy(request)]);
    await waitServed(request, fluxResources);
    await warmUp(request);
    log(`kube-cluster: CRDs established, namespaces and RBAC created (${since()})`);

    const kc = (n: string) => path.join(dataDir, n);
    const adminKubeconfigPath = kc('admin.kubeconfig');
    const limitedKubeconfigPath = kc('limited.kubeconfig');
    const badCredsKubeconfigPath = kc('bad-creds.kubeconfig');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await writeFile(adminKubeconfigPath, kubeconfig(server, pki.ca, 'admin', { 'client-certificate-data': b64(pki.adminCert), 'client-key-data': b64(pki.adminKey) }), { mode: 0o600 });
    await writeFile(limitedKubeconfigPath, kubeconfig(server, pki.ca, LIMITED_USER, { 'client-certificate-data': b64(pki.limitedCert), 'client-key-data': b64(pki.limitedKey) }, 'team-a'), { mode: 0o600 });
    await writeFile(badCredsKubeconfigPath, kubeconfig(server, pki.ca, 'bad-creds', { token: creds.bad.token! }), { mode: 0o600 });

    let stopped = false;
    return {
      server, adminKubeconfigPath, limitedKubeconfigPath, badCredsKubeconfigPath, dataDir, caCertPem: pki.ca,
      request,
      async stopApiserver(o = {}) {
        await apiserver.stop(o.graceful ? 30_000 : 0);
      },
      async startApiserver() {
        if (apiserver.running) return;
        const t = Date.now();
        apiserver.start();
        await waitReady();
        await waitServed(request, fluxResources);
        await warmUp(request);
        log(`kube-apiserver restarted in ${Date.now() - t} ms`);
      },
      async compactEtcd() {
        // etcd's JSON gateway (keys and values base64). Writing a marker first makes the
        // compaction revision newer than every object: a watch from the newest object
        // version stays valid, any older one gets 410 (instead of a 500 "PrevKv=nil").
        const b64 = (v: string) => Buffer.from(v).toString('base64');
        const put = await httpJson(`${etcdUrl}/v3/kv/put`, { key: b64('/flux-monitor-test/compaction-marker'), value: b64(String(Date.now())) });
        const revision = Number(put.body?.header?.revision);
        if (put.status !== 200 || !revision) throw new Error(`kube-cluster: etcd put failed: ${JSON.stringify(put.body)}`);
        const c = await httpJson(`${etcdUrl}/v3/kv/compaction`, { revision: String(revision), physical: true });
        if (c.status !== 200) throw new Error(`kube-cluster: etcd compaction failed: ${JSON.stringify(c.body)}`);
        return revision;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await apiserver.stop(5000);
        for (const p of procs) await p.stop(5000);
        liveClusters.delete(handle);
        if (!keep) await rm(dataDir, { recursive: true, force: true });
        else log(`kube-cluster: kept ${dataDir}`);
      },
    };
  } catch (err) {
    handle.kill();
    liveClusters.delete(handle);
    throw err;
  }
}

type Requester = (method: string, apiPath: string, body?: unknown, o?: KubeRequestOptions) => Promise<KubeResponse>;

/** group/version/plural of every served CRD version. */
type ResourcePath = string;

/**
 * The real Flux CRDs of the controller versions the conformance suite builds (test/flux/go.mod), fetched by
 * test/flux/crds.sh from the controllers' Go modules (a module download, no build).
 */
async function realFluxCrdDir(): Promise<string> {
  const fluxDir = path.join(path.dirname(findKubeDir()), 'flux');
  const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin` };
  await execFileP('bash', [path.join(fluxDir, 'crds.sh')], { env });
  return path.join(fluxDir, 'crds');
}

async function applyCrds(request: Requester): Promise<ResourcePath[]> {
  const crdDir = await realFluxCrdDir();
  const files = (await readdir(crdDir)).filter((f) => f.endsWith('.yaml')).sort();
  const crds = (await Promise.all(files.map(async (f) => YAML.parseAllDocuments(await readFile(path.join(crdDir, f), 'utf8')).map((d) => d.toJSON()))))
    .flat()
    .filter((d) => d?.kind === 'CustomResourceDefinition');
  const served: ResourcePath[] = [];
  await Promise.all(crds.map(async (crd) => {
    const name: string = crd.metadata.name;
    const base = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
    ensureOk(`create CRD ${name}`, await request('POST', base, crd), [409]);
    await waitFor(`CRD ${name} Established`, 60_000, async () => {
      const r = await request('GET', `${base}/${name}`);
      return (r.body?.status?.conditions ?? []).some((c: any) => c.type === 'Established' && c.status === 'True');
    }, () => '');
    const { group, names } = crd.spec;
    for (const v of crd.spec.versions.filter((v: any) => v.served)) {
      await waitFor(`${names.plural}.${group}/${v.name} in discovery`, 60_000, async () => {
        const r = await request('GET', `/apis/${group}/${v.name}`);
        return r.status === 200 && r.body.resources.some((res: any) => res.name === names.plural);
      }, () => '');
      served.push(`${group}/${v.name}/${names.plural}`);
    }
  }));
  return served.sort();
}

/**
 * Right after start (and restart) the apiserver answers 429 "storage is (re)initializing"
 * for a custom resource until its watch cache is filled; wait until every list works.
 */
async function waitServed(request: Requester, resources: ResourcePath[]): Promise<void> {
  await Promise.all(resources.map(async (r) => {
    let last: KubeResponse | undefined;
    await waitFor(`list ${r}`, 60_000, async () => (last = await request('GET', `/apis/${r}`)).status === 200, () => last?.text ?? '');
  }));
}

/** The first custom-resource write after start takes ~2 s (one-time apiserver set-up); pay it here. */
async function warmUp(request: Requester): Promise<void> {
  const r = await request('POST', '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories?dryRun=All', {
    apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'warm-up' }, spec: { interval: '1m', url: 'https://example.invalid/warm-up.git' },
  });
  ensureOk('dry-run create', r, [409]);
}

async function applyTenancy(request: Requester): Promise<void> {
  await Promise.all(TEAM_NAMESPACES.map(async (ns) =>
    ensureOk(`create namespace ${ns}`, await request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }), [409])));
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'flux-viewer' },
    rules: [{
      apiGroups: ['source.toolkit.fluxcd.io', 'kustomize.toolkit.fluxcd.io', 'helm.toolkit.fluxcd.io'],
      resources: ['*'],
      verbs: ['get', 'list', 'watch'],
    }],
  };
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'limited-user-flux-viewer', namespace: 'team-a' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flux-viewer' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: LIMITED_USER }],
  };
  ensureOk('create ClusterRole flux-viewer', await request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', role), [409]);
  ensureOk('create RoleBinding', await request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings', binding), [409]);
}
