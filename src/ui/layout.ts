// Pure layout of a session for the terminal: the object tree as a flat list of rows (with tree glyphs),
// collapsing to a height budget, the summary line, the verdict line and durations. No React, no I/O.
import {
  countKey,
  countPhases,
  FAILURE_PHASES,
  FLUX_KINDS,
  SOURCE_KINDS,
  type CountKey,
  type NodeState,
  type PhaseCounts,
  type SessionState,
  type Verbosity,
} from '../core/types.js';
import { causeLine } from '../core/cause.js';
import { diagnosisLines } from '../core/workloads.js';
import { failingLines } from '../core/failfast.js';
import { rootBlocker, verdictFailure } from '../core/verdict.js';
import { waitDue, type WaitInfo } from '../core/waits.js';
import { cleanText, oneLine, textWidth, truncate, truncateMiddle, VERDICT_TITLE, wrapLine, type ShownPhase } from './theme.js';

export interface TreeOptions {
  /** Show every monitored object (true) or only those affected by the pushed commit (false). */
  showAll: boolean;
  /** Nest objects under what they dependOn and name the blockers of waiting ones (config show_dependencies; default true). */
  showDependencies?: boolean;
  verbosity: Verbosity;
  /** Most rows the tree may take; beyond it subtrees are collapsed into "+N more" rows. Undefined: no limit. */
  maxRows?: number;
  /** Columns available: detail lines are truncated (or, verbose, wrapped) to fit. Undefined: no limit. */
  width?: number;
}

/** One line of the tree. `prefix` holds the tree glyphs to draw before the row's content. */
export type TreeRow =
  | { type: 'node'; key: string; depth: number; prefix: string; node: NodeState; /** part of a dependsOn cycle */ cycle: boolean }
  | { type: 'detail'; key: string; depth: number; prefix: string; text: string; tone: 'error' | 'info' }
  /** The object is drawn elsewhere in the tree (reached a second time), or closes a dependency cycle. */
  | { type: 'ref'; key: string; depth: number; prefix: string; text: string; cycle: boolean }
  /** Collapsed objects: `count` objects, by what their rows would say (countKey) in `counts`. */
  | { type: 'more'; depth: number; prefix: string; count: number; counts: Partial<Record<CountKey, number>>; text: string };

// ---- intermediate tree ---------------------------------------------------------------------------------------

interface Detail {
  text: string;
  tone: 'error' | 'info';
  /** A line of the node's diagnosis (workloads, pods, events), not of its own message. */
  diag?: boolean;
}
interface NodeItem {
  t: 'node';
  key: string;
  node: NodeState;
  depth: number;
  cycle: boolean;
  details: Detail[];
  children: Item[];
}
interface RefItem {
  t: 'ref';
  key: string;
  depth: number;
  text: string;
  cycle: boolean;
}
interface MoreItem {
  t: 'more';
  depth: number;
  counts: Map<CountKey, number>;
}
type Item = NodeItem | RefItem | MoreItem;

const KIND_RANK = new Map<string, number>(FLUX_KINDS.map((k, i) => [k, i]));
const SOURCE_SET = new Set<string>(SOURCE_KINDS);

/** Stable display order of objects: sources first (FLUX_KINDS order), then namespace and name. */
export function compareNodes(a: NodeState, b: NodeState): number {
  return (KIND_RANK.get(a.kind) ?? 99) - (KIND_RANK.get(b.kind) ?? 99) || cmp(a.namespace, b.namespace) || cmp(a.name, b.name) || cmp(a.key, b.key);
}

/** Code-unit order: the same on every machine, whatever the locale. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `Kind namespace/name` of a node (sanitised). */
export function nodeLabel(n: Pick<NodeState, 'kind' | 'namespace' | 'name'>): string {
  return `${n.kind} ${oneLine(n.namespace)}/${oneLine(n.name)}`;
}

/**
 * What a node's row says in its phase column: `Blocked` for a Pending/Waiting object that can no longer move
 * (countKey() says `blocked`: the word of the summary line, the fold lines and the verdict), else its phase.
 */
export function shownPhase(n: Pick<NodeState, 'phase' | 'settled' | 'context'>): ShownPhase {
  const k = countKey(n);
  return k === 'blocked' ? 'Blocked' : k === 'unchanged' ? 'Unchanged' : n.phase;
}

/**
 * What blocks a blocked node, as its row says it (`Blocked · by Kustomization flux-system/infra (Failed)`): the
 * settled object at the end of its chain of blockers (rootBlocker). Undefined for a node that is not blocked or
 * whose blocker is not in the state.
 */
export function blockedByText(state: SessionState, n: NodeState, width?: number): string | undefined {
  if (countKey(n) !== 'blocked') return undefined;
  const root = rootBlocker(state, n);
  if (!root) return undefined;
  const phase = ` (${root.deleted ? 'Deleted' : root.phase})`;
  const name = `${oneLine(root.namespace)}/${oneLine(root.name)}`;
  // Too narrow: the name gives way from its middle, its end (what tells it apart) and the phase stay.
  const room = width === undefined ? Infinity : width - textWidth(`by ${root.kind} ${phase}`);
  return `by ${root.kind} ${room >= textWidth(name) ? name : truncateMiddle(name, Math.max(1, room), 0.6)}${phase}`;
}

/** Phases in which a wait is shown (a settled, blocked node waits for nothing that can come). */
const WAIT_PHASES = new Set(['Waiting', 'Progressing', 'Pending']);

/** Whole seconds, rounded up: a bound is never shown earlier than it is. */
const upToSecond = (ms: number) => Math.max(1000, Math.ceil(ms / 1000) * 1000);

/**
 * When Flux looks at a node again, seen at `now` (src/core/waits.ts): `retry ≤ 22s`, `fetch ≤ 4m10s`,
 * `timeout in 9m12s`, `timeout due` (passed, the controller has not written the outcome yet); `retry every 30s`
 * when only the period is known. Undefined when the node waits for nothing known, or is settled.
 * The plain printer's lines carry their own time: the wait is then said as of it (`now`), and one that began
 * after it (its `from`) as of its beginning, still counted from `now`.
 */
export function waitText(n: Pick<NodeState, 'wait' | 'phase' | 'settled' | 'deleted'>, now: number): string | undefined {
  const w = n.wait;
  if (!w || n.settled || n.deleted || !WAIT_PHASES.has(n.phase)) return undefined;
  const due = waitDue(w, Math.max(now, w.from ?? now));
  if (w.kind === 'timeout') {
    if (due.at === undefined) return undefined;
    return due.overdue ? 'timeout due' : `timeout in ${formatDuration(upToSecond(due.at - now))}`;
  }
  if (due.at === undefined) return `${w.kind} every ${formatDuration(w.ms)}`;
  return `${w.kind} ≤ ${formatDuration(upToSecond(due.at - now))}`;
}

/** Where a wait's duration comes from, in words (verbose detail; docs/ui.md). */
export function waitBasisText(w: WaitInfo): string {
  const every = `${formatDuration(w.ms)}${w.jitter ? ` ±${Math.round(w.jitter * 100)}%` : ''}`;
  const c = w.controller ?? 'the controller';
  switch (w.kind) {
    case 'timeout':
      return `times out ${formatDuration(w.ms)} after it started (the timeout the controller wrote)`;
    case 'fetch':
      return `fetches every ${every} (spec.interval${w.jitter ? `, ${c}'s jitter` : ''})`;
    case 'retry': {
      const basis =
        w.basis === 'flag' ? `${w.flag} of ${c}, read from its Deployment`
          : w.basis === 'default' ? `${c}'s default: its Deployment does not set ${w.flag}`
            : `Flux's default, assumed: ${c}'s Deployment could not be read`;
      return `retries every ${every} (${basis})`;
    }
  }
}

/** `reason: cause line` of a node's message (the line that carries the cause, src/core/cause.ts), sanitised. */
export function reasonAndCause(n: Pick<NodeState, 'reason' | 'message'>): string {
  const reason = oneLine(n.reason);
  const cause = oneLine(causeLine(cleanText(n.message)));
  return reason && cause ? `${reason}: ${cause}` : reason || cause;
}

/** The nodes the view shows: all of them, or only the affected ones. */
export function visibleNodes(state: SessionState, showAll: boolean): NodeState[] {
  return Object.values(state.nodes).filter((n) => showAll || n.affected);
}

/** Whether any shown object is progressing (the live view only animates then). */
export function hasProgress(state: SessionState, showAll: boolean): boolean {
  return visibleNodes(state, showAll).some((n) => n.phase === 'Progressing');
}

/** A failure shown as one: Failed, Stalled, or Failing (Flux still waits, the evidence is conclusive). */
const isFailure = (p: NodeState['phase']) => FAILURE_PHASES.has(p) || p === 'Failing';

/** Marker of a workload line of a diagnosis, and the indent of the lines under it. */
export const DIAGNOSIS_MARK = '▸ ';
const DIAGNOSIS_INDENT = '    ';

/**
 * The diagnosis of a node as detail lines (workloads, their pods, notes; events when verbose): one line each,
 * cut to the width, or wrapped when verbose. Problems are red under a failed node, gray under a slow one.
 */
function diagnosisDetails(n: NodeState, verbose: boolean, avail: number | undefined): Detail[] {
  if (!n.diagnosis || n.phase === 'Ready') return [];
  const failing = isFailure(n.phase);
  const out: Detail[] = [];
  for (const l of diagnosisLines(n.diagnosis, { verbose })) {
    const lead = l.indent === 0 ? DIAGNOSIS_MARK : DIAGNOSIS_INDENT;
    const text = lead + oneLine(l.text);
    const tone: Detail['tone'] = l.tone === 'problem' && failing ? 'error' : 'info';
    if (avail === undefined) out.push({ text, tone, diag: true });
    else if (!verbose) out.push({ text: truncate(text, avail), tone, diag: true });
    else wrapLine(text, avail).forEach((part, i) => out.push({ text: i === 0 ? part : DIAGNOSIS_INDENT + '  ' + part.trimStart(), tone, diag: true }));
  }
  return out;
}

/**
 * Detail lines under a node: the failure reason and the line of its message that carries the cause, its
 * diagnosis, what blocks a blocked node (unless it is the object it hangs under: `parent`); in verbose mode also
 * blockers and the whole messages.
 */
function detailsOf(state: SessionState, n: NodeState, parent: string | undefined, verbosity: Verbosity, avail: number | undefined, showDependencies = true): Detail[] {
  if (n.phase === 'Failing' && n.failing) {
    // The evidence, then when Flux gives up (as of the state's last update) and when fail-fast ends the session.
    const verbose = verbosity === 'verbose';
    const lines = failingLines(n.failing, state.updatedAt, verbose).map((l): Detail => ({ text: avail === undefined ? l.text : truncate(l.text, avail), tone: l.tone === 'problem' ? 'error' : 'info' }));
    return [...(verbosity === 'minimal' ? lines.slice(0, 1) : lines), ...(verbosity === 'minimal' ? [] : diagnosisDetails(n, verbose, avail))];
  }
  const failing = FAILURE_PHASES.has(n.phase);
  const by = verbosity !== 'minimal' && n.blockedBy !== parent ? blockedByText(state, n, avail === undefined ? undefined : avail - 'blocked '.length) : undefined;
  const blocked: Detail[] = by ? [{ text: `blocked ${by}`, tone: 'info' }] : [];
  if (verbosity !== 'verbose') {
    const diag = verbosity === 'normal' ? diagnosisDetails(n, false, avail) : [];
    if (!failing) return [...blocked, ...diag];
    const text = reasonAndCause(n);
    if (!text) return diag;
    return [{ text: avail === undefined ? text : truncate(text, avail), tone: 'error' }, ...diag];
  }
  if (n.phase === 'Ready') return [];
  const reason = oneLine(n.reason);
  const tone: Detail['tone'] = failing ? 'error' : 'info';
  const lines: string[] = [];
  if (showDependencies && n.phase === 'Waiting' && n.blockers?.length) lines.push(`waiting for: ${n.blockers.map(oneLine).join(', ')}`);
  if (n.wait && !n.settled && WAIT_PHASES.has(n.phase)) lines.push(waitBasisText(n.wait));
  const msg = cleanText(n.message)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
  if (msg.length > 0) msg[0] = reason ? `${reason}: ${msg[0]!.trim()}` : msg[0]!.trim();
  else if (reason && failing) msg.push(reason);
  lines.push(...msg);
  const out: Detail[] = [...blocked];
  for (const l of lines) for (const part of avail === undefined ? [l] : wrapLine(l, avail)) out.push({ text: part, tone });
  out.push(...diagnosisDetails(n, true, avail));
  return out;
}

/**
 * The shape of the tree, which depends only on the graph and on which objects are shown, not on their phases:
 * the roots in order and each object's children in order (keys).
 */
interface TreeShape {
  roots: string[];
  children: Map<string, string[]>;
  /** Every shown key in display order (for the objects only reachable through a cycle). */
  all: string[];
}

const NO_KEYS: string[] = [];

function treeShape(state: SessionState, shown: Map<string, NodeState>, showDependencies: boolean): TreeShape {
  const deps = new Map<string, Set<string>>(); // dependent -> dependencies
  const dependents = new Map<string, Set<string>>(); // dependency -> dependents
  const invParents = new Map<string, Set<string>>(); // child -> parent Kustomizations
  const invChildren = new Map<string, Set<string>>(); // Kustomization -> children
  const sourcesOf = new Map<string, Set<string>>(); // consumer -> sources
  const consumers = new Map<string, Set<string>>(); // source -> consumers
  const push = (m: Map<string, Set<string>>, k: string, v: string) => {
    const l = m.get(k);
    if (l) l.add(v);
    else m.set(k, new Set([v]));
  };
  for (const e of state.edges) {
    if (e.from === e.to || !shown.has(e.from) || !shown.has(e.to)) continue;
    if (e.type === 'dependsOn') {
      if (!showDependencies) continue;
      push(deps, e.from, e.to);
      push(dependents, e.to, e.from);
    } else if (e.type === 'inventory') {
      // The pushed-to sources stay roots even when a Kustomization applies them (flux-system applies its own
      // GitRepository); other sources (e.g. a HelmRepository) hang under the Kustomization that applies them.
      if (state.matchedSources.includes(e.to) || (state.matchedSources.length === 0 && SOURCE_SET.has(shown.get(e.to)!.kind))) continue;
      push(invParents, e.to, e.from);
      push(invChildren, e.from, e.to);
    } else {
      push(sourcesOf, e.from, e.to);
      push(consumers, e.to, e.from);
    }
  }
  // A consumer hangs under its source only when nothing more telling places it (a dependency or an applier).
  const placedElsewhere = (k: string) => deps.has(k) || invParents.has(k);
  const byOrder = (keys: Iterable<string>) => [...new Set(keys)].map((k) => shown.get(k)!).sort(compareNodes);
  const children = new Map<string, string[]>();
  for (const k of shown.keys()) {
    const inv = invChildren.get(k);
    const dep = dependents.get(k);
    const con = consumers.get(k);
    if (!inv && !dep && !con) continue;
    children.set(k, byOrder([...(inv ?? []), ...(dep ?? []), ...[...(con ?? [])].filter((c) => !placedElsewhere(c))]).map((n) => n.key));
  }
  const matched = new Set(state.matchedSources);
  const all = byOrder(shown.keys());
  const roots = all
    .filter((n) => !placedElsewhere(n.key) && !sourcesOf.has(n.key))
    .sort((a, b) => Number(matched.has(b.key)) - Number(matched.has(a.key)) || Number(SOURCE_SET.has(b.kind)) - Number(SOURCE_SET.has(a.kind)));
  return { roots: roots.map((n) => n.key), children, all: all.map((n) => n.key) };
}

/**
 * The last shape built for a graph (the engine keeps its `edges` array while the graph does not change, and the
 * live view asks for a tree at each new state): reused while the cycles, the matched sources, the option and the
 * shown keys are the same.
 */
const shapes = new WeakMap<SessionState['edges'], { cycles: SessionState['cycles']; matched: string[]; deps: boolean; keys: string[]; shape: TreeShape }>();

function cachedShape(state: SessionState, shown: Map<string, NodeState>, showDependencies: boolean): TreeShape {
  const hit = shapes.get(state.edges);
  if (hit && hit.cycles === state.cycles && hit.matched === state.matchedSources && hit.deps === showDependencies && hit.keys.length === shown.size) {
    let same = true;
    let i = 0;
    for (const k of shown.keys()) if (hit.keys[i++] !== k) {
      same = false;
      break;
    }
    if (same) return hit.shape;
  }
  const shape = treeShape(state, shown, showDependencies);
  shapes.set(state.edges, { cycles: state.cycles, matched: state.matchedSources, deps: showDependencies, keys: [...shown.keys()], shape });
  return shape;
}

/** Builds the intermediate tree: roots, children, references for second visits, cycle handling. */
function buildItems(state: SessionState, opts: TreeOptions): Item[] {
  const shown = new Map<string, NodeState>();
  for (const n of visibleNodes(state, opts.showAll)) shown.set(n.key, n);
  const shape = cachedShape(state, shown, opts.showDependencies !== false);
  const inCycle = new Set(state.cycles.flat());
  const visited = new Set<string>();
  const onPath = new Set<string>();
  const visit = (n: NodeState, depth: number, parent?: string): NodeItem => {
    visited.add(n.key);
    onPath.add(n.key);
    const avail = opts.width === undefined ? undefined : Math.max(8, opts.width - (3 * depth + 2));
    const details = detailsOf(state, n, parent, opts.verbosity, avail, opts.showDependencies !== false);
    const item: NodeItem = { t: 'node', key: n.key, node: n, depth, cycle: inCycle.has(n.key), details, children: [] };
    for (const ck of shape.children.get(n.key) ?? NO_KEYS) {
      const c = shown.get(ck)!;
      if (!visited.has(c.key)) item.children.push(visit(c, depth + 1, n.key));
      else if (onPath.has(c.key)) item.children.push({ t: 'ref', key: c.key, depth: depth + 1, cycle: true, text: `↻ cycle back to ${nodeLabel(c)}` });
      else item.children.push({ t: 'ref', key: c.key, depth: depth + 1, cycle: false, text: `↳ see ${nodeLabel(c)}` });
    }
    onPath.delete(n.key);
    return item;
  };
  const items: Item[] = [];
  for (const r of shape.roots) if (!visited.has(r)) items.push(visit(shown.get(r)!, 0));
  // Objects only reachable through a cycle have no root: start from them in order.
  for (const k of shape.all) if (!visited.has(k)) items.push(visit(shown.get(k)!, 0));
  return items;
}

// ---- collapsing to a height budget -----------------------------------------------------------------------------

function rowCount(it: Item): number {
  return it.t === 'node' ? 1 + it.details.length + it.children.reduce((s, c) => s + rowCount(c), 0) : 1;
}

function subtreeOk(it: Item, ok: (n: NodeState) => boolean): boolean {
  if (it.t === 'node') return ok(it.node) && it.children.every((c) => subtreeOk(c, ok));
  return true; // references and already collapsed rows can always be folded further
}

function addCounts(it: Item, into: Map<CountKey, number>): void {
  if (it.t === 'node') {
    const k = countKey(it.node);
    into.set(k, (into.get(k) ?? 0) + 1);
    for (const c of it.children) addCounts(c, into);
  } else if (it.t === 'more') {
    for (const [p, n] of it.counts) into.set(p, (into.get(p) ?? 0) + n);
  }
}

/** Every children list of the tree, deepest first, the root list last. */
function listsPostOrder(items: Item[], out: Item[][] = []): Item[][] {
  for (const it of items) if (it.t === 'node' && it.children.length) listsPostOrder(it.children, out);
  out.push(items);
  return out;
}

/**
 * Folds subtrees whose objects all satisfy `ok` into "+N more" rows, deepest lists first and, within a list, the
 * last candidates first, just enough to fit. Returns the new total row count.
 */
function collapseWhere(roots: Item[], total: number, maxRows: number, ok: (n: NodeState) => boolean): number {
  for (const list of listsPostOrder(roots)) {
    const excess = total - maxRows;
    if (excess <= 0) break;
    const cands = list.map((it, i) => (subtreeOk(it, ok) ? i : -1)).filter((i) => i >= 0);
    // The last j candidates, for the smallest j that saves enough (or all of them): their rows are summed as j
    // grows instead of again for each j (a root list of hundreds of candidates made this quadratic).
    let hidden: number[] = [];
    let savings = 0;
    let rows = 0;
    for (let j = 1; j <= cands.length; j++) {
      rows += rowCount(list[cands[cands.length - j]!]!);
      savings = rows - 1;
      if (savings >= excess || j === cands.length) {
        hidden = cands.slice(-j);
        break;
      }
    }
    if (savings <= 0) continue;
    const counts = new Map<CountKey, number>();
    for (const i of hidden) addCounts(list[i]!, counts);
    const depth = list[0]!.depth;
    for (const i of [...hidden].reverse()) list.splice(i, 1);
    list.push({ t: 'more', depth, counts });
    total -= savings;
  }
  return total;
}

/** Order of the counts in a fold line ("+4 more (2 progressing, 1 waiting, 1 ready)"). */
const FOLD_ORDER: readonly CountKey[] = ['pending', 'progressing', 'waiting', 'blocked', 'ready', 'failing', 'failed', 'suspended', 'superseded', 'unknown', 'unchanged'];

function moreText(counts: Map<CountKey, number>): { count: number; text: string } {
  const count = [...counts.values()].reduce((a, b) => a + b, 0);
  // The words of the summary line (countKey): a blocked object is "blocked" here too, not "waiting" or "pending".
  const parts = FOLD_ORDER.filter((k) => counts.get(k)).map((k) => `${counts.get(k)} ${k}`);
  if (count === 0) return { count, text: '+ more' };
  if (parts.length === 1 && counts.get('ready')) return { count, text: `+${count} more ready` };
  return { count, text: `+${count} more (${parts.join(', ')})` };
}

function dropRefs(list: Item[]): number {
  let dropped = 0;
  for (let i = list.length - 1; i >= 0; i--) {
    const it = list[i]!;
    if (it.t === 'ref') {
      list.splice(i, 1);
      dropped++;
    } else if (it.t === 'node') dropped += dropRefs(it.children);
  }
  return dropped;
}

function dropDetails(list: Item[]): number {
  let dropped = 0;
  for (const it of list) {
    if (it.t !== 'node') continue;
    dropped += it.details.length;
    it.details = [];
    dropped += dropDetails(it.children);
  }
  return dropped;
}

// ---- flattening ------------------------------------------------------------------------------------------------

function flatten(items: Item[], cont: string, depth: number, out: TreeRow[]): void {
  items.forEach((it, i) => {
    const last = i === items.length - 1;
    const prefix = depth === 0 ? '' : cont + (last ? '└─ ' : '├─ ');
    const childCont = depth === 0 ? '' : cont + (last ? '   ' : '│  ');
    if (it.t === 'node') {
      out.push({ type: 'node', key: it.key, depth, prefix, node: it.node, cycle: it.cycle });
      // Detail lines sit under the row's icon, with the children's line passing through.
      const dprefix = childCont + (it.children.length ? '│ ' : '  ');
      for (const d of it.details) out.push({ type: 'detail', key: it.key, depth, prefix: dprefix, text: d.text, tone: d.tone });
      flatten(it.children, childCont, depth + 1, out);
    } else if (it.t === 'ref') {
      out.push({ type: 'ref', key: it.key, depth, prefix, text: it.text, cycle: it.cycle });
    } else {
      const { count, text } = moreText(it.counts);
      out.push({ type: 'more', depth, prefix, count, counts: Object.fromEntries(it.counts), text });
    }
  });
}

/**
 * The object tree as rows. Roots are the shown objects that nothing places elsewhere (sources first, the matched
 * sources before the others); under an object come the objects it applied (inventory), its dependents (dependsOn)
 * and its consumers (when they have no dependency nor applier of their own). An object reached a second time is
 * drawn once and referenced ("↳ see …") at the other places; cycles are cut with "↻ cycle back to …".
 *
 * With `maxRows`, the tree is folded to fit: first fully ready subtrees, then other settled ones (never failures),
 * then multi-line details are cut to one line, references dropped, anything not failing folded, the remaining
 * details dropped, and at last the tail is cut.
 */
export function buildTree(state: SessionState, opts: TreeOptions): TreeRow[] {
  const items = buildItems(state, opts);
  if (opts.maxRows !== undefined) {
    const maxRows = Math.max(1, Math.floor(opts.maxRows));
    let total = items.reduce((s, it) => s + rowCount(it), 0);
    total = collapseWhere(items, total, maxRows, (n) => n.phase === 'Ready');
    total = collapseWhere(items, total, maxRows, (n) => n.settled && !isFailure(n.phase));
    if (total > maxRows) {
      const trim = (list: Item[]) => {
        for (const it of list) {
          if (it.t !== 'node') continue;
          // The first line of the message and the first line of the diagnosis (the workload that is not ready) stay.
          const own = it.details.filter((d) => !d.diag);
          const diag = it.details.filter((d) => d.diag);
          const kept = [...own.slice(0, 1), ...diag.slice(0, 1)].map((d, i, all) =>
            i === all.length - 1 && it.details.length > all.length && !d.text.endsWith('…') ? { ...d, text: d.text + ' …' } : d,
          );
          if (kept.length < it.details.length) {
            total -= it.details.length - kept.length;
            it.details = kept;
          }
          trim(it.children);
        }
      };
      trim(items);
    }
    // References only repeat what is drawn elsewhere.
    if (total > maxRows) total -= dropRefs(items);
    total = collapseWhere(items, total, maxRows, (n) => !isFailure(n.phase));
    if (total > maxRows) total -= dropDetails(items);
    const rows: TreeRow[] = [];
    flatten(items, '', 0, rows);
    if (rows.length <= maxRows) return rows;
    // Last resort: cut the tail and say how many objects are not shown.
    const kept = rows.slice(0, maxRows - 1);
    const cut = rows.slice(maxRows - 1);
    const counts: Partial<Record<CountKey, number>> = {};
    for (const r of cut) {
      if (r.type === 'node') counts[countKey(r.node)] = (counts[countKey(r.node)] ?? 0) + 1;
      else if (r.type === 'more') for (const [k, n] of Object.entries(r.counts)) counts[k as CountKey] = (counts[k as CountKey] ?? 0) + (n ?? 0);
    }
    const count = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
    kept.push({ type: 'more', depth: 0, prefix: '', count, counts, text: count ? `+${count} more not shown` : '…' });
    return kept;
  }
  const rows: TreeRow[] = [];
  flatten(items, '', 0, rows);
  return rows;
}

// ---- summary, verdict, durations ---------------------------------------------------------------------------------

/** `850ms`, `12s`, `3m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  const t = Number.isFinite(ms) ? Math.max(0, Math.floor(ms)) : 0;
  if (t < 1000) return `${t}ms`;
  const s = Math.floor(t / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export interface Summary {
  counts: PhaseCounts;
  /** Number of affected objects. */
  total: number;
  /** `N ready, N progressing, N waiting, N failed, N pending` (+ suspended/superseded/unknown when nonzero). */
  countsLine: string;
  /** The verdict as one line, once the session has one: `Failed after 1m05s: …`. */
  verdictLine?: string;
  /**
   * Under a `failed` verdict: the line of the message of the failure it names that carries the cause
   * (`cause: Helm upgrade failed: master.resources.limits.memory: Invalid type…`), which the verdict (object and
   * reason only) does not say.
   */
  causeLine?: string;
}

export function formatCounts(c: PhaseCounts): string {
  const parts = [`${c.ready} ready`, `${c.progressing} progressing`, `${c.waiting} waiting`, `${c.failed} failed`, `${c.pending} pending`];
  // Still waited for by Flux, with conclusive evidence of failure (core/failfast.ts).
  if (c.failing) parts.splice(3, 0, `${c.failing} failing`);
  if (c.suspended) parts.push(`${c.suspended} suspended`);
  // The verdict's word for a Pending/Waiting object that can no longer move.
  if (c.blocked) parts.push(`${c.blocked} blocked`);
  if (c.superseded) parts.push(`${c.superseded} superseded`);
  if (c.unknown) parts.push(`${c.unknown} unknown`);
  // Ready objects the push has not moved: context, not "ready with the commit".
  if (c.unchanged) parts.push(`${c.unchanged} unchanged by this push`);
  return parts.join(', ');
}

/** Counts (affected objects only) and the verdict line. */
export function summarize(state: SessionState): Summary {
  const nodes = Object.values(state.nodes);
  const counts = countPhases(nodes, true);
  const total = nodes.filter((n) => n.affected).length;
  const summary: Summary = { counts, total, countsLine: formatCounts(counts) };
  if (state.verdict) {
    const took = formatDuration((state.endedAt ?? state.updatedAt) - state.startedAt);
    // The cluster error is on screen just above (with its hint): the verdict does not say it a second time.
    // The verdict's own words without what the title already says (`Timed out after 3s: timed out after 3s: …`).
    const own = oneLine(state.verdictMessage).replace(state.verdict === 'timeout' ? /^timed out after \d+s(?:: |$)/ : /^$/, '');
    const msg = verdictRestatesError(state) ? '' : own;
    summary.verdictLine = `${VERDICT_TITLE[state.verdict]} after ${took}${msg ? `: ${msg}` : state.verdict === 'error' && state.error ? ' (see the error above)' : ''}`;
    const named = state.verdict === 'failed' ? verdictFailure(state) : undefined;
    const cause = named ? oneLine(causeLine(cleanText(named.message))) : '';
    // In a session of several clusters, the cluster the failure is on (the verdict lists them).
    if (cause) summary.causeLine = `cause${named!.cluster !== undefined ? ` (${oneLine(named!.cluster)})` : ''}: ${cause}`;
  }
  return summary;
}


/** The affected objects that failed, in display order: their whole messages are printed once the live view ends. */
export function failures(state: SessionState): NodeState[] {
  return Object.values(state.nodes)
    .filter((n) => n.affected && isFailure(n.phase))
    .sort(compareNodes);
}

/** Whether the verdict message of an `error` verdict is the session's cluster error (`message. hint`), which views show on its own. */
export function verdictRestatesError(state: SessionState): boolean {
  const e = state.error;
  if (state.verdict !== 'error' || !e || !state.verdictMessage) return false;
  const msg = oneLine(state.verdictMessage);
  // The error's message leads the verdict's (the context it was on may follow).
  return msg === oneLine(`${e.message}. ${e.hint}`) || msg.startsWith(oneLine(e.message));
}

/** Short commit: first 7 characters of the sha. */
export function shortSha(sha: string): string {
  return oneLine(sha).slice(0, 7);
}
