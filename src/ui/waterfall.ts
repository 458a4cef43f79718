// The push's waterfall (issue 28 item 2): one bar per object on a shared time axis from the push to the verdict,
// coloured by phase (waiting, reconciling, health check, ready, failed), the critical path marked, and how much
// of it was Flux waiting rather than working. Lines of styled segments, fitted to the width: the live view draws
// them (`t`), the plain printer and `status --timeline` print them (each phase has its own glyph, so the text
// form reads without colours). Everything shown from the session is sanitised.
import { axisOf, barOf, criticalPath, orderOf, type Bar, type BarPhase, type CriticalPath, type ObjectMoments } from '../core/timeline.js';
import type { NodeState, SessionState } from '../core/types.js';
import { formatDuration, nodeLabel, shortSha } from './layout.js';
import { oneLine, padEnd, textWidth, truncate, truncateMiddle, wrapLine, type ColorName } from './theme.js';
// Types only: the plain printer and `status --timeline` draw the waterfall without loading Ink and React.
import type { Line, Seg } from './view.js';

/** The glyph and colour of each phase of a bar; the bar's end is a mark (✓ Ready, ✗ failed). */
export const BAR_GLYPH: Record<BarPhase, string> = { waiting: '·', reconciling: '=', health: '~', ready: '✓', failed: '✗' };
export const BAR_COLOR: Record<BarPhase, ColorName> = { waiting: 'yellow', reconciling: 'cyan', health: 'magenta', ready: 'green', failed: 'red' };
const BAR_WORD: Record<BarPhase, string> = { waiting: 'waiting', reconciling: 'reconciling', health: 'health check', ready: 'ready', failed: 'failed' };
/** The mark of an object on the critical path. */
export const CRITICAL_MARK = '*';

export interface WaterfallOptions {
  width: number;
  /** Most lines (the rows beyond it fold into one line); default: all. */
  height?: number;
  /** The clock for a session still running. */
  now?: number;
}

/** `850ms`, `4.5s`, `36s`, `3m05s`. */
export function spanText(ms: number): string {
  if (ms >= 1000 && ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  return formatDuration(ms);
}

/**
 * The label of a timeline key in `room` columns: the node's `Kind namespace/name` (the namespace gives way
 * first), else the key itself (sanitised).
 */
function labelOf(state: SessionState, key: string, room = 80): string {
  const n: NodeState | undefined = state.nodes[key];
  if (!n) return truncateMiddle(oneLine(key), room);
  const kind = `${n.cluster ? `${oneLine(n.cluster)}: ` : ''}${oneLine(n.kind)} `;
  const full = nodeLabel(n);
  if (textWidth(kind) + textWidth(full) - textWidth(oneLine(n.kind)) - 1 <= room) return `${kind}${full.slice(full.indexOf(' ') + 1)}`;
  // Narrow: the name without its namespace (the Kind stays: it says what the bar is).
  if (textWidth(kind) + textWidth(oneLine(n.name)) <= room || textWidth(kind) + 8 > room) return truncateMiddle(`${kind}${oneLine(n.name)}`, room);
  // The namespace gives way first, its start kept (`flux-…/apps`).
  const name = oneLine(n.name);
  const nsRoom = room - textWidth(kind) - textWidth(name) - 1;
  return nsRoom >= 4 ? `${kind}${truncate(oneLine(n.namespace), nsRoom)}/${name}` : truncateMiddle(`${kind}${name}`, room);
}

/** The bars of a session, in the order they started (the critical path's objects first among equals). */
export function sessionBars(state: SessionState & { pushedAt?: number }, now?: number): { axis: { from: number; to: number }; bars: Bar[]; path?: CriticalPath } {
  const axis = axisOf(state, now);
  const objects = state.timeline?.objects ?? {};
  // In the order they started working (an object that was only seen Ready or failed: then).
  const firstAt = (m: ObjectMoments) => (m.started ? orderOf(m.started) : Math.min(m.ready ? orderOf(m.ready) : Infinity, m.failed ? orderOf(m.failed) : Infinity, m.waits?.[0]?.from ?? Infinity));
  const bars = Object.entries(objects)
    .filter(([k]) => state.nodes[k]?.affected !== false)
    .map(([k, m]) => ({ bar: barOf(k, m, axis), first: firstAt(m) }))
    .filter((b) => b.bar.segments.length > 0)
    .sort((a, b) => a.first - b.first || (a.bar.end ?? Infinity) - (b.bar.end ?? Infinity) || (a.bar.key < b.bar.key ? -1 : 1))
    .map((b) => b.bar);
  return { axis, bars, path: criticalPath(state) };
}

/** The cells of one bar over `cols` columns of the axis. */
function barCells(bar: Bar, axis: { from: number; to: number }, cols: number): Array<BarPhase | undefined> {
  const cells: Array<BarPhase | undefined> = new Array(cols).fill(undefined);
  const span = Math.max(1, axis.to - axis.from);
  const col = (t: number) => Math.min(cols - 1, Math.max(0, Math.floor(((t - axis.from) / span) * cols)));
  for (const s of bar.segments) {
    if (s.phase === 'ready' || s.phase === 'failed') continue;
    const a = col(s.from);
    const b = Math.max(a + 1, col(s.to));
    for (let i = a; i < b && i < cols; i++) cells[i] = s.phase;
  }
  // The end: one mark where it became Ready or failed (a failure it recovered from keeps its own mark).
  for (const s of bar.segments) if (s.phase === 'failed') cells[col(s.from)] = 'failed';
  for (const s of bar.segments) if (s.phase === 'ready') cells[col(s.from)] = 'ready';
  return cells;
}

/** Cells as segments: runs of one phase. */
function cellSegs(cells: Array<BarPhase | undefined>): Seg[] {
  const out: Seg[] = [];
  let i = 0;
  while (i < cells.length) {
    const p = cells[i];
    let j = i;
    while (j < cells.length && cells[j] === p) j++;
    out.push(p ? { text: BAR_GLYPH[p].repeat(j - i), color: BAR_COLOR[p] } : { text: ' '.repeat(j - i) });
    i = j;
  }
  return out;
}

/** The axis line: tick labels at round intervals, over the bars' columns. */
function axisLine(axis: { from: number; to: number }, cols: number): string {
  const span = axis.to - axis.from;
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);
  // At most one label per ~10 columns.
  const step = steps.find((s) => (span / s) * 10 <= cols) ?? steps.at(-1)!;
  const line = new Array<string>(cols).fill(' ');
  for (let t = 0; t <= span; t += step) {
    const c = Math.floor((t / Math.max(1, span)) * cols);
    const label = `|${t === 0 ? '0s' : formatDuration(t)}`;
    if (c + label.length > cols) break;
    for (let i = 0; i < label.length; i++) line[c + i] = label[i]!;
  }
  return line.join('');
}

/**
 * The waterfall of a session as lines: a title, the axis, one row per object (`*` on the critical path), the
 * critical path with its waiting and working time per object, and the legend. Empty timeline: one line saying so.
 */
export function waterfallLines(state: SessionState & { pushedAt?: number }, o: WaterfallOptions): Line[] {
  const width = Math.max(30, Math.floor(o.width));
  const { axis, bars, path } = sessionBars(state, state.status === 'finished' ? undefined : o.now);
  const title: Line = [
    { text: `Timeline of ${shortSha(state.commit.sha)}`, bold: true },
    { text: ` · push → ${state.verdict ? 'verdict' : 'now'} ${spanText(axis.to - axis.from)}`, color: 'gray' },
  ];
  if (bars.length === 0) {
    return [title, [{ text: state.timeline ? '  nothing recorded yet: no object has started on the commit' : '  this session recorded no timeline (a flux-monitor older than the timeline, or nothing started)', color: 'gray' }]];
  }
  const critical = new Set(path?.links.map((l) => l.key));
  const endCol = 8;
  const labelCol = Math.min(Math.max(...bars.map((b) => textWidth(labelOf(state, b.key)))) + 2, Math.max(12, Math.floor(width * 0.4)));
  const labels = new Map(bars.map((b) => [b.key, labelOf(state, b.key, labelCol - 2)]));
  const cols = Math.max(10, width - labelCol - 1 - endCol);
  const lines: Line[] = [title, [{ text: ' '.repeat(labelCol + 1) }, { text: axisLine(axis, cols), color: 'gray' }]];
  const rowLine = (b: Bar): Line => {
    const mark = critical.has(b.key) ? CRITICAL_MARK : ' ';
    const end = b.end !== undefined ? `+${spanText(b.end - axis.from)}` : '';
    return [
      { text: `${mark} `, bold: mark !== ' ', color: mark !== ' ' ? 'yellow' : undefined },
      { text: padEnd(labels.get(b.key)!, labelCol - 2) + ' ', bold: critical.has(b.key) },
      ...cellSegs(barCells(b, axis, cols)),
      { text: ' ' + end.padStart(endCol - 1), color: 'gray' },
    ];
  };
  const pathLines = criticalPathLines(state, path, width);
  const legendSegs: Seg[] = [
    ...(['waiting', 'reconciling', 'health', 'ready', 'failed'] as const).flatMap((p) => [
      { text: BAR_GLYPH[p], color: BAR_COLOR[p] } as Seg,
      { text: ` ${BAR_WORD[p]}  `, color: 'gray' } as Seg,
    ]),
    { text: `${CRITICAL_MARK} critical path`, color: 'gray' },
  ];
  // On one line when it fits, else on two.
  const legendWidth = legendSegs.reduce((w, g) => w + textWidth(g.text), 0);
  const legend: Line[] = legendWidth + 8 <= width ? [[{ text: 'legend: ', color: 'gray' }, ...legendSegs]] : [legendSegs.slice(0, 6), legendSegs.slice(6)];
  // A short terminal gives up the legend, then the critical path's lines but its first, before the rows.
  const height = o.height === undefined ? Infinity : Math.max(3, Math.floor(o.height));
  const dropped = state.timeline?.dropped ? 1 : 0;
  if (height - lines.length - dropped - pathLines.length - legend.length < Math.min(bars.length, 3)) legend.length = 0;
  if (height - lines.length - dropped - pathLines.length < Math.min(bars.length, 3)) pathLines.length = Math.min(pathLines.length, 1);
  const fixed = lines.length + pathLines.length + legend.length + dropped;
  const room = bars.length <= height - fixed ? bars.length : Math.max(1, height - fixed - 1);
  // Over the height: the critical path's rows first, then the others in order, and one line for those left out.
  const shown = bars.length <= room ? bars : pick(bars, critical, room);
  for (const b of shown) lines.push(rowLine(b));
  if (shown.length < bars.length) lines.push([{ text: `  … ${bars.length - shown.length} more objects (a taller terminal, or \`flux-monitor status --timeline\`, shows them)`, color: 'gray' }]);
  if (state.timeline?.dropped) lines.push([{ text: `  … ${state.timeline.dropped} objects beyond the recorded ${Object.keys(state.timeline.objects).length} have no timeline`, color: 'gray' }]);
  lines.push(...pathLines, ...legend);
  return lines.slice(0, height);
}

/** `room` bars: the critical path's, then the first others, in their order. */
function pick(bars: Bar[], critical: Set<string>, room: number): Bar[] {
  const keep = new Set<string>();
  for (const b of bars) if (critical.has(b.key) && keep.size < room) keep.add(b.key);
  for (const b of bars) if (keep.size < room) keep.add(b.key);
  return bars.filter((b) => keep.has(b.key));
}

/** The critical path in words: the total, the share Flux waited, and each object's wait and work. */
export function criticalPathLines(state: SessionState, path: CriticalPath | undefined, width: number): Line[] {
  if (!path || path.links.length === 0) return [];
  const pct = path.totalMs > 0 ? Math.round((path.waitingMs / path.totalMs) * 100) : 0;
  const out: Line[] = [
    [
      { text: `${CRITICAL_MARK} critical path: `, bold: true, color: 'yellow' },
      { text: `${spanText(path.totalMs)} from the push; ${spanText(path.waitingMs)} (${pct}%) Flux waiting, ${spanText(path.workingMs)} working` },
    ],
  ];
  let prev: string | undefined;
  const labelW = Math.min(Math.max(12, Math.floor(width * 0.4)), Math.max(...path.links.map((l) => textWidth(labelOf(state, l.key)))));
  for (const l of path.links) {
    // What it waited for: the object before it on the path, by the edge that links them (its namespace when another).
    const via = l.via === 'dependsOn' ? 'its dependency' : l.via === 'source' ? 'its source' : l.via === 'inventory' ? 'the Kustomization that applies it' : '';
    const before = prev ? state.nodes[prev] : undefined;
    const sameNs = before && state.nodes[l.key] && before.namespace === state.nodes[l.key]!.namespace && before.cluster === state.nodes[l.key]!.cluster;
    const what = !prev ? 'after the push' : `for ${via} ${sameNs ? `${oneLine(before.kind)} ${oneLine(before.name)}` : labelOf(state, prev, 60)}`;
    const end = l.outcome === 'failed' ? ', failed' : l.outcome === 'open' ? ', still running at the end' : '';
    const head = `  ${padEnd(labelOf(state, l.key, labelW), labelW)}  `;
    const rest = `waited ${spanText(l.waitedMs)} ${what}, worked ${spanText(l.workedMs)}${end}`;
    // Wrapped under itself rather than cut: the reason is at its end.
    const room = Math.max(10, width - textWidth(head));
    wrapLine(rest, room).forEach((part, i) => {
      out.push([{ text: i === 0 ? head : ' '.repeat(textWidth(head)) }, { text: part, color: i === 0 && l.waitedMs > l.workedMs ? 'yellow' : undefined }]);
    });
    prev = l.key;
  }
  return out;
}

/** The lines as plain text (ANSI colours when `color`), one string per line. */
export function linesText(lines: Line[], color: boolean, ansi: (t: string, c: ColorName | undefined, on: boolean) => string): string[] {
  return lines.map((l) => l.map((s) => ansi(s.text, s.color, color)).join('').replace(/\s+$/, ''));
}

const drawn = new WeakMap<object, { key: string; lines: Line[] }>();

/**
 * waterfallLines() for the live view, which draws a frame per spinner tick: the lines of the same state, size and
 * (for a running session) quarter-second are reused (at 10,000 objects, a layout takes milliseconds).
 */
export function waterfallLinesCached(state: SessionState, o: WaterfallOptions): Line[] {
  const key = `${o.width}x${o.height}@${state.status === 'finished' ? 'end' : Math.floor((o.now ?? 0) / 250)}`;
  const hit = drawn.get(state);
  if (hit?.key === key) return hit.lines;
  const lines = waterfallLines(state, o);
  drawn.set(state, { key, lines });
  return lines;
}
