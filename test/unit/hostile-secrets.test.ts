// Hostile input: credentials must never reach hooks.log, an intent file, a command line or a terminal. Each case
// sends something that carries a secret and checks what comes out (docs/security.md lists them).
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/core/types.js';
import { normalizeGitUrl, redactUrl, sameRepo } from '../../src/core/giturl.js';
import { firstLine, redactSecrets, sanitizeText } from '../../src/core/sanitize.js';
import { parseIntent } from '../../src/git/intent.js';
import { GitError, lsRemote } from '../../src/git/repo.js';
import { installHooks } from '../../src/git/hooks.js';
import { resolveWatchedBranches } from '../../src/session/branches.js';
import { statePaths } from '../../src/session/paths.js';
import { handlePushDone } from '../../src/session/push-done.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const ESC = '\x1b';

describe('the sanitiser: secrets in free text (logs, cluster messages, git errors)', () => {
  it.each([
    // [what is sent, what must come out]
    ['URL password holding @', 'fatal: https://user:p@ss@github.com/org/repo.git', 'fatal: https://***@github.com/org/repo.git'],
    ['URL password holding several @', 'https://u:a@b@c@host/x y', 'https://***@host/x y'],
    ['Authorization: token header (GitHub style)', 'header Authorization: token 0123456789abcdef0123', 'header Authorization: token ***'],
    ['Authorization: Bearer header, short token', 'Authorization: Bearer abc.def', 'Authorization: Bearer ***'],
    ['Authorization header with an unknown scheme', 'Authorization: s3cr3tv4lue trailing words', 'Authorization: ***'],
    ['Proxy-Authorization header', 'Proxy-Authorization: Basic dXNlcjpwdw==', 'Proxy-Authorization: Basic ***'],
    ['Authorization header quoted in JSON', '{"Authorization": "Bearer abcdefgh123", "x": 1}', '{"Authorization": "Bearer ***", "x": 1}'],
    ['Authorization header in a Go map dump', 'map[Authorization:[Bearer xyz123456]]', 'map[Authorization:[Bearer ***]]'],
    ['Bearer token anywhere', 'retry with bearer abcdefghijklmnop== now', 'retry with bearer *** now'],
    [
      'bare JWT (service-account token)',
      'token eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ rejected',
      'token *** rejected',
    ],
    ['Slack bot token', 'post failed xoxb-123456789012-1234567890123-abcdefghijklmnop', 'post failed ***'],
    ['Slack user token', 'xoxp-1234-5678-abcdefgh', '***'],
    ['GitHub token', 'clone with ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'clone with ***'],
    ['GitHub fine-grained token', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz', '***'],
    ['GitLab token', 'glpat-abcdefghij0123456789', '***'],
    ['GitLab deploy token', 'gldt-abcdefghij0123456789', '***'],
    ['AWS access key id', 'key AKIAIOSFODNN7EXAMPLE used', 'key *** used'],
    [
      'presigned S3 URL',
      'GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Signature=0123abcd&X-Amz-Security-Token=FQoG',
      'GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Date=20240101T000000Z&X-Amz-Signature=***&X-Amz-Security-Token=***',
    ],
    ['password= parameter', 'login?user=bob&password=hunter2&next=/', 'login?user=bob&password=***&next=/'],
    ['token= and private_token= parameters', 'https://gitlab.example.com/api?private_token=abc123&token=def456', 'https://gitlab.example.com/api?private_token=***&token=***'],
    ['access_token and client_secret parameters', 'access_token=ya29.abc client_secret=shh', 'access_token=*** client_secret=***'],
    ['Azure SAS signature', 'https://a.blob.core.windows.net/c?sv=2020-08-04&sig=abc%2Bdef&se=1', 'https://a.blob.core.windows.net/c?sv=2020-08-04&sig=***&se=1'],
    ['a secret as a JSON member', '{"client_secret":"s3cr\\"et","name":"x"}', '{"client_secret":"***","name":"x"}'],
  ])('%s', (_what, input, want) => {
    expect(sanitizeText(input)).toBe(want);
  });

  it('leaves ordinary words alone (tokens=, a bearer token in prose, secretRef, authorization failed)', () => {
    const prose = 'max tokens=5; bearer token expired; secretRef=flux-system/git; authorization failed for user bob; sigma=2';
    expect(sanitizeText(prose)).toBe(prose);
  });

  it('copes with a megabyte of parameter-like and header-like noise (linear expressions: no time-out)', () => {
    expect(redactSecrets('password'.repeat(130_000) + ' password=x')).toMatch(/password password=\*\*\*$/);
    const headers = redactSecrets('Authorization:'.repeat(80_000) + ' t');
    expect(headers.startsWith('Authorization:***')).toBe(true);
    const noAt = 'https://'.repeat(10) + 'a'.repeat(1_000_000);
    expect(redactSecrets(noAt)).toBe(noAt);
    // A long password (a JWT as a password is about 1 KiB) is hidden whole.
    expect(redactSecrets(`https://x-access-token:${'t'.repeat(5000)}@github.com/o/r`)).toBe('https://***@github.com/o/r');
  });

  it('firstLine of an Error strips escapes and secrets', () => {
    expect(firstLine(new Error(`${ESC}[31mdial https://admin:hunter2@k8s:6443 failed${ESC}[0m\nmore`))).toBe('dial https://***@k8s:6443 failed');
  });
});

describe('redactUrl: what identifies the remote survives, the secret does not', () => {
  it.each([
    ['https://user:p@ss@github.com/org/repo.git', 'https://user:***@github.com/org/repo.git'],
    ['https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/org/repo.git', 'https://***@github.com/org/repo.git'],
    ['https://oauth2:glpat-abcdefghij0123456789@gitlab.com:8443/g/r.git', 'https://oauth2:***@gitlab.com:8443/g/r.git'],
    ['ssh://git@github.com/org/repo.git', 'ssh://git@github.com/org/repo.git'],
    ['https://host/org/repo.git?private_token=abc&ref=main', 'https://host/org/repo.git?private_token=***&ref=***'],
    ['git@github.com:org/repo.git', 'git@github.com:org/repo.git'],
    ['/srv/git/repo.git', '/srv/git/repo.git'],
    ['origin', 'origin'],
  ])('%s', (url, want) => {
    expect(redactUrl(url)).toBe(want);
    expect(redactUrl(want)).toBe(want); // idempotent: an intent is redacted again when read
    if (!url.includes('?')) expect(normalizeGitUrl(want)).toBe(normalizeGitUrl(url));
  });

  it('a redacted remote still matches the GitRepository URL of the same repository', () => {
    expect(sameRepo(redactUrl('https://user:p@ss@github.com/org/repo.git'), 'https://github.com/org/repo')).toBe(true);
    expect(sameRepo(redactUrl('https://tok@gitlab.example.com/g/r.git'), 'ssh://git@gitlab.example.com:2222/g/r.git')).toBe(true);
  });

  it('the hooks redact exactly as redactUrl does (fm_redact in hooks/lib/common.sh)', () => {
    const urls = [
      'https://user:p@ss@github.com/org/repo.git',
      'HTTPS://tok@h/x',
      'http://u:pw@10.0.0.1:8080/x.git',
      'ssh://git@host/repo',
      'ssh://git:pw@host/repo',
      'git+ssh://deploy@host/repo',
      'https://h/r.git?private_token=abc&x=1&flag#frag',
      'https://user:tok@h',
      'git@github.com:org/repo.git',
      '../remote.git',
      'origin',
    ];
    const r = spawnSync('sh', ['-c', '. "$0"; for u; do fm_redact "$u"; printf "%s\\n" "$fm_r"; done', join(ROOT, 'hooks', 'lib', 'common.sh'), ...urls], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: '/nonexistent' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').slice(0, -1)).toEqual(urls.map(redactUrl));
  });

  it('an intent written with credentials (older hook) is redacted when read', () => {
    const i = parseIntent(`flux-monitor-intent 1\nremote https://u:tok@h/r\nurl https://u:tok@h/r\ndir /d\nrefs/heads/main ${A} refs/heads/main ${B}\n`);
    expect(i).toMatchObject({ remote: 'https://u:***@h/r', url: 'https://u:***@h/r' });
  });
});

describe('git errors never carry the credentials of a remote', () => {
  it('a failing ls-remote of a URL with a token: the message names the remote redacted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-secret-git-'));
    execFileSync('git', ['init', '-q', dir]);
    const err = await lsRemote(dir, 'https://user:s3cr3t-t0ken@127.0.0.1:1/org/repo.git', 'refs/heads/main', { timeoutMs: 15_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as Error).message).toContain('git ls-remote -- https://***@127.0.0.1:1/org/repo.git refs/heads/main failed');
    expect((err as Error).message).not.toContain('s3cr3t');
  });
});

describe('a push to a URL with credentials: intent file, helper, hooks.log', () => {
  let server: ReturnType<typeof createServer>;
  const seen: IncomingHttpHeaders[] = [];
  let port = 0;

  beforeAll(async () => {
    // A git server that wants credentials and then fails: `git ls-remote` sends the URL's credentials, is refused.
    server = createServer((req, res) => {
      seen.push(req.headers);
      if (!req.headers.authorization) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
        return;
      }
      res.writeHead(500).end('internal error');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('the intent holds the URL redacted, the helper alone gets it whole, and ls-remote failing logs no secret', async () => {
    const base = realpathSync(mkdtempSync(join(tmpdir(), 'fm-secret-push-')));
    const root = join(base, 'work');
    execFileSync('git', ['init', '-q', '-b', 'main', root]);
    const hooks = join(root, '.git', 'hooks');
    const calls = join(base, 'calls');
    const fakeNode = join(base, 'fake-node');
    writeFileSync(fakeNode, `#!/bin/sh\n{ printf 'argv'; printf ' %s' "$@"; echo; echo "url=\${FLUX_MONITOR_PUSH_URL-unset}"; } >> '${calls}'\n`, { mode: 0o755 });
    writeFileSync(join(base, 'cli.js'), '');
    installHooks(hooks, { node: fakeNode, cli: join(base, 'cli.js') });
    const env = { PATH: process.env.PATH, HOME: base, XDG_STATE_HOME: join(base, 'state') };
    const url = `http://deploy:s3cr3t-t0ken@127.0.0.1:${port}/org/repo.git?private_token=abc123`;

    // pre-push, run as git runs it for `git push <url> main` (git passes the URL as the remote too).
    const script = `"$0" "$@"; rc=$?; echo "$$" > '${base}/parent-pid'; exit $rc`;
    const r = spawnSync('sh', ['-c', script, join(hooks, 'pre-push'), url, url], { cwd: root, env, input: `refs/heads/main ${A} refs/heads/main ${B}\n` });
    expect(r.status).toBe(0);
    expect(r.stderr.toString()).not.toContain('s3cr3t');
    const parent = readFileSync(join(base, 'parent-pid'), 'utf8').trim();
    const intentFile = join(base, 'state', 'flux-monitor', 'intents', parent);
    const intent = readFileSync(intentFile, 'utf8');
    const redacted = `http://deploy:***@127.0.0.1:${port}/org/repo.git?private_token=***`;
    expect(intent).toContain(`remote ${redacted}\nurl ${redacted}\n`);
    expect(intent).not.toContain('s3cr3t');
    expect(intent).not.toContain('abc123');

    // The helper: the URL whole in its environment only, never on its command line.
    const deadline = Date.now() + 10_000;
    while (!existsSync(calls) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    const [argv, handed] = readFileSync(calls, 'utf8').split('\n');
    expect(argv).toBe(`argv ${join(base, 'cli.js')} hook push-done ${intentFile}`);
    expect(handed).toBe(`url=${url}`);

    // push-done with that environment: ls-remote uses the credentials (the server sees them) and fails; nothing
    // it logs holds them.
    const logs: string[] = [];
    const pushEnv: NodeJS.ProcessEnv = { ...process.env, ...env, FLUX_MONITOR_PUSH_URL: url, GIT_CONFIG_NOSYSTEM: '1' };
    const res = await handlePushDone({ intentFile, paths: statePaths(env), env: pushEnv, log: (l) => logs.push(l), startMonitor: async () => 1 });
    expect(res.decisions.map((d) => d.pushed)).toEqual([false]);
    const authorization = seen.map((h) => h.authorization).find(Boolean);
    expect(authorization).toBe(`Basic ${Buffer.from('deploy:s3cr3t-t0ken').toString('base64')}`);
    const text = logs.join('\n');
    expect(text).toContain('not pushed (cannot confirm with ls-remote: git ls-remote -- http://***@127.0.0.1');
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('abc123');
    expect(text).not.toContain(Buffer.from('deploy:s3cr3t-t0ken').toString('base64'));
    expect(pushEnv.FLUX_MONITOR_PUSH_URL).toBeUndefined(); // dropped once read: the monitor never inherits it
  });

  it('a push to a named remote gives the helper no URL', async () => {
    const base = realpathSync(mkdtempSync(join(tmpdir(), 'fm-secret-named-')));
    const root = join(base, 'work');
    execFileSync('git', ['init', '-q', '-b', 'main', root]);
    const calls = join(base, 'calls');
    const fakeNode = join(base, 'fake-node');
    writeFileSync(fakeNode, `#!/bin/sh\necho "url=\${FLUX_MONITOR_PUSH_URL-unset}" >> '${calls}'\n`, { mode: 0o755 });
    writeFileSync(join(base, 'cli.js'), '');
    installHooks(join(root, '.git', 'hooks'), { node: fakeNode, cli: join(base, 'cli.js') });
    const env = { PATH: process.env.PATH, HOME: base, XDG_STATE_HOME: join(base, 'state'), FLUX_MONITOR_PUSH_URL: 'https://stale@h/x' };
    const script = `"$0" "$@"; rc=$?; echo "$$" > '${base}/parent-pid'; exit $rc`;
    const token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
    spawnSync('sh', ['-c', script, join(root, '.git', 'hooks', 'pre-push'), 'origin', `https://${token}@github.com/org/repo.git`], {
      cwd: root,
      env,
      input: `refs/heads/main ${A} refs/heads/main ${B}\n`,
    });
    const parent = readFileSync(join(base, 'parent-pid'), 'utf8').trim();
    expect(readFileSync(join(base, 'state', 'flux-monitor', 'intents', parent), 'utf8')).toContain('remote origin\nurl https://***@github.com/org/repo.git\n');
    const deadline = Date.now() + 10_000;
    while (!existsSync(calls) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(readFileSync(calls, 'utf8')).toBe('url=unset\n');
  });
});

describe('cluster errors written to hooks.log (the branch lookup) are sanitised', () => {
  it('an error listing GitRepositories: one line, no escapes, no credentials', async () => {
    const hostile = new Error(
      `${ESC}]0;owned${ESC}\\${ESC}[31mGet "https://admin:hunter2@k8s.example.com:6443/apis": Authorization: Bearer abcdefghijklmnop\u202e${ESC}[0m\nsecond line token=xyz`,
    );
    const w = await resolveWatchedBranches({ ...DEFAULT_CONFIG, branches: [] }, 'https://github.com/org/repo', {}, () => Promise.reject(hostile));
    expect(w.source).toBe('default');
    expect(w.detail).toBe('cannot list GitRepositories: Get "https://***@k8s.example.com:6443/apis": Authorization: Bearer ***');
  });
});
