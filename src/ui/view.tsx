// The session as the live terminal shows it: header, object tree, summary, warnings, cluster error, verdict.
// Pure React/Ink components: everything comes from props (the state, the clock, the terminal size).
import { memo, useRef, type ReactElement, type ReactNode } from 'react';
import { Box, Text } from 'ink';
import type { ClusterState, SessionState, Verbosity } from '../core/types.js';
import { splitClusters } from '../core/clusters.js';
import { buildTree, formatDuration, nodeLabel, shortSha, shownPhase, summarize, waitText, type TreeRow } from './layout.js';
import { colorEnabled } from './mode.js';
import {
  fitLine,
  oneLine,
  padEnd,
  shortUrl,
  padStart,
  PHASE_COLOR,
  PHASE_ICON,
  spinnerGlyph,
  textWidth,
  truncate,
  truncateMiddle,
  VERDICT_COLOR,
  VERDICT_ICON,
  wrapLine,
  type ColorName,
} from './theme.js';
import { waterfallLinesCached } from './waterfall.js';

export interface SessionViewProps {
  state: SessionState;
  /** Current time (ms since epoch); durations stop at `state.endedAt` once the session finished. */
  now: number;
  verbosity: Verbosity;
  /** All monitored objects (true) or only those affected by the commit (false). */
  showAll: boolean;
  /** config show_dependencies (default true). */
  showDependencies?: boolean;
  /** Terminal columns: no line is longer. */
  width: number;
  /** Most lines to draw (keep it below the terminal's rows). */
  height: number;
  /** Animation frame of the spinner drawn for progressing objects. */
  spinnerFrame: number;
  /** Use colours. Defaults to the environment: off with NO_COLOR or FORCE_COLOR=0. */
  color?: boolean;
  /** A last line, e.g. the keys of the live view. */
  footer?: string;
  /** Draw the push's waterfall (ui/waterfall.ts) instead of the tree (`t` in the live view). */
  timeline?: boolean;
}

/** A piece of a line with one style. */
export interface Seg {
  text: string;
  color?: ColorName;
  bold?: boolean;
  dim?: boolean;
  /** Only spaces that align what follows: the live view leaves the columns empty instead of writing them. */
  gap?: boolean;
}
export type Line = Seg[];

/** Width of the phase + duration columns at the end of an object row. */
const PHASE_COL = 11;
const DURATION_COL = 6;
const TAIL = 1 + PHASE_COL + 1 + DURATION_COL;
/** Columns the names keep before the waits (`retry ≤ 22s` after the duration) are left out. */
const MIN_NAME_COL = 24;

export { fitLine };

/**
 * `namespace/name` in `room` columns: the namespace gives way first (down to a few characters, its start kept:
 * `flux-…`), then the name, shortened from the middle so that what tells two objects apart (`monitoring` and
 * `monitoring-crds`) stays on screen.
 */
export function fitName(namespace: string, name: string, room: number): string {
  const full = `${namespace}/${name}`;
  if (textWidth(full) <= room) return full;
  if (room < 8) return truncateMiddle(full, Math.max(1, room), 0.6);
  const nsWidth = textWidth(namespace);
  // The whole name, if the namespace keeps at least 8 columns; else the namespace gets under a third.
  const nsRoom = room - textWidth(name) - 1 >= Math.min(nsWidth, 8) ? room - textWidth(name) - 1 : Math.min(nsWidth, Math.max(5, Math.floor(room * 0.3)));
  const ns = truncate(namespace, nsRoom);
  return `${ns}/${truncateMiddle(name, Math.max(1, room - textWidth(ns) - 1), 0.6)}`;
}

function nodeLine(row: Extract<TreeRow, { type: 'node' }>, col: number, p: { now: number; spinner: string; finished: boolean }, wait?: string): Line {
  const n = row.node;
  // Blocked (a Pending/Waiting object that can no longer move) is what the summary and the fold lines count it as.
  const shown = shownPhase(n);
  const icon = n.phase === 'Progressing' && !p.finished ? p.spinner : PHASE_ICON[shown];
  const kind = n.kind;
  // Room left for namespace/name before the phase column: prefix, icon, space, kind, space, name, one space.
  const room = col - 1 - textWidth(row.prefix) - 2 - textWidth(kind) - 1;
  const name = fitName(oneLine(n.namespace), oneLine(n.name) + (row.cycle ? ' ↻' : ''), room);
  const label = `${row.prefix}${icon} ${kind} ${name}`;
  const phaseText = n.deleted ? 'Deleted' : shown;
  return [
    { text: row.prefix, color: 'gray' },
    { text: icon, color: PHASE_COLOR[shown] },
    { text: ` ${kind} `, dim: !n.affected },
    { text: name, bold: n.affected, dim: !n.affected },
    { text: ' '.repeat(Math.max(1, col - textWidth(label))), gap: true },
    { text: padEnd(phaseText, PHASE_COL), color: n.deleted ? 'gray' : PHASE_COLOR[shown] },
    { text: ' ' + padStart(formatDuration(p.now - n.phaseSince), DURATION_COL), color: 'gray' },
    ...(wait ? [{ text: `  ${wait}`, color: 'gray' as const }] : []),
  ];
}

function treeLines(rows: TreeRow[], width: number, p: { now: number; spinner: string; finished: boolean }): Line[] {
  // Align the phase column just after the longest label, leaving the tail room on the right.
  let longest = 0;
  for (const r of rows) {
    if (r.type === 'node') longest = Math.max(longest, textWidth(r.prefix) + 2 + textWidth(nodeLabel(r.node)) + (r.cycle ? 2 : 0));
  }
  // When Flux looks again (a retry, a timeout, a fetch), counting down after the duration, while the session runs
  // and the names keep their room.
  const waits = new Map<number, string>();
  let waitCol = 0;
  if (!p.finished) {
    rows.forEach((r, i) => {
      const t = r.type === 'node' ? waitText(r.node, p.now) : undefined;
      if (!t) return;
      waits.set(i, t);
      waitCol = Math.max(waitCol, 2 + textWidth(t));
    });
    if (width - TAIL - waitCol < MIN_NAME_COL) waits.clear();
  }
  const col = Math.max(1, Math.min(longest + 1, width - TAIL - (waits.size ? waitCol : 0)));
  return rows.map((r, i) => {
    switch (r.type) {
      case 'node':
        return nodeLine(r, col, p, waits.get(i));
      case 'detail':
        return [
          { text: r.prefix, color: 'gray' },
          { text: r.text, color: r.tone === 'error' ? 'red' : 'gray' },
        ];
      case 'ref':
        return [
          { text: r.prefix, color: 'gray' },
          { text: r.text, color: r.cycle ? 'yellow' : 'gray' },
        ];
      case 'more':
        return [
          { text: r.prefix, color: 'gray' },
          { text: r.text, color: 'gray' },
        ];
    }
  });
}

function headerLines(state: SessionState, p: SessionViewProps, now: number): Line[] {
  const finished = state.status === 'finished';
  const title: Line = [
    finished && state.verdict
      ? { text: VERDICT_ICON[state.verdict], color: VERDICT_COLOR[state.verdict], bold: true }
      : { text: '⟳', color: 'cyan', bold: true },
    { text: ' flux-monitor ', bold: true },
    { text: shortSha(state.commit.sha) || '(unknown commit)', color: 'yellow' },
  ];
  if (state.commit.tag) title.push({ text: ` (tag ${oneLine(state.commit.tag)})`, color: 'yellow' });
  // A later commit containing this one reached Flux first: the objects carry the push through it.
  if (state.commit.through) title.push({ text: ` (through ${shortSha(state.commit.through)}, which includes it)`, color: 'yellow' });
  const subject = oneLine(state.commit.subject);
  if (subject) title.push({ text: ` ${subject}` });
  if (p.verbosity === 'minimal') return [title];

  const parts: string[] = [];
  const where = state.repo.url ? shortUrl(state.repo.url) : oneLine(state.repo.remote ?? state.repo.path);
  const branch = oneLine(state.repo.branch);
  const cluster = oneLine(state.cluster.context ?? state.cluster.server);
  const repo = branch && where ? `${branch} → ${where}` : branch || where;
  if (repo || cluster) parts.push(repo && cluster ? `${repo} on ${cluster}` : repo || `cluster ${cluster}`);
  parts.push(formatDuration(now - state.startedAt));
  const all = Object.values(state.nodes);
  const affected = all.filter((n) => n.affected).length;
  const hidden = all.length - affected;
  parts.push(`${affected} object${affected === 1 ? '' : 's'}${hidden > 0 && p.showAll ? ` + ${hidden} unrelated` : ''}`);
  if (state.status === 'finished') parts.push('finished');
  else if (state.mode) parts.push(state.mode === 'watch' ? 'watching' : 'polling');
  // Wrapped at its separators rather than cut: the end (finished, watching) is what changes.
  return [title, ...packed(parts.map((t) => [{ text: t, color: 'gray' as const }]), { text: ' · ', color: 'gray' }, p.width, '  ')];
}

function lineWidth(l: Line): number {
  return l.reduce((w, g) => w + textWidth(g.text), 0);
}

/**
 * Parts laid out on as few lines of `width` columns as they need, separated by `sep` and broken between parts
 * (never inside one, unless it alone is too wide: then it is cut later, by fitLine). Each line starts with
 * `indent`; `sepAtBreak` ends a line that continues (the comma of a list).
 */
function packed(parts: Line[], sep: Seg, width: number, indent = '', sepAtBreak?: Seg): Line[] {
  const lines: Line[] = [];
  const start = (): Line => (indent ? [{ text: indent }] : []);
  let cur = start();
  let fresh = true;
  const w = Math.max(20, Math.floor(width));
  for (const part of parts) {
    if (!fresh && lineWidth(cur) + textWidth(sep.text) + lineWidth(part) > w) {
      if (sepAtBreak) cur.push(sepAtBreak);
      lines.push(cur);
      cur = start();
      fresh = true;
    }
    if (!fresh) cur.push(sep);
    cur.push(...part);
    fresh = false;
  }
  lines.push(cur);
  return lines;
}

/** The counts, wrapped at their commas to `width` columns (never cut). */
function summaryLines(state: SessionState, width: number, indent = ''): Line[] {
  const line = summaryLine(state);
  const parts: Line[] = line.filter((g) => g.text !== ', ').map((g) => [g]);
  return packed(parts, { text: ', ', color: 'gray' }, width, indent, { text: ',', color: 'gray' });
}

function summaryLine(state: SessionState): Line {
  const { counts } = summarize(state);
  const parts: Array<[number, string, ColorName]> = [
    [counts.ready, 'ready', 'green'],
    [counts.progressing, 'progressing', 'cyan'],
    [counts.waiting, 'waiting', 'yellow'],
    [counts.failed, 'failed', 'red'],
    [counts.pending, 'pending', 'gray'],
  ];
  if (counts.failing) parts.splice(3, 0, [counts.failing, 'failing', 'red']);
  if (counts.suspended) parts.push([counts.suspended, 'suspended', 'magenta']);
  if (counts.blocked) parts.push([counts.blocked, 'blocked', 'yellow']);
  if (counts.superseded) parts.push([counts.superseded, 'superseded', 'gray']);
  if (counts.unknown) parts.push([counts.unknown, 'unknown', 'gray']);
  // Ready objects the push has not moved (a HelmChart of a HelmRepository the commit has not reached): context.
  if (counts.unchanged) parts.push([counts.unchanged, 'unchanged by this push', 'gray']);
  const line: Line = [];
  parts.forEach(([n, word, color], i) => {
    if (i > 0) line.push({ text: ', ', color: 'gray' });
    line.push({ text: `${n} ${word}`, color: n > 0 ? color : 'gray', bold: n > 0 && word === 'failed' });
  });
  return line;
}

function warningLines(state: SessionState, verbosity: Verbosity): Line[] {
  const ws = state.warnings.map(oneLine).filter(Boolean);
  if (ws.length === 0) return [];
  if (verbosity === 'minimal') return [[{ text: `⚠ ${ws.length} warning${ws.length === 1 ? '' : 's'}`, color: 'yellow' }]];
  const max = verbosity === 'verbose' ? 10 : 3;
  const shown = ws.length > max ? ws.slice(0, max - 1) : ws;
  const lines: Line[] = shown.map((w) => [{ text: `⚠ ${w}`, color: 'yellow' }]);
  if (shown.length < ws.length) lines.push([{ text: `⚠ +${ws.length - shown.length} more warnings`, color: 'yellow' }]);
  return lines;
}

function emptyTreeLine(state: SessionState, showAll: boolean): Line {
  const total = Object.keys(state.nodes).length;
  if (total === 0) {
    // Nothing was read because the cluster was never reached: that is not "nothing to follow".
    if (state.error && (state.status === 'starting' || state.verdict === 'error')) {
      // Only an unreachable server is "not answering"; a 401, a 403 or a missing kubeconfig is said by the error below.
      const where = oneLine(state.cluster.server ?? state.cluster.context ?? '') || 'the cluster';
      const unreachable = state.error.category === 'unreachable';
      const text =
        state.status === 'starting'
          ? `Cannot read Flux objects yet${unreachable ? `: ${where} is not answering` : ''} (see below).`
          : `No Flux object could be read${unreachable ? `: ${where} was not reached` : ''} (see below).`;
      return [{ text, color: 'gray' }];
    }
    return [{ text: state.status === 'starting' ? 'Discovering Flux objects…' : 'No Flux objects to follow for this commit.', color: 'gray' }];
  }
  return [{ text: showAll ? 'No Flux objects.' : `No object is affected by this commit (${total} unrelated; press a to show them).`, color: 'gray' }];
}

/** Text wrapped at spaces into at most `maxLines` lines (continuations indented by two), the last one cut with …. */
function wrapped(text: string, width: number, maxLines: number, style: Omit<Seg, 'text'>): Line[] {
  const first = wrapLine(text, width);
  const lines = first.length <= 1 ? first : [first[0]!, ...wrapLine(text.slice(first[0]!.length).trimStart(), width - 2).map((l) => '  ' + l)];
  const kept = lines.slice(0, maxLines);
  if (lines.length > maxLines) kept[maxLines - 1] = truncate(kept[maxLines - 1]! + ' ' + lines.slice(maxLines).join(' '), width);
  return kept.map((l) => [{ ...style, text: l }]);
}

/**
 * The part of one cluster in a session of several: a title line (its verdict icon or ⟳, its context, server and
 * mode), its object tree indented under it, its counts, its error and its verdict line, in `budget` lines.
 */
/** The verdict line of a finished state (wrapped, in the verdict's colour), or "Finished." without one. */
function verdictLines(state: SessionState, verdictLine: string | undefined, width: number, cause?: string, bold = true): Line[] {
  if (state.status !== 'finished') return [];
  if (!state.verdict) return [[{ text: 'Finished.', bold: true }]];
  const color = VERDICT_COLOR[state.verdict];
  // The cause of the failure the verdict names, which the verdict (object and reason) does not say.
  const why = cause ? wrapped(`  ${cause}`, width, 3, { color }) : [];
  return [...wrapped(`${VERDICT_ICON[state.verdict]} ${verdictLine ?? ''}`, width, 3, { color, bold }), ...why];
}

function clusterBlock(
  cluster: ClusterState,
  sub: SessionState,
  p: SessionViewProps,
  o: { width: number; budget: number; now: number; spinner: string; layoutTree: typeof buildTree },
): Line[] {
  const finished = sub.status === 'finished';
  const info: string[] = [];
  if (cluster.server) info.push(shortUrl(cluster.server));
  const affected = Object.values(sub.nodes).filter((n) => n.affected).length;
  info.push(`${affected} object${affected === 1 ? '' : 's'}`);
  if (!finished && sub.mode) info.push(sub.mode === 'watch' ? 'watching' : 'polling');
  else if (!finished && sub.status === 'starting') info.push('connecting');
  const title: Line = [
    finished && sub.verdict ? { text: VERDICT_ICON[sub.verdict], color: VERDICT_COLOR[sub.verdict], bold: true } : { text: '⟳', color: 'cyan', bold: true },
    { text: ` ${oneLine(cluster.context)}`, bold: true },
    { text: `  ${info.join(' · ')}`, color: 'gray' },
  ];
  const indent = (l: Line): Line => [{ text: '  ' }, ...l];
  const error: Line[] = sub.error
    ? [
        ...wrapped(`✖ ${sub.error.category}: ${oneLine(sub.error.message)}`, o.width - 2, 2, { color: 'red', bold: true }),
        ...(p.verbosity === 'minimal' ? [] : wrapped(`  hint: ${oneLine(sub.error.hint)}`, o.width - 2, 3, { color: 'yellow' })),
      ].map(indent)
    : [];
  const s = summarize(sub);
  const verdict: Line[] = finished && sub.verdict ? verdictLines(sub, s.verdictLine, o.width - 2, s.causeLine, false).map(indent) : [];
  const counts = p.verbosity === 'minimal' ? [] : summaryLines(sub, o.width - 2).map(indent);
  const fixed = 1 + error.length + verdict.length + counts.length;
  const rows = o.layoutTree(sub, { showAll: p.showAll, showDependencies: p.showDependencies, verbosity: p.verbosity, maxRows: Math.max(1, o.budget - fixed), width: o.width - 2 });
  const tree = rows.length
    ? treeLines(rows, o.width - 2, { now: o.now, spinner: o.spinner, finished })
    : Object.keys(sub.nodes).length || !sub.error
      ? [emptyTreeLine(sub, p.showAll)]
      : [];
  return [title, ...tree.map(indent), ...counts, ...error, ...verdict];
}

/** The view of a session of several clusters: the header, one block per cluster, the overall counts and verdict. */
function clustersLines(p: SessionViewProps, layoutTree: typeof buildTree): Line[] {
  const { state } = p;
  const finished = state.status === 'finished';
  const now = finished && state.endedAt !== undefined ? Math.min(p.now, state.endedAt) : p.now;
  const width = Math.max(20, Math.floor(p.width));
  const header = headerLines(state, p, now);
  const summary = summaryLines(state, width);
  const s = summarize(state);
  const verdict = verdictLines(state, s.verdictLine, width, s.causeLine);
  const footer = footerLines(p.footer, width);
  // Each cluster's warnings, prefixed with its context.
  const warnings = warningLines(state, p.verbosity);
  const parts = splitClusters(state);
  const fixed = header.length + summary.length + warnings.length + verdict.length + footer.length;
  const budget = Math.max(parts.length * 2, Math.floor(p.height) - fixed);
  const each = Math.max(2, Math.floor(budget / Math.max(1, parts.length)));
  const spinner = spinnerGlyph(p.spinnerFrame);
  const blocks = parts.flatMap(({ cluster, state: sub }) => clusterBlock(cluster, sub, p, { width, budget: each, now, spinner, layoutTree }).slice(0, each));
  return [...header, ...blocks, ...summary, ...warnings, ...verdict, ...footer].map((l) => fitLine(l, width));
}

/** The footer (the keys), wrapped at its ` · ` separators instead of cut. */
function footerLines(footer: string | undefined, width: number): Line[] {
  if (!footer) return [];
  return packed(footer.split(' · ').map((t) => [{ text: t, color: 'gray' as const }]), { text: ' · ', color: 'gray' }, width);
}

/** All lines of the view, already fitted to the width and the height. Exported for tests and text captures. */
export function sessionLines(p: SessionViewProps, layoutTree: typeof buildTree = buildTree): Line[] {
  if (p.state.clusters?.length) return clustersLines(p, layoutTree);
  const { state } = p;
  const finished = state.status === 'finished';
  const now = finished && state.endedAt !== undefined ? Math.min(p.now, state.endedAt) : p.now;
  const width = Math.max(20, Math.floor(p.width));

  const header = headerLines(state, p, now);
  const summary = summaryLines(state, width);
  const warnings = warningLines(state, p.verbosity);
  // The cluster error and the verdict matter most: they wrap (a little) instead of being cut; the hint wraps
  // further, since its point is at its end.
  const error: Line[] = state.error
    ? [
        ...wrapped(`✖ ${state.error.category}: ${oneLine(state.error.message)}`, width, 2, { color: 'red', bold: true }),
        ...wrapped(`  hint: ${oneLine(state.error.hint)}`, width, 4, { color: 'yellow' }),
      ]
    : [];
  const s = summarize(state);
  const verdict = verdictLines(state, s.verdictLine, width, s.causeLine);
  const footer = footerLines(p.footer, width);

  if (p.timeline) {
    const room = Math.max(3, Math.floor(p.height) - header.length - verdict.length - footer.length);
    return [...header, ...waterfallLinesCached(state, { width, height: room, now }), ...verdict, ...footer].map((l) => fitLine(l, width));
  }
  const fixed = header.length + summary.length + warnings.length + error.length + verdict.length + footer.length;
  const budget = Math.max(1, Math.floor(p.height) - fixed);
  const rows = layoutTree(state, { showAll: p.showAll, showDependencies: p.showDependencies, verbosity: p.verbosity, maxRows: budget, width });
  const spinner = spinnerGlyph(p.spinnerFrame);
  const tree = rows.length ? treeLines(rows, width, { now, spinner, finished }) : [emptyTreeLine(state, p.showAll)];

  return [...header, ...tree, ...summary, ...warnings, ...error, ...verdict, ...footer].map((l) => fitLine(l, width));
}

/** A segment: its text, or a <Text> with its style (unstyled text needs no node of its own in Ink). */
function styled(seg: Seg, key: number, color: boolean): ReactNode {
  if (!color || (!seg.color && !seg.bold && !seg.dim)) return seg.text;
  return (
    <Text key={key} color={seg.color} bold={seg.bold} dimColor={seg.dim}>
      {seg.text}
    </Text>
  );
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Where a line's printable-ASCII tail starts: the index of the first segment after the last one with other
 * characters (0 when the whole line is ASCII, `line.length` when its last segment is not).
 */
export function asciiTail(line: Line): number {
  for (let i = line.length - 1; i >= 0; i--) if (!PRINTABLE_ASCII.test(line[i]!.text)) return i + 1;
  return 0;
}

function Segs({ segs, color }: { segs: Line; color: boolean }) {
  return (
    <Text wrap="truncate-end">{segs.map((seg, j) => styled(seg, j, color))}</Text>
  );
}

/**
 * One line. Ink measures every text node of every frame with string-width, which takes a fast path only for
 * printable ASCII: a tree row ("│  ├─ ✓ Kustomization apps/web   Ready   12s") is drawn as its glyphs and the
 * ASCII rest side by side, so that only the few glyph columns take the slow, per-grapheme path.
 */
const LineView = memo(
  function LineView({ line, color }: { line: Line; color: boolean }) {
    const split = asciiTail(line);
    const hasGap = line.some((g) => g.gap);
    if (!hasGap && (split === 0 || split === line.length)) return <Segs segs={line} color={color} />;
    // Runs of segments, cut where the ASCII tail starts and at the gaps; a gap is an empty box of its width.
    const parts: ReactElement[] = [];
    let run: Seg[] = [];
    const flush = () => {
      if (run.length) parts.push(<Segs key={parts.length} segs={run} color={color} />);
      run = [];
    };
    line.forEach((seg, i) => {
      if (i === split) flush();
      if (seg.gap) {
        flush();
        parts.push(<Box key={parts.length} width={seg.text.length} flexShrink={0} />);
      } else run.push(seg);
    });
    flush();
    return <Box>{parts}</Box>;
  },
  // Lines are rebuilt at each frame: a line equal to the last one is not rendered again.
  (a, b) => a.color === b.color && sameLine(a.line, b.line),
);

/** Whether two lines have the same segments (text and style). */
export function sameLine(a: Line, b: Line): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.text !== y.text || x.color !== y.color || x.bold !== y.bold || x.dim !== y.dim || x.gap !== y.gap) return false;
  }
  return true;
}

/** The whole live view of one session. */
export function SessionView(props: SessionViewProps) {
  const color = props.color ?? colorEnabled(process.env);
  // The tree only depends on the state and the layout options, not on the clock or the spinner: reuse it between
  // the frames that only tick (large fleets make buildTree cost a few milliseconds).
  const cache = useRef<{ state: SessionState; key: string; rows: TreeRow[] } | undefined>(undefined);
  const cachedTree: typeof buildTree = (state, opts) => {
    const key = JSON.stringify(opts);
    if (cache.current?.state !== state || cache.current.key !== key) cache.current = { state, key, rows: buildTree(state, opts) };
    return cache.current.rows;
  };
  const lines = sessionLines(props, cachedTree);
  return (
    <Box flexDirection="column" width={Math.max(20, Math.floor(props.width))}>
      {lines.map((line, i) => (
        <LineView key={i} line={line} color={color} />
      ))}
    </Box>
  );
}
