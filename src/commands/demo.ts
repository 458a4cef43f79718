// `flux-monitor demo`: the real monitor engine against the embedded simulated cluster (no cluster needed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, EXIT_CODES, type Verdict } from '../core/types.js';
import { CUSTOM_KIND_PRESETS } from '../core/custom.js';
import { runMonitor, newSessionId } from '../engine/run.js';
import { randomSha, SCENARIOS, startSimulatedCluster } from '../sim/index.js';
import { bool, parseArgs, str, UsageError } from './args.js';
import { applyFlagOverrides } from './watch.js';
import { createOutput } from './output.js';
import type { Command } from './types.js';
import type { SessionState } from '../core/types.js';
import { statePaths } from '../session/paths.js';
import { sessionFile, writeJsonAtomic } from '../session/store.js';

/**
 * The last lines of a demo: where to see the push's waterfall. The demo's session is kept in the state directory
 * (as a pushed commit's is, not in the history: `history --stats` counts real pushes only), so that
 * `status --timeline ID` can show it; without a state directory, the live view's `t` is the only way.
 */
export function timelineHint(env: NodeJS.ProcessEnv, final: SessionState): string {
  try {
    writeJsonAtomic(sessionFile(statePaths(env), final.id), final);
  } catch (err) {
    return `\nThe push's timeline: press t in the live view (this demo's session was not kept: ${(err as Error).message}).\n`;
  }
  return `\nThe push's timeline (where it waited, and why it took as long as it did): flux-monitor status --timeline ${final.id}\n`;
}

/** What each scenario is meant to end with: the demo succeeds when the monitor reaches this verdict. */
const EXPECTED: Record<string, Verdict> = {
  demo: 'failed',
  happy: 'success',
  'source-failure': 'failed',
  'health-check-failure': 'failed',
  'fail-fast': 'failed',
  pipelines: 'failed',
};

const SUBJECTS: Record<string, string> = {
  demo: 'Bump podinfo to 6.5.1, tune redis, add monitoring stack',
  happy: 'Bump podinfo to 6.5.1',
  'source-failure': 'Rotate deploy key',
  'health-check-failure': 'Roll out monitoring',
  'fail-fast': 'Roll out monitoring',
  pipelines: 'Bump podinfo to 6.5.1',
};

/**
 * The exit code of `demo`: with --exit-code, that of the verdict (as `watch`); otherwise 0 when the scenario
 * ended with the verdict it scripts (the demo worked), else the verdict's code (1 at least).
 */
export function demoExitCode(verdict: Verdict, expected: Verdict, exitCode: boolean): number {
  if (exitCode) return EXIT_CODES[verdict];
  if (verdict === expected) return 0;
  return EXIT_CODES[verdict] || 1;
}

const demo: Command = {
  name: 'demo',
  summary: 'Run the monitor against an embedded simulated cluster (no cluster needed)',
  usage: `flux-monitor demo [--scenario ${Object.keys(SCENARIOS).join('|')}] [--speed N] [--timeout 2m] [--json] [--verbosity minimal|normal|verbose] [--exit-code]`,
  async run(argv, io) {
    const p = parseArgs(argv, {
      scenario: { value: true },
      speed: { value: true },
      timeout: { value: true },
      json: {},
      verbosity: { value: true },
      verbose: {},
      'exit-code': {},
    });
    const name = str(p, 'scenario') ?? 'demo';
    const scenario = SCENARIOS[name];
    if (!scenario) throw new UsageError(`unknown scenario "${name}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
    const speedText = str(p, 'speed') ?? '1';
    const speed = Number(speedText);
    if (!speedText.trim() || !(speed > 0 && speed <= 100)) throw new UsageError(`--speed must be a number greater than 0 and at most 100 (got ${JSON.stringify(speedText)})`);
    // The same flag handling as `watch` (verbosity, timeout), from the demo's defaults.
    // A scenario with pipelines follows them as a user would: custom_kinds: [tekton-pipelineruns].
    const customKinds = scenario.pipelineRuns?.length ? [{ ...CUSTOM_KIND_PRESETS['tekton-pipelineruns']!, preset: 'tekton-pipelineruns' }] : [];
    const config = applyFlagOverrides({ ...DEFAULT_CONFIG, timeout: 120, custom_kinds: customKinds }, p);
    const verbosity = config.verbosity;

    const dir = mkdtempSync(join(tmpdir(), 'flux-monitor-demo-'));
    const cluster = await startSimulatedCluster({ scenario, player: { speed } });
    const ac = new AbortController();
    const onSignal = () => ac.abort('stopped');
    process.once('SIGINT', onSignal);
    try {
      const kubeconfig = await cluster.sim.writeKubeconfig(join(dir, 'kubeconfig'), { context: 'flux-monitor-demo' });
      const sha = randomSha();
      const out = await createOutput(io, { json: bool(p, 'json'), verbosity, showDependencies: config.show_dependencies, mode: 'demo', onQuit: () => ac.abort('stopped') });
      const expected = EXPECTED[name]!;
      const exitCodeOf = (verdict: Verdict) => demoExitCode(verdict, expected, bool(p, 'exit-code'));
      let pushed = false;
      const final = await runMonitor({
        pushed: { sha, branch: scenario.repo.branch },
        repoUrl: scenario.repo.url,
        branch: scenario.repo.branch,
        remote: 'origin',
        subject: SUBJECTS[name],
        config,
        kubeconfig,
        sessionId: newSessionId(),
        signal: ac.signal,
        env: {},
        onState: out.onState && ((s) => out.onState!(s)),
        onEvent: (e) => {
          // The summary's exitCode is the code this process exits with (that of the demo, see demoExitCode).
          out.onEvent(e.type === 'summary' ? { ...e, exitCode: exitCodeOf(e.verdict) } : e);
          // "git push" once the monitor is watching, so the whole journey of the commit is on screen.
          if (e.type === 'session' && !pushed) {
            pushed = true;
            cluster.push(sha);
          }
        },
      });
      await out.finish(final);
      if (!bool(p, 'json')) io.stdout.write(timelineHint(io.env, final));
      const verdict = final.verdict ?? 'error';
      if (!bool(p, 'exit-code') && verdict !== expected && verdict !== 'stopped') {
        io.stderr.write(`flux-monitor demo: expected verdict "${expected}" for scenario ${name}, got "${verdict}"\n`);
      }
      return exitCodeOf(verdict);
    } finally {
      process.off('SIGINT', onSignal);
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default demo;
