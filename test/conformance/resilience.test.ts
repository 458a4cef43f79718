// Conformance: flux-monitor under real conditions with the real controllers: a controller that is down, an
// apiserver that restarts mid-watch, a failure that existed before the push, and the whole path a user takes
// (installed hooks, detached monitor, `flux-monitor status --json`).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, type MonitorEvent } from '../../src/core/types.js';
import { setControllerDeployment } from './env.js';
import { chainFiles, chainObjects, configMap, kustomization, kustomizationYaml } from './cases.js';
import { decidedByFlux, fluxSuite, waitUntil } from './support.js';
import { CLI, requireBuild } from '../helpers/e2e.js';
import { git } from '../harness/git-server.js';

const execFileP = promisify(execFile);
const suite = fluxSuite({ beforeAll, afterAll });
const withCase = suite.withCase;

describe('real Flux: real conditions', () => {
  it('source-controller stopped: the monitor says which controller is not acting, without waiting out the timeout', () =>
    withCase('controllers-down', 'a push while source-controller is stopped (its Deployment reports 0/1 available)', async (c) => {
      const first = await c.setup(chainFiles('one'), chainObjects);
      await c.waitReady([['GitRepository', 'repo'], ['Kustomization', 'apps']], first);
      await suite.env().flux.stop('source-controller');
      await setControllerDeployment(suite.env().cluster, 'source-controller', false);
      try {
        const sha = await c.push('change apps', { 'apps/config.yaml': configMap('apps-config', { message: 'two' }) });
        const run = await c.monitor(sha, { timeout: 180 });
        decidedByFlux(run);
        expect(run.summary.verdict).toBe('error');
        expect(run.summary.exitCode).toBe(EXIT_CODES.error);
        expect(run.state.error?.category).toBe('controller-down');
        expect(run.summary.message).toContain('source-controller is not running');
        expect(run.summary.message).toContain(`GitRepository ${c.ns}/repo`);
      } finally {
        await suite.env().flux.start('source-controller');
        await setControllerDeployment(suite.env().cluster, 'source-controller', true);
      }
    }));

  it('kube-apiserver restarted mid-watch: the right verdict, one outage and one recovery, no relist noise', () =>
    withCase('apiserver-restart', 'a push during which kube-apiserver is down for a few seconds', async (c) => {
      const first = await c.setup(chainFiles('one'), chainObjects);
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const sha = await c.push('change both', { 'infra/config.yaml': configMap('infra-config', { message: 'two' }), 'apps/config.yaml': configMap('apps-config', { message: 'two' }) });
      let sessionSeen = false;
      const running = c.monitor(sha, {}, { onEvent: (e: MonitorEvent) => (sessionSeen ||= e.type === 'session') });
      await waitUntil(suite.env(), 'the monitor to start', () => sessionSeen);
      await suite.env().cluster.stopApiserver();
      await new Promise((r) => setTimeout(r, 4000));
      await suite.env().cluster.startApiserver();
      const run = await running;
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('success');
      const errors = run.events.filter((e): e is Extract<MonitorEvent, { type: 'error' }> => e.type === 'error');
      expect(errors.filter((e) => !e.recovered).length).toBeLessThanOrEqual(1);
      expect(errors.filter((e) => e.recovered).length).toBe(errors.filter((e) => !e.recovered).length);
      expect(run.state.error).toBeUndefined();
    }));

  it('a failure that existed before the push is reported as such', () =>
    withCase('already-failing', 'a push that changes apps while infra keeps failing with the same error', async (c) => {
      const broken = { ...chainFiles('one'), 'infra/kustomization.yaml': kustomizationYaml(['config.yaml', 'missing.yaml']) };
      await c.setup(broken, chainObjects);
      await waitUntil(suite.env(), 'infra to fail', () => c.latest('Kustomization', 'infra')?.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'False' && x.reason === 'BuildFailed'));
      const sha = await c.push('change apps only', { 'apps/config.yaml': configMap('apps-config', { message: 'two' }) });
      const run = await c.monitor(sha);
      decidedByFlux(run);
      expect(run.summary.verdict).toBe('failed');
      const infra = c.node(run, 'Kustomization', 'infra');
      expect(infra.phase).toBe('Failed');
      expect(infra.preexisting).toBe(true);
      expect(run.summary.message).toContain('already failing before this push');
    }));

  it('through the installed hooks and the detached monitor, read back with `flux-monitor status --json`', () =>
    withCase('hooks-and-status', 'git push with the hooks installed; the detached monitor follows the commit', async (c) => {
      requireBuild();
      const first = await c.setup(chainFiles('one'), chainObjects);
      await c.waitReady([['Kustomization', 'infra'], ['Kustomization', 'apps']], first);
      const home = mkdtempSync(path.join(os.tmpdir(), 'fm-conf-home-'));
      const cliEnv: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_STATE_HOME: path.join(home, 'state'), KUBECONFIG: suite.env().kubeconfig, TERM: 'dumb', NO_COLOR: '1', CI: '' };
      mkdirSync(path.join(c.repo.dir, '.kiro', 'hooks'), { recursive: true });
      writeFileSync(path.join(c.repo.dir, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml'), 'config:\n  timeout: 180\n  auto_reconcile: true\n');
      // Asynchronous: the recorder's watches keep running meanwhile.
      const cli = async (args: string[]) => {
        try {
          const r = await execFileP(process.execPath, [CLI, ...args], { cwd: c.repo.dir, env: cliEnv, encoding: 'utf8', timeout: 60_000 });
          return { status: 0, stdout: r.stdout, stderr: r.stderr };
        } catch (err) {
          const e = err as { code?: number; stdout?: string; stderr?: string };
          return { status: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
        }
      };
      const install = await cli(['install']);
      expect(install.status, install.stderr).toBe(0);
      // Two pushes, each followed to its verdict; `status --json` issued the moment `git push` returns is about
      // that push, never the previous one's finished session (its monitor starts only once git has exited).
      let last: any;
      let sha = '';
      let previous: string | undefined;
      for (const message of ['two', 'three']) {
        sha = await c.repo.commit(`change apps (${message})`, { 'apps/config.yaml': configMap('apps-config', { message }) });
        // The user's own push: `git push` with the hooks, to the branch's upstream.
        await git(c.repo.dir, ['push', '-q', 'origin', 'HEAD:refs/heads/main'], cliEnv);
        const atOnce = await cli(['status', '--json']);
        const now = JSON.parse(atOnce.stdout);
        expect(now.session === null ? now.commit : now.commit.sha, atOnce.stdout + atOnce.stderr).toBe(sha);
        if (previous) expect(atOnce.stdout).not.toContain(previous);
        c.pushes.push({ sha, subject: `change apps (${message})`, t: c.recorder.now(), parents: await c.repo.parents(sha) });
        await waitUntil(suite.env(), 'the detached monitor to finish', async () => {
          const r = await cli(['status', '--json']);
          last = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
          return last?.commit?.sha === sha && last?.status === 'finished';
        }, 180_000);
        expect(last.verdict).toBe('success');
        previous = sha;
      }
      await c.adopt(last);
      expect(last.commit.sha).toBe(sha);
      expect(last.verdict).toBe('success');
      const apps = Object.values(last.nodes as Record<string, { kind: string; name: string; phase: string; revision?: string }>).find((n) => n.kind === 'Kustomization' && n.name === 'apps');
      expect(apps?.phase).toBe('Ready');
      expect(apps?.revision).toContain(sha);
    }));
});
