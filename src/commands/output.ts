// Shared output plumbing of `watch` and `demo`: JSON events, the live Ink tree, or plain text lines.
import type { MonitorEvent, SessionState, Verbosity } from '../core/types.js';
import type { CommandIO } from './types.js';
import { createJsonPrinter } from '../ui/json.js';
import { colorEnabled, shouldUseInk } from '../ui/mode.js';

export interface Output {
  /** Absent when the output shows no state (`--json`: the events only): the engine then publishes none. */
  onState?(s: SessionState): void;
  onEvent(e: MonitorEvent): void;
  /** Waits until the output has shown the final state (the Ink view exits by itself shortly after). */
  finish(s: SessionState): Promise<void>;
}

export async function createOutput(
  io: CommandIO,
  o: { json: boolean; verbosity: Verbosity; showDependencies: boolean; mode: 'watch' | 'demo'; onQuit: () => void },
): Promise<Output> {
  if (o.json) {
    const print = createJsonPrinter(io.stdout);
    return { onEvent: print, finish: async () => undefined };
  }
  if (!shouldUseInk(io.env, io.stdout)) {
    // Loaded only here: `--json` draws no tree (and the live view below has its own).
    const { createPlainPrinter } = await import('../ui/plain.js');
    const p = createPlainPrinter(io.stdout, { verbosity: o.verbosity, showDependencies: o.showDependencies, color: io.stdout.isTTY === true && colorEnabled(io.env) });
    return { onState: (s) => p.onState(s), onEvent: () => undefined, finish: async (s) => p.finish(s) };
  }
  const { startLiveView } = await import('../ui/live.js');
  const listeners = new Set<(s: SessionState) => void>();
  let view: ReturnType<typeof startLiveView> | undefined;
  // The engine never changes a state it has published (src/engine/monitor.ts): the view keeps each one as given.
  let last: SessionState | undefined;
  let pending: NodeJS.Timeout | undefined;
  const flush = () => {
    pending = undefined;
    if (!last) return;
    for (const l of listeners) l(last);
  };
  return {
    onState: (s) => {
      last = s;
      if (!view) {
        view = startLiveView({
          initial: s,
          subscribe: (cb) => {
            listeners.add(cb);
            // Replay the latest state: updates may have come between `initial` and the subscription.
            if (last) cb(last);
            return () => listeners.delete(cb);
          },
          mode: o.mode,
          verbosity: o.verbosity,
          showDependencies: o.showDependencies,
          stdout: io.stdout,
          stdin: io.stdin,
          onQuit: o.onQuit,
        });
        return;
      }
      // The view gets the latest state at most every 50 ms.
      if (!pending) pending = setTimeout(flush, 50);
    },
    onEvent: () => undefined,
    finish: async (s) => {
      if (!view) {
        last = s;
        return;
      }
      clearTimeout(pending);
      last = s;
      flush();
      await view.waitUntilExit();
    },
  };
}
