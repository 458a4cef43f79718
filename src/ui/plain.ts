// Line printer for pipes, CI logs and dumb terminals: one line per phase change, warnings and errors once,
// summary and verdict at the end. It receives full states and diffs them itself. Deterministic: all times come
// from the states (offsets from state.startedAt), never from the clock.
//
// The lines are in time order. A phase change carries the time it happened (the node's phaseSince); a blocked
// object the time it became blocked, which is not before what blocks it settled (the phaseSince of its root
// blocker); a line printed again for what carries no time of its own (a new wait began, a new error on retry) the
// time of the state that showed it. A line whose time is later than its phase's start says since when the phase
// lasts (`· waiting since +5s`); a change whose own time is earlier than a line already printed (an object seen
// late, another cluster's line) carries the time of the state that showed it. A log line is never stamped earlier
// than the one above it.
import { FAILURE_PHASES, type NodeState, type SessionState, type Verbosity, type Verdict } from '../core/types.js';
import { hasMoreThanCause } from '../core/cause.js';
import { diagnosisLines } from '../core/workloads.js';
import { splitClusters } from '../core/clusters.js';
import { failingLines } from '../core/failfast.js';
import { rootBlocker } from '../core/verdict.js';
import { blockedByText, compareNodes, formatDuration, nodeLabel, reasonAndCause, shortSha, shownPhase, summarize, waitText } from './layout.js';
import { linesText, waterfallLines } from './waterfall.js';
import { ansi, cleanText, fitLine, oneLine, PHASE_COLOR, PHASE_ICON, PHASE_TAG, shortUrl, VERDICT_COLOR, VERDICT_ICON, type ShownPhase } from './theme.js';

export interface PlainPrinterOptions {
  verbosity: Verbosity;
  /** ANSI colours (default false). */
  color?: boolean;
  /** ASCII tags ([FAIL]) instead of Unicode icons (default false). */
  ascii?: boolean;
  /** Also print objects not affected by the commit (default false). */
  showAll?: boolean;
  /** Name the blockers of waiting objects (config show_dependencies; default true). */
  showDependencies?: boolean;
}

export interface PlainPrinter {
  /** Prints what changed since the previous state (the first call prints the header and every object). */
  onState(state: SessionState): void;
  /** Prints the last changes, the summary and the verdict. Only the first call prints. */
  finish(state: SessionState): void;
}

const VERDICT_TAG: Record<Verdict, string> = {
  success: '[PASS]',
  failed: '[FAIL]',
  timeout: '[TIME]',
  superseded: '[SUPR]',
  stopped: '[STOP]',
  error: '[ERR ]',
  blocked: '[BLKD]',
};

/** Offset from the session start, right-aligned: `   +12s`. */
function offset(ms: number): string {
  return `+${formatDuration(ms)}`.padStart(7);
}

/**
 * The printer. A session of several clusters (state.clusters) gets one header, then each cluster's lines prefixed
 * with `[context] ` (its own header line, objects, warnings, errors, summary and verdict line), and at the end the
 * overall summary and verdict (the worst of the clusters'). A single-cluster session prints as it always did.
 */
export function createPlainPrinter(out: { write(s: string): unknown }, opts: PlainPrinterOptions): PlainPrinter {
  let single: PlainPrinter | undefined;
  let multi: PlainPrinter | undefined;
  // Decided per state: a detached monitor's file holds a state without clusters (starting, nothing printed for
  // it) before its first merged one.
  const pick = (state: SessionState): PlainPrinter =>
    state.clusters?.length ? (multi ??= createClustersPrinter(out, opts)) : (single ??= createSinglePrinter(out, opts));
  return {
    onState: (state) => pick(state).onState(state),
    finish: (state) => {
      pick(state).finish(state);
      // Verbose: the push's waterfall as text, below the verdict (`status --timeline` prints it on demand).
      if (opts.verbosity === 'verbose' && state.timeline && Object.keys(state.timeline.objects).length) {
        const width = 100;
        const lines = waterfallLines(state, { width }).map((l) => fitLine(l, width));
        out.write('\n' + linesText(lines, opts.color ?? false, ansi).join('\n') + '\n');
      }
    },
  };
}

function createClustersPrinter(out: { write(s: string): unknown }, opts: PlainPrinterOptions): PlainPrinter {
  const color = opts.color ?? false;
  const minimal = opts.verbosity === 'minimal';
  const subs = new Map<string, PlainPrinter>();
  let headerDone = false;
  let finished = false;
  const line = (s: string) => out.write(s + '\n');
  // One time order for the lines of every cluster.
  const floor = { at: -Infinity };
  const sub = (context: string) => {
    let p = subs.get(context);
    if (!p) subs.set(context, (p = createSinglePrinter(out, opts, `[${oneLine(context)}] `, floor)));
    return p;
  };
  function header(state: SessionState): void {
    headerDone = true;
    if (minimal) return;
    const subject = oneLine(state.commit.subject);
    const tag = state.commit.tag ? ` (tag ${oneLine(state.commit.tag)})` : '';
    line(`flux-monitor: following ${shortSha(state.commit.sha) || 'unknown commit'}${tag}${subject ? ` "${subject}"` : ''}`);
    const where = state.repo.url ? shortUrl(state.repo.url) : oneLine(state.repo.remote ?? state.repo.path);
    const branch = oneLine(state.repo.branch);
    const repo = branch && where ? `${branch} → ${where}` : branch || where;
    const n = state.clusters?.length ?? 0;
    const parts = [`${repo ? `${repo} on ` : ''}${n} clusters: ${(state.clusters ?? []).map((c) => oneLine(c.context)).join(', ')}`];
    if (state.status === 'finished') parts.push(`finished after ${formatDuration((state.endedAt ?? state.updatedAt) - state.startedAt)}`);
    else parts.push(`timeout ${formatDuration(state.timeoutMs)}`);
    line(`  ${parts.join(' · ')}`);
  }
  function onState(state: SessionState): void {
    if (finished) return;
    if (!headerDone) header(state);
    for (const { cluster, state: s } of splitClusters(state)) sub(cluster.context).onState(s);
  }
  function finish(state: SessionState): void {
    if (finished) return;
    if (!headerDone) header(state);
    for (const { cluster, state: s } of splitClusters(state)) sub(cluster.context).finish(s);
    finished = true;
    const s = summarize(state);
    if (!minimal) line(`summary: ${s.countsLine} on ${state.clusters?.length ?? 0} clusters`);
    line(verdictText(state, s.verdictLine, opts.ascii, color));
    if (s.causeLine) line(`  ${ansi(s.causeLine, state.verdict ? VERDICT_COLOR[state.verdict] : undefined, color)}`);
  }
  return { onState, finish };
}

/** The last line of a finished session: its verdict, or how long it ran without one. */
function verdictText(state: SessionState, verdictLine: string | undefined, ascii: boolean | undefined, color: boolean): string {
  const v = state.verdict;
  if (!v || !verdictLine) return `session ended without a verdict after ${formatDuration((state.endedAt ?? state.updatedAt) - state.startedAt)}`;
  return `${ansi(ascii ? VERDICT_TAG[v] : VERDICT_ICON[v], VERDICT_COLOR[v], color)} ${ansi(verdictLine, VERDICT_COLOR[v], color)}`;
}

/**
 * The printer of one cluster's state; `prefix` (`[context] `) before each line when it is one of several, and
 * `floor` the time of the last line printed (shared by the printers of several clusters).
 */
function createSinglePrinter(out: { write(s: string): unknown }, opts: PlainPrinterOptions, prefix = '', floor = { at: -Infinity }): PlainPrinter {
  const color = opts.color ?? false;
  const minimal = opts.verbosity === 'minimal';
  const verbose = opts.verbosity === 'verbose';
  /** Last printed phase (and reason, for failures) per key. */
  const seen = new Map<string, string>();
  /** Last printed wait (kind and start) per key. */
  const waitSeen = new Map<string, string>();
  /** Last printed diagnosis per key (its lines). */
  const diagnosed = new Map<string, string>();
  /** The time (changedAt) of the last line printed per key: the same again is a line printed again for a change without a time. */
  const printedSince = new Map<string, number>();
  const warned = new Set<string>();
  let headerDone = false;
  let lastError: string | undefined;
  let finished = false;

  const line = (s: string) => out.write(prefix + s + '\n');
  const icon = (p: ShownPhase) => (opts.ascii ? PHASE_TAG[p] : PHASE_ICON[p]);

  function header(state: SessionState): void {
    headerDone = true;
    if (minimal) return;
    if (prefix) {
      // One of several clusters: the session's header is above; this says which cluster and how many objects.
      const n = Object.values(state.nodes).filter((x) => x.affected).length;
      const server = state.cluster.server ? ` (${oneLine(state.cluster.server)})` : '';
      line(`cluster ${oneLine(state.cluster.context)}${server} · ${n} object${n === 1 ? '' : 's'}`);
      return;
    }
    const subject = oneLine(state.commit.subject);
    const tag = state.commit.tag ? ` (tag ${oneLine(state.commit.tag)})` : '';
    line(`flux-monitor: following ${shortSha(state.commit.sha) || 'unknown commit'}${tag}${subject ? ` "${subject}"` : ''}`);
    const where = state.repo.url ? shortUrl(state.repo.url) : oneLine(state.repo.remote ?? state.repo.path);
    const branch = oneLine(state.repo.branch);
    const parts: string[] = [];
    const cluster = oneLine(state.cluster.context ?? state.cluster.server);
    const repo = branch && where ? `${branch} → ${where}` : branch || where;
    if (repo || cluster) parts.push(repo && cluster ? `${repo} on ${cluster}` : repo || `cluster ${cluster}`);
    const nodes = Object.values(state.nodes);
    const affected = nodes.filter((n) => n.affected).length;
    parts.push(`${affected} object${affected === 1 ? '' : 's'}`);
    // A session seen for the first time once it is over (an error at once, `status` of a past session) says how
    // long it ran; the verdict follows below. A running one says when it gives up.
    if (state.status === 'finished') parts.push(`finished after ${formatDuration((state.endedAt ?? state.updatedAt) - state.startedAt)}`);
    else parts.push(`timeout ${formatDuration(state.timeoutMs)}`);
    line(`  ${parts.join(' · ')}`);
  }

  /**
   * The lines of a node, stamped `at`; `since` (when the phase began) when that is earlier than `at` and the line
   * is not the phase change itself.
   */
  function nodeLines(state: SessionState, n: NodeState, at: number, since: number | undefined): void {
    const failing = FAILURE_PHASES.has(n.phase) || n.phase === 'Failing';
    // A blocked object says so, and what blocks it; the others their reason and the line that carries the cause; a
    // Failing one its evidence, then when Flux gives up (core/failfast.ts).
    const shown = shownPhase(n);
    const by = blockedByText(state, n);
    const ff = n.phase === 'Failing' && n.failing ? failingLines(n.failing, at, verbose) : undefined;
    const why = by ?? (ff ? ff[0]!.text : reasonAndCause(n));
    const phase = n.deleted ? 'Deleted' : shown;
    const c = PHASE_COLOR[shown];
    const stamp = offset(Math.max(0, at - state.startedAt));
    const sinceText = since === undefined ? '' : offset(Math.max(0, since - state.startedAt)).trim();
    const began = sinceText && sinceText !== stamp.trim() ? ` · ${n.deleted ? 'deleted' : n.phase.toLowerCase()} since ${sinceText}` : '';
    // When Flux looks again, as of the line's time (a log line does not count down; the next one says what changed).
    const wait = finished ? undefined : waitText(n, at);
    line(`${stamp} ${ansi(icon(shown), c, color)} ${nodeLabel(n)}  ${ansi(phase, c, color)}${why ? `  ${ansi(why, failing ? 'red' : undefined, color)}` : ''}${began}${wait ? ` · ${wait}` : ''}`);
    if (ff) {
      for (const l of ff.slice(1)) line(`${' '.repeat(8)}${l.tone === 'problem' ? ansi(oneLine(l.text), 'red', color) : oneLine(l.text)}`);
      return;
    }
    if (!verbose) return;
    const pad = ' '.repeat(8);
    if (opts.showDependencies !== false && n.phase === 'Waiting' && n.blockers?.length) line(`${pad}waiting for: ${n.blockers.map(oneLine).join(', ')}`);
    // The whole message, when the phase line showed only part of it (its cause line, or what blocks the object).
    if (by || hasMoreThanCause(cleanText(n.message))) {
      for (const l of cleanText(n.message).split('\n')) if (l.trim() !== '') line(`${pad}${l.trimEnd()}`);
    }
    if (n.revision) line(`${pad}revision: ${oneLine(n.revision)}`);
  }

  /**
   * The diagnosis of a node, when it is new or changed: the workloads behind a failing health check, their pods'
   * problems, notes; verbose adds the object's Events. Decided when called (it is then taken as printed), printed
   * by the function returned: under the phase line, or with its own time (`headerAt`) when it comes later.
   */
  function diagnosisBlock(state: SessionState, n: NodeState): ((headerAt?: number) => void) | undefined {
    if (minimal || !n.diagnosis || n.phase === 'Ready') return undefined;
    const lines = diagnosisLines(n.diagnosis, { verbose });
    const sig = lines.map((l) => l.text).join('\n');
    if (!lines.length || diagnosed.get(n.key) === sig) return undefined;
    diagnosed.set(n.key, sig);
    const failing = FAILURE_PHASES.has(n.phase) || n.phase === 'Failing';
    return (headerAt) => {
      if (headerAt !== undefined) line(`${offset(Math.max(0, headerAt - state.startedAt))}   diagnosis of ${nodeLabel(n)}:`);
      for (const l of lines) {
        const text = `${' '.repeat(8)}${l.indent === 0 ? (opts.ascii ? '> ' : '▸ ') : '    '}${oneLine(l.text)}`;
        line(l.tone === 'problem' && failing ? ansi(text, 'red', color) : text);
      }
    };
  }

  /** When what a node's line says began: its phase, or its being blocked (not before its root blocker settled). */
  function changedAt(state: SessionState, n: NodeState): number {
    if (shownPhase(n) !== 'Blocked') return n.phaseSince;
    return Math.max(n.phaseSince, rootBlocker(state, n)?.phaseSince ?? n.phaseSince);
  }

  function onState(state: SessionState): void {
    if (finished) return;
    // The header comes first, also when a cluster error comes before discovery is done.
    if (!headerDone && (state.status !== 'starting' || Object.keys(state.nodes).length > 0 || state.error)) header(state);

    const changed = Object.values(state.nodes)
      .filter((n) => opts.showAll || n.affected)
      .filter((n) => {
        // Failures are printed again when their reason changes (a new error on retry); an object again when it
        // becomes blocked.
        // …and when it starts a new wait in the same phase (a health check begins: its timeout).
        const sig = `${shownPhase(n)}|${n.deleted ? 'deleted' : ''}|${FAILURE_PHASES.has(n.phase) || n.phase === 'Failing' ? n.reason : ''}`;
        const w = n.wait && waitText(n, state.updatedAt) ? `${n.wait.kind}|${n.wait.from ?? ''}` : '';
        if (seen.get(n.key) === sig && (!w || waitSeen.get(n.key) === w)) return false;
        seen.set(n.key, sig);
        waitSeen.set(n.key, w);
        return !minimal || FAILURE_PHASES.has(n.phase) || n.phase === 'Failing';
      })
      .sort((a, b) => a.phaseSince - b.phaseSince || compareNodes(a, b));
    // Each line with its time (see the top of the file), then printed in time order.
    const entries: Array<{ at: number; rank: number; print: () => void }> = [];
    /** The time of a line: its own, unless a line already printed is later; then the state's (when it was seen). */
    const inOrder = (t: number) => (t < floor.at ? Math.max(state.updatedAt, floor.at) : t);
    for (const n of changed) {
      const since = changedAt(state, n);
      const again = printedSince.get(n.key) === since;
      printedSince.set(n.key, since);
      const at = inOrder(again ? Math.max(state.updatedAt, since) : since);
      const diagnosis = diagnosisBlock(state, n);
      // At the same time, an object blocked after what blocks it.
      entries.push({ at, rank: shownPhase(n) === 'Blocked' ? 1 : 0, print: () => (nodeLines(state, n, at, at > n.phaseSince ? n.phaseSince : undefined), diagnosis?.()) });
    }
    // Diagnoses that came (or changed) after their object's phase line.
    for (const n of Object.values(state.nodes)) {
      const diagnosis = n.diagnosis && (opts.showAll || n.affected) ? diagnosisBlock(state, n) : undefined;
      if (!diagnosis) continue;
      const at = inOrder(n.diagnosis!.at);
      entries.push({ at, rank: 2, print: () => diagnosis(at) });
    }
    entries.sort((a, b) => a.at - b.at || a.rank - b.rank); // stable: else in the order of their phases
    for (const e of entries) {
      e.print();
      floor.at = Math.max(floor.at, e.at);
    }

    const stateAt = Math.max(state.updatedAt, floor.at);
    const at = offset(Math.max(0, stateAt - state.startedAt));
    if (!minimal) {
      for (const w of state.warnings) {
        if (warned.has(w)) continue;
        warned.add(w);
        line(`${at} ${ansi(opts.ascii ? '[WARN]' : '⚠', 'yellow', color)} warning: ${oneLine(w)}`);
        floor.at = stateAt;
      }
    }
    const e = state.error;
    const sig = e ? `${e.category}|${e.message}` : undefined;
    if (e && sig !== lastError) {
      line(`${at} ${ansi(opts.ascii ? '[ERR ]' : '✖', 'red', color)} ${ansi(`error (${e.category}): ${oneLine(e.message)}`, 'red', color)}`);
      if (e.hint) line(`${' '.repeat(8)}hint: ${oneLine(e.hint)}`);
      floor.at = stateAt;
    } else if (!e && lastError !== undefined && !minimal) {
      line(`${at} ${ansi(opts.ascii ? '[ OK ]' : '✔', 'green', color)} cluster reachable again`);
      floor.at = stateAt;
    }
    lastError = sig;
  }

  function finish(state: SessionState): void {
    if (finished) return;
    if (!headerDone) header(state);
    onState(state);
    finished = true;
    const s = summarize(state);
    // Counts of nothing read (the cluster was never reached) would read as "0 ready": the error says what happened.
    const nothingRead = Object.keys(state.nodes).length === 0 && state.verdict === 'error';
    if (!minimal && !nothingRead) line(`summary: ${s.countsLine}`);
    line(verdictText(state, s.verdictLine, opts.ascii, color));
    // The cause of the failure the verdict names (its object and reason): the line of its message that says it.
    if (s.causeLine) line(`  ${ansi(s.causeLine, state.verdict ? VERDICT_COLOR[state.verdict] : undefined, color)}`);
  }

  return { onState, finish };
}
