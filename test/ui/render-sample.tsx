// Writes docs/ui-sample.txt: text captures of the live view (renderToString, no colours) and of the plain printer
// for the sample session of test/ui/factory.ts. Run: see docs/ui.md ("Regenerating the sample").
import { writeFileSync } from 'node:fs';
import { renderToString } from 'ink';
import type { SessionState } from '../../src/core/types.js';
import { createPlainPrinter } from '../../src/ui/plain.js';
import { failureReport } from '../../src/ui/live.js';
import { SessionView } from '../../src/ui/view.js';
import { sampleSession, T0 } from './factory.js';

const live = sampleSession();
const key = (kind: string, name: string, ns = 'flux-system') => `${kind}/${ns}/${name}`;
const done: SessionState = {
  ...live,
  status: 'finished',
  verdict: 'failed',
  verdictMessage: 'Kustomization flux-system/monitoring failed (HealthCheckFailed); 1 object blocked',
  endedAt: T0 + 81_000,
  nodes: {
    ...live.nodes,
    [key('Kustomization', 'apps')]: { ...live.nodes[key('Kustomization', 'apps')]!, phase: 'Ready', reason: 'ReconciliationSucceeded', message: 'Applied revision: main@sha1:3f2a9c1d', settled: true, phaseSince: T0 + 74_000 },
    [key('HelmRelease', 'podinfo', 'podinfo')]: { ...live.nodes[key('HelmRelease', 'podinfo', 'podinfo')]!, phase: 'Ready', reason: 'UpgradeSucceeded', message: 'Helm upgrade succeeded', settled: true, phaseSince: T0 + 72_000 },
  },
};

const view = (s: SessionState, verbosity: 'normal' | 'verbose', height: number, footer?: string) =>
  renderToString(<SessionView state={s} now={s.endedAt ?? T0 + 65_000} verbosity={verbosity} showAll={false} width={80} height={height} spinnerFrame={4} color={false} footer={footer} />, { columns: 80 });

let plain = '';
const printer = createPlainPrinter({ write: (t: string) => (plain += t) }, { verbosity: 'normal' });
printer.onState(live);
printer.finish(done);

const sections = [
  ['Live view while running (80 columns)', view(live, 'normal', 30, 'q quit · v more detail · a all objects · t timeline')],
  ['Same, verbose (v)', view(live, 'verbose', 30, 'q quit · v less detail · a all objects · t timeline')],
  ['Same, in a 12-line terminal (collapsed)', view(live, 'normal', 11, 'q quit · v more detail · a all objects · t timeline')],
  ['Final frame', view(done, 'normal', 30)],
  ['Printed below the final frame once the view has ended', failureReport(done, false).trim()],
  ['Plain printer (non-TTY / CI)', plain.trimEnd()],
];
const out = sections.map(([title, body]) => `== ${title} ==\n\n${body}\n`).join('\n');
// Relative to the current directory (run from the repository root).
writeFileSync(process.argv[2] ?? 'docs/ui-sample.txt', out);
process.stdout.write(out);
