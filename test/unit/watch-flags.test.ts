// `watch --as/--as-group/--as-uid` act as kubectl's flags do: every request of the session carries the
// Impersonate-* headers, each flag replacing the kubeconfig user's `as`, `as-groups` or `as-uid`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import watch from '../../src/commands/watch.js';
import type { CommandIO } from '../../src/commands/types.js';

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

/** An API server that refuses everything (403) and records the identity headers of each request. */
async function recorder(): Promise<{ url: string; seen: http.IncomingHttpHeaders[] }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403, message: 'forbidden' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function setup(server: string, user: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'fm-as-'));
  execFileSync('git', ['init', '-q', dir]);
  execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '--allow-empty', '-m', 'x']);
  execFileSync('git', ['-C', dir, 'remote', 'add', 'origin', 'https://example.invalid/fleet.git']);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    YAML.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server } }], users: [{ name: 'u', user: { token: 't', ...user } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }], 'current-context': 'c' }),
  );
  const out = new PassThrough();
  const io = { cwd: dir, env: { ...process.env, XDG_STATE_HOME: join(dir, 'state') }, stdout: out, stderr: new PassThrough(), stdin: new PassThrough() } as unknown as CommandIO;
  return { kubeconfig, io };
}

describe('watch --as', () => {
  it('sends the Impersonate-* headers of the flags on every request, replacing the kubeconfig user`s', async () => {
    const api = await recorder();
    const { kubeconfig, io } = setup(api.url, { as: 'bob', 'as-groups': ['admins'] });
    await watch.run(['--kubeconfig', kubeconfig, '--as', 'alice', '--as-group', 'dev', '--as-group', 'ops', '--as-uid', '42', '--json', '--timeout', '3s'], io);
    expect(api.seen.length).toBeGreaterThan(0);
    for (const h of api.seen) {
      expect(h['impersonate-user']).toBe('alice');
      expect(h['impersonate-group']).toBe('dev, ops');
      expect(h['impersonate-uid']).toBe('42');
    }
  });

  it("without the flags, the kubeconfig user's `as` and `as-groups` are used", async () => {
    const api = await recorder();
    const { kubeconfig, io } = setup(api.url, { as: 'bob', 'as-groups': ['admins'] });
    await watch.run(['--kubeconfig', kubeconfig, '--json', '--timeout', '3s'], io);
    expect(api.seen.length).toBeGreaterThan(0);
    for (const h of api.seen) expect([h['impersonate-user'], h['impersonate-group']]).toEqual(['bob', 'admins']);
  });
});

describe('watch: a cluster error said once', () => {
  it('goes to stderr for scripts, but not again when stdout and stderr are the terminal the view showed it on', async () => {
    const { sameTerminal } = await import('../../src/commands/watch.js');
    const tty = { isTTY: true } as unknown as NodeJS.WriteStream;
    const pipe = {} as unknown as NodeJS.WriteStream;
    expect(sameTerminal({ stdout: tty, stderr: tty }, false)).toBe(true);
    expect(sameTerminal({ stdout: tty, stderr: tty }, true)).toBe(false);
    expect(sameTerminal({ stdout: pipe, stderr: tty }, false)).toBe(false);
    expect(sameTerminal({ stdout: tty, stderr: pipe }, false)).toBe(false);
  });
});
