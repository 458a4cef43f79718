// The live terminal view: renders SessionView with Ink, follows state updates, ticks the clock and the spinner,
// re-lays out on resize, handles keys (q/Ctrl-C quit, v verbosity, a all objects, t the push's waterfall) and exits after the session ends.
import { useCallback, useEffect, useRef, useState } from 'react';
import { render, useApp, useInput, useStdin, useStdout } from 'ink';
import type { SessionState, Verbosity } from '../core/types.js';
import { incrementalStdout } from './ink-incremental.js';
import { failures, hasProgress, nodeLabel } from './layout.js';
import { colorEnabled } from './mode.js';
import { ansi, cleanText, oneLine } from './theme.js';
import { SessionView } from './view.js';

export type LiveMode = 'watch' | 'status' | 'demo';

export interface LiveViewOptions {
  initial: SessionState;
  /** Registers a listener for new states; returns the function that unregisters it. */
  subscribe(cb: (s: SessionState) => void): () => void;
  /** `status` attaches to a monitor running elsewhere: quitting only detaches. */
  mode: LiveMode;
  verbosity: Verbosity;
  /** config show_dependencies (default true). */
  showDependencies?: boolean;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  /** Called when the user quits (q or Ctrl-C), before the view exits. The caller decides what it means. */
  onQuit?: () => void;
  /** Environment for colour decisions (NO_COLOR, FORCE_COLOR). Defaults to process.env. */
  env?: Record<string, string | undefined>;
  /**
   * Rewrite only the lines that changed since the last frame (Ink's incrementalRendering) instead of erasing and
   * rewriting the whole live area. Defaults to on when stdout is a TTY (the only place the live view runs).
   */
  incremental?: boolean;
}

export interface LiveView {
  /** Settles when the view has exited (quit, session finished, or unmount). */
  waitUntilExit(): Promise<void>;
  unmount(): void;
}

/** Frames per second cap of Ink's renders. */
export const MAX_FPS = 12;
/** How long the final frame stays before the view exits by itself. */
export const EXIT_DELAY_MS = 300;
const SPINNER_MS = 100;
const CLOCK_MS = 1000;

export interface LiveAppProps {
  initial: SessionState;
  subscribe(cb: (s: SessionState) => void): () => void;
  mode: LiveMode;
  verbosity: Verbosity;
  /** config show_dependencies (default true). */
  showDependencies?: boolean;
  onQuit?: () => void;
  color: boolean;
}

function footerText(mode: LiveMode, finished: boolean, keys: boolean, verbose: boolean, showAll: boolean, timeline = false): string {
  const parts: string[] = [];
  // Re-attached to a running monitor: leaving only detaches.
  if (mode === 'status' && !finished) parts.push('detached — the monitor keeps running');
  // The keys only while they work: not on the last frame, which stays on the terminal after the program ends.
  if (keys) parts.push('q quit', verbose ? 'v less detail' : 'v more detail', showAll ? 'a affected only' : 'a all objects', timeline ? 't tree' : 't timeline');
  return parts.join(' · ');
}

/** The live application (exported for tests; use startLiveView). */
export function LiveApp(props: LiveAppProps) {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const { isRawModeSupported } = useStdin();
  const [state, setState] = useState(props.initial);
  const [verbosity, setVerbosity] = useState<Verbosity>(props.verbosity);
  const [showAll, setShowAll] = useState(false);
  const [timeline, setTimeline] = useState(false);
  const [now, setNow] = useState(() => Date.now());
  const [frame, setFrame] = useState(0);
  const [size, setSize] = useState(() => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 }));

  const { subscribe } = props;
  useEffect(() => subscribe((s) => setState(s)), [subscribe]);

  useEffect(() => {
    const onResize = () => setSize({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);

  // The clock ticks every second while the session runs; the spinner only while something progresses.
  const finished = state.status === 'finished';
  const spinning = !finished && hasProgress(state, showAll);
  useEffect(() => {
    if (finished) return;
    const timer = setInterval(
      () => {
        setNow(Date.now());
        if (spinning) setFrame((f) => f + 1);
      },
      spinning ? SPINNER_MS : CLOCK_MS,
    );
    return () => clearInterval(timer);
  }, [finished, spinning]);

  // Leave shortly after the session ends, once the final frame is drawn.
  useEffect(() => {
    if (!finished) return;
    setNow(Date.now());
    const timer = setTimeout(() => exit(), EXIT_DELAY_MS);
    return () => clearTimeout(timer);
  }, [finished, exit]);

  // Quitting first draws a frame without the key hints (the last frame stays on the terminal), then exits.
  const [leaving, setLeaving] = useState(false);
  const quitting = useRef(false);
  const { onQuit } = props;
  const quit = useCallback(() => {
    if (quitting.current) return;
    quitting.current = true;
    onQuit?.();
    setLeaving(true);
  }, [onQuit]);
  useEffect(() => {
    if (leaving) exit();
  }, [leaving, exit]);

  useInput(
    (input, key) => {
      if (input === 'q' || (key.ctrl && input === 'c')) quit();
      else if (input === 'v') setVerbosity((v) => (v === 'verbose' ? (props.verbosity === 'verbose' ? 'normal' : props.verbosity) : 'verbose'));
      else if (input === 'a') setShowAll((a) => !a);
      else if (input === 't') setTimeline((t) => !t);
    },
    { isActive: isRawModeSupported },
  );

  return (
    <SessionView
      state={state}
      now={now}
      verbosity={verbosity}
      showDependencies={props.showDependencies}
      showAll={showAll}
      width={size.columns}
      // Keep the live area below the terminal's height: taller output makes Ink clear the screen every frame.
      height={Math.max(3, size.rows - 1)}
      spinnerFrame={frame}
      color={props.color}
      timeline={timeline}
      footer={footerText(props.mode, finished, isRawModeSupported && !finished && !leaving, verbosity === 'verbose', showAll, timeline) || undefined}
    />
  );
}

/**
 * What is printed below the final frame of a finished session that failed: each failure's whole message (the
 * tree shows the line that carries the cause, cut to the width), so that nobody needs to run again with
 * `--verbosity verbose`. Empty when nothing failed. The text is sanitised; colours only when `color`.
 */
export function failureReport(state: SessionState, color: boolean): string {
  if (state.status !== 'finished') return '';
  const failed = failures(state);
  if (failed.length === 0) return '';
  const out: string[] = ['', ansi(`What failed, in full (${failed.length}):`, 'red', color)];
  for (const n of failed) {
    const where = n.cluster !== undefined ? `[${oneLine(n.cluster)}] ` : '';
    const reason = oneLine(n.reason);
    out.push(`${ansi('✖', 'red', color)} ${where}${nodeLabel(n)}  ${n.phase}${reason ? `  ${reason}` : ''}${n.preexisting ? '  (already failing before this push)' : ''}`);
    // Every line as the controller wrote it (no cut, no wrap: it stays whole when copied).
    for (const l of cleanText(n.message).split('\n')) if (l.trim() !== '') out.push(`  ${l.trimEnd()}`);
  }
  return out.join('\n') + '\n';
}

/** Starts the live view on the terminal. Use only when shouldUseInk() says so; otherwise the plain printer. */
export function startLiveView(opts: LiveViewOptions): LiveView {
  const out = opts.stdout ?? process.stdout;
  const incremental = opts.incremental ?? out.isTTY === true;
  const stdout = incremental ? incrementalStdout(out) : out;
  // The newest state the view was given: once the view has ended, a finished one's failures are printed in full.
  let last = opts.initial;
  const subscribe = (cb: (s: SessionState) => void) =>
    opts.subscribe((s) => {
      last = s;
      cb(s);
    });
  const color = colorEnabled(opts.env ?? process.env);
  const instance = render(
    <LiveApp
      initial={opts.initial}
      subscribe={subscribe}
      mode={opts.mode}
      verbosity={opts.verbosity}
      showDependencies={opts.showDependencies}
      onQuit={opts.onQuit}
      color={color}
    />,
    {
      stdout,
      stdin: opts.stdin ?? process.stdin,
      maxFps: MAX_FPS,
      // A clock tick or one node's change rewrites a line or two, not the whole tree (issue 15).
      incrementalRendering: incremental,
      // Ctrl-C arrives as a key in raw mode: handled above, so that onQuit runs (never stops a detached monitor).
      exitOnCtrlC: false,
      patchConsole: false,
    },
  );
  // Ask for Ink's exit promise now: Ink resolves only a promise that exists when the view unmounts, so one
  // requested after a quit (`q` ends the view before the command is done with the monitor) would never settle.
  const exited = instance.waitUntilExit().then(() => {
    // Below the final frame, which stays on the terminal: the whole messages of what failed.
    const report = failureReport(last, color);
    if (report) out.write(report);
  });
  exited.catch(() => undefined); // whoever awaits waitUntilExit() gets the rejection; nobody else must
  return {
    waitUntilExit: () => exited,
    unmount: () => instance.unmount(),
  };
}
