// `--json`: one MonitorEvent per line (schema in docs/json-events.md). Text fields are already sanitised.
import type { MonitorEvent } from '../core/types.js';

export function createJsonPrinter(out: { write(s: string): unknown }): (e: MonitorEvent) => void {
  return (e) => {
    out.write(JSON.stringify(e) + '\n');
  };
}
