import { describe, expect, it } from 'vitest';
import { branchFromRef, normalizeGitUrl, parseGitUrl, redactUrl, sameRepo, tagFromRef } from '../../src/core/giturl.js';

describe('normalizeGitUrl', () => {
  it.each([
    // GitHub in every spelling.
    ['https://github.com/fluxcd/flux2.git', 'github.com/fluxcd/flux2'],
    ['https://github.com/fluxcd/flux2', 'github.com/fluxcd/flux2'],
    ['https://github.com/fluxcd/flux2/', 'github.com/fluxcd/flux2'],
    ['https://github.com/fluxcd/flux2.git/', 'github.com/fluxcd/flux2'],
    ['HTTPS://GitHub.COM/FluxCD/Flux2.GIT', 'github.com/fluxcd/flux2'],
    ['http://github.com/fluxcd/flux2', 'github.com/fluxcd/flux2'],
    ['https://github.com:443/fluxcd/flux2', 'github.com/fluxcd/flux2'],
    ['http://github.com:80/fluxcd/flux2', 'github.com/fluxcd/flux2'],
    ['https://x-access-token:ghs_abc@github.com/fluxcd/flux2.git', 'github.com/fluxcd/flux2'],
    ['ssh://git@github.com/fluxcd/flux2.git', 'github.com/fluxcd/flux2'],
    ['ssh://git@github.com:22/fluxcd/flux2.git', 'github.com/fluxcd/flux2'],
    ['git@github.com:fluxcd/flux2.git', 'github.com/fluxcd/flux2'],
    ['git@github.com:/fluxcd/flux2.git', 'github.com/fluxcd/flux2'],
    ['github.com:fluxcd/flux2', 'github.com/fluxcd/flux2'],
    ['git://github.com/fluxcd/flux2.git', 'github.com/fluxcd/flux2'],
    ['git://github.com:9418/fluxcd/flux2.git', 'github.com/fluxcd/flux2'],
    ['  https://github.com//fluxcd//flux2.git  ', 'github.com/fluxcd/flux2'],
    // GitLab subgroups and non-default ports.
    ['https://gitlab.com/group/sub/subsub/project.git', 'gitlab.com/group/sub/subsub/project'],
    ['git@gitlab.com:group/sub/subsub/project.git', 'gitlab.com/group/sub/subsub/project'],
    ['ssh://git@gitlab.example.com:2222/group/project.git', 'gitlab.example.com:2222/group/project'],
    ['https://gitlab.example.com:8443/group/project', 'gitlab.example.com:8443/group/project'],
    // IPv6.
    ['ssh://git@[::1]:22/org/repo.git', '[::1]/org/repo'],
    ['https://[2001:db8::1]:8443/org/repo', '[2001:db8::1]:8443/org/repo'],
    ['git@[2001:db8::1]:org/repo.git', '[2001:db8::1]/org/repo'],
    // Azure DevOps: ssh and https forms map to one canonical form.
    ['git@ssh.dev.azure.com:v3/myorg/My Project/my-repo', 'dev.azure.com/myorg/my project/_git/my-repo'],
    ['ssh://git@ssh.dev.azure.com/v3/myorg/proj/repo', 'dev.azure.com/myorg/proj/_git/repo'],
    ['https://dev.azure.com/myorg/proj/_git/repo', 'dev.azure.com/myorg/proj/_git/repo'],
    ['https://myorg@dev.azure.com/myorg/proj/_git/repo', 'dev.azure.com/myorg/proj/_git/repo'],
    ['https://myorg.visualstudio.com/proj/_git/repo', 'dev.azure.com/myorg/proj/_git/repo'],
    ['https://myorg.visualstudio.com/DefaultCollection/proj/_git/repo', 'dev.azure.com/myorg/proj/_git/repo'],
    ['myorg@vs-ssh.visualstudio.com:v3/myorg/proj/repo', 'dev.azure.com/myorg/proj/_git/repo'],
    // Local repositories keep their path and case.
    ['file:///srv/git/Repo.git', '/srv/git/Repo'],
    ['file:///srv/git/repo/', '/srv/git/repo'],
    ['/srv/git/Repo.git', '/srv/git/Repo'],
    ['/srv/git/repo/.git', '/srv/git/repo'],
    ['./relative/repo', './relative/repo'],
    ['../up/repo.git', '../up/repo'],
    ['C:\\Users\\me\\repo', 'C:/Users/me/repo'],
    ['/', '/'],
    ['', ''],
  ])('%j → %j', (url, want) => {
    expect(normalizeGitUrl(url)).toBe(want);
  });

  it('never keeps credentials', () => {
    expect(normalizeGitUrl('https://user:secret@gitlab.com/g/p.git')).not.toMatch(/secret|user/);
  });
});

describe('parseGitUrl', () => {
  it('splits scp-like URLs with a password-looking userinfo correctly', () => {
    expect(parseGitUrl('user:pw@host.example:org/repo.git')).toEqual({
      scheme: 'ssh',
      userinfo: 'user:pw',
      host: 'host.example',
      path: 'org/repo.git',
      scpLike: true,
    });
  });
  it('keeps the port of scheme URLs', () => {
    expect(parseGitUrl('ssh://git@h:2222/x')).toMatchObject({ scheme: 'ssh', userinfo: 'git', host: 'h', port: '2222', path: 'x' });
  });
  it('returns undefined for an empty string', () => {
    expect(parseGitUrl('  ')).toBeUndefined();
  });
});

describe('sameRepo', () => {
  it.each([
    ['https://github.com/Org/Repo.git', 'git@github.com:org/repo'],
    ['ssh://git@github.com/org/repo', 'https://token@github.com/org/repo/'],
    ['git@ssh.dev.azure.com:v3/org/proj/repo', 'https://dev.azure.com/org/proj/_git/repo'],
    ['ssh://git@gitlab.example.com:2222/g/p.git', 'https://gitlab.example.com/g/p'],
    ['file:///srv/repo.git', '/srv/repo'],
  ])('%s ≡ %s', (a, b) => {
    expect(sameRepo(a, b)).toBe(true);
    expect(sameRepo(b, a)).toBe(true);
  });

  it.each([
    ['https://github.com/org/repo', 'https://github.com/org/repo2'],
    ['https://github.com/org/repo', 'https://gitlab.com/org/repo'],
    ['https://gitlab.com/group/sub/repo', 'https://gitlab.com/group/repo'],
    ['ssh://git@[::1]/org/repo', 'ssh://git@[::2]/org/repo'],
    ['/srv/Repo', '/srv/repo'],
    ['', ''],
    [undefined, 'https://github.com/org/repo'],
  ])('%s ≢ %s', (a, b) => {
    expect(sameRepo(a, b)).toBe(false);
  });
});

describe('redactUrl', () => {
  it.each([
    ['https://user:tok@github.com/org/repo.git', 'https://user:***@github.com/org/repo.git'],
    ['https://x-access-token:ghs_secret@github.com/org/repo', 'https://x-access-token:***@github.com/org/repo'],
    ['https://ghp_tokenonly@github.com/org/repo', 'https://***@github.com/org/repo'],
    ['https://oauth2:glpat-xyz@gitlab.com/g/p.git', 'https://oauth2:***@gitlab.com/g/p.git'],
    ['http://a:b:c@host:8080/x', 'http://a:***@host:8080/x'],
    ['https://user:p%40ss@host/x', 'https://user:***@host/x'],
    ['https://u:p@host', 'https://u:***@host'],
    ['ssh://git@github.com/org/repo.git', 'ssh://git@github.com/org/repo.git'],
    ['ssh://git:pw@github.com/org/repo.git', 'ssh://git:***@github.com/org/repo.git'],
    ['git@github.com:org/repo.git', 'git@github.com:org/repo.git'],
    ['user:pw@host:org/repo.git', 'user:***@host:org/repo.git'],
    ['https://github.com/org/repo', 'https://github.com/org/repo'],
    ['https://github.com/org/repo@v1', 'https://github.com/org/repo@v1'],
    ['/srv/repo', '/srv/repo'],
    ['', ''],
  ])('%j → %j', (url, want) => {
    expect(redactUrl(url)).toBe(want);
  });

  it('never returns the secret', () => {
    for (const u of ['https://a:SECRET@h/x', 'https://SECRET@h/x', 'ssh://u:SECRET@h/x', 'u:SECRET@h:x']) {
      expect(redactUrl(u)).not.toContain('SECRET');
    }
  });
});

describe('branchFromRef / tagFromRef', () => {
  it.each([
    ['refs/heads/main', 'main'],
    ['refs/heads/feature/x', 'feature/x'],
    ['main', 'main'],
    ['refs/tags/v1.0.0', undefined],
    ['refs/remotes/origin/main', undefined],
    ['refs/heads/', undefined],
    ['', undefined],
  ])('branchFromRef(%j) → %j', (ref, want) => {
    expect(branchFromRef(ref)).toBe(want);
  });

  it.each([
    ['refs/tags/v1.0.0', 'v1.0.0'],
    ['refs/tags/v1.0.0^{}', 'v1.0.0'],
    ['refs/heads/main', undefined],
    ['v1.0.0', undefined],
  ])('tagFromRef(%j) → %j', (ref, want) => {
    expect(tagFromRef(ref)).toBe(want);
  });
});
