// The demo's screens in README.md and docs/demo-capture.md are what the demo draws today: each capture block is
// compared with a fresh run of the demo (captures.ts), durations masked. `npm run captures` (CAPTURES_WRITE=1)
// rewrites the blocks from runs at speed 1 instead.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

// The live view runs only outside CI, and Ink decides once, when it is loaded, whether it runs in CI (then it
// writes only the last frame): hide a CI environment from it before the imports run (as live.test.tsx does).
vi.hoisted(() => {
  process.env.CI = '0';
  process.env.CONTINUOUS_INTEGRATION = '0';
});
// The demo pushes a random commit; the captures show a fixed one per scenario (SHAS).
const pushed = vi.hoisted(() => ({ sha: '' }));
vi.mock('../../src/sim/index.js', async (importOriginal) => {
  const sim = await importOriginal<typeof import('../../src/sim/index.js')>();
  return { ...sim, randomSha: () => pushed.sha || sim.randomSha() };
});

import { CAPTURE_FILES, CAPTURES, diffLines, mask, phaseOf, readBlocks, REGENERATE, runDemo, SHAS, writeBlocks, type DemoRun } from './captures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRITE = process.env.CAPTURES_WRITE === '1';
/**
 * The speed of the runs the blocks are compared with: faster than a user's, not so fast that the frame
 * demo-running picks (a state that lasts about 1.5 s at speed 1) could be skipped on a busy machine.
 */
const CHECK_SPEED: Record<string, number> = { demo: 2, 'health-check-failure': 4, pipelines: 4 };

const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');

const runs = new Map<string, Promise<DemoRun>>();
/** One run per scenario for the whole file (demo-running and demo-final come from the same run). */
function runOf(scenario: string): Promise<DemoRun> {
  let run = runs.get(scenario);
  if (!run) {
    pushed.sha = SHAS[scenario]!;
    run = runDemo(scenario, WRITE ? 1 : CHECK_SPEED[scenario] ?? 4);
    runs.set(scenario, run);
  }
  return run;
}

describe('comparing captures', () => {
  it('masks durations, the padding before them and spinner frames, and nothing else', () => {
    expect(mask('   │  └─ ✖ HelmRelease apps/redis        Failed        18ms')).toBe(mask('   │  └─ ✖ HelmRelease apps/redis        Failed       1m05s'));
    expect(mask('  main → github.com/acme/fleet on kind · 13s · 19 objects')).toBe('  main → github.com/acme/fleet on kind · ⟨t⟩ · 19 objects');
    expect(mask('health check failed after 3.07s: timeout (after 30s)')).toBe('health check failed after ⟨t⟩: timeout (after ⟨t⟩)');
    expect(mask('⠼ Kustomization flux-system/apps')).toBe(mask('⠙ Kustomization flux-system/apps'));
    // Words, counts, versions and names stay as they are.
    expect(mask('├─ ⊘ HelmRelease apps/redis  Blocked  8s')).not.toBe(mask('├─ ○ HelmRelease apps/redis  Pending  8s'));
    expect(mask('14 ready, 3 blocked; k8s.io/ingress-nginx/controller:v1.12.99; redis@20.6.0 after 1 attempt(s)')).toBe('14 ready, 3 blocked; k8s.io/ingress-nginx/controller:v1.12.99; redis@20.6.0 after 1 attempt(s)');
  });

  it('joins the verdict and cause lines that wrap where a longer or shorter duration moves them', () => {
    const short = ['14 ready', '✖ Failed after 9s: commit a305f2e failed: 2 failed (HelmRelease apps/redis:', '  UpgradeFailed)', '  cause: Helm upgrade failed: given:', '  integer', '', 'What failed, in full (1):', '  Helm upgrade failed'].join('\n');
    const long = ['14 ready', '✖ Failed after 1m13s: commit a305f2e failed: 2 failed (HelmRelease', '  apps/redis: UpgradeFailed)', '  cause: Helm upgrade failed: given: integer', '', 'What failed, in full (1):', '  Helm upgrade failed'].join('\n');
    expect(mask(short)).toBe(mask(long));
    expect(mask(long).split('\n')).toEqual([
      '14 ready',
      '✖ Failed after ⟨t⟩: commit a305f2e failed: 2 failed (HelmRelease apps/redis: UpgradeFailed)',
      '  cause: Helm upgrade failed: given: integer',
      '',
      'What failed, in full (1):',
      '  Helm upgrade failed',
    ]);
  });

  it('reads and rewrites the blocks between the markers, the text around them unchanged', () => {
    const md = ['# Title', 'prose', '<!-- capture:demo-final (note) -->', '```', 'old', '```', '<!-- /capture -->', 'more prose', '<!-- capture:other -->', '```', 'x', '```', '<!-- /capture -->', ''].join('\n');
    expect(readBlocks(md)).toEqual([{ id: 'demo-final', text: 'old', line: 3 }, { id: 'other', text: 'x', line: 9 }]);
    const next = writeBlocks(md, 'demo-final', 'new\nlines');
    expect(next).toBe(md.replace('```\nold\n```', '```\nnew\nlines\n```'));
    expect(readBlocks(next)[0]!.text).toBe('new\nlines');
    expect(() => readBlocks('<!-- capture:x -->\nno fence\n<!-- /capture -->\n')).toThrow(/capture block x \(line 1\)/);
  });

  it('picks a tree row\'s phase from a screen', () => {
    const screen = ['✔ GitRepository flux-system/flux-system   Ready   3s', '   ├─ ◷ Kustomization flux-system/apps       Waiting   3s', '   ├─ ⊘ Kustomization flux-system/monitoring Blocked 10s', '   │  │ blocked by Kustomization flux-system/monitoring-crds (Failed)'].join('\n');
    expect(phaseOf(screen, 'GitRepository flux-system/flux-system')).toBe('Ready');
    expect(phaseOf(screen, 'Kustomization flux-system/apps')).toBe('Waiting');
    expect(phaseOf(screen, 'Kustomization flux-system/monitoring')).toBe('Blocked');
    expect(phaseOf(screen, 'Kustomization flux-system/monitoring-crds')).toBeUndefined();
  });
});

describe('the demo captures in README.md and docs/demo-capture.md', () => {
  it('every capture block names a known capture, and every capture is shown somewhere', () => {
    const known = new Set(CAPTURES.map((c) => c.id));
    const used = new Set<string>();
    for (const file of CAPTURE_FILES) {
      for (const b of readBlocks(read(file))) {
        expect(known.has(b.id), `${file}:${b.line}: unknown capture "${b.id}" (known: ${[...known].join(', ')})`).toBe(true);
        used.add(b.id);
      }
    }
    expect([...known].filter((id) => !used.has(id)), `captures shown in none of ${CAPTURE_FILES.join(', ')}`).toEqual([]);
  });

  for (const capture of CAPTURES) {
    it(`${capture.id}: ${capture.title}`, { timeout: 120_000 }, async () => {
      const run = await runOf(capture.scenario);
      // The demo ended with the verdict its scenario scripts (exit code 0, nothing on stderr).
      expect({ exitCode: run.exitCode, stderr: run.stderr }, `flux-monitor demo --scenario ${capture.scenario}`).toEqual({ exitCode: 0, stderr: '' });
      const fresh = capture.take(run);
      // The pushed commit is the one the captures show.
      expect(fresh).toContain(`flux-monitor ${SHAS[capture.scenario]!.slice(0, 7)} `);

      if (WRITE) {
        for (const file of CAPTURE_FILES) {
          const before = read(file);
          const after = writeBlocks(before, capture.id, fresh);
          if (after !== before) writeFileSync(`${ROOT}${file}`, after);
        }
      }
      for (const file of CAPTURE_FILES) {
        for (const block of readBlocks(read(file)).filter((b) => b.id === capture.id)) {
          const shown = mask(block.text);
          const now = mask(fresh);
          if (shown !== now) {
            const speed = WRITE ? 1 : CHECK_SPEED[capture.scenario] ?? 4;
            expect.fail(
              `${file}:${block.line}: the capture "${capture.id}" (${capture.title}) is not what ` +
                `\`flux-monitor demo --scenario ${capture.scenario} --speed ${speed}\` draws on a 100×40 terminal now ` +
                `(durations masked as ⟨t⟩; - ${file}, + the fresh run):\n${diffLines(shown, now)}\n\n` +
                `Regenerate the captures with \`${REGENERATE}\`, then read the prose around them.`,
            );
          }
        }
      }
    });
  }
});
