// Session ids: `<UTC time>-<8 random hex>` (`20261205-223000-1f2e3d4c`), sortable by start time. Kept out of
// the engine so that the commands and the hook helper that only name a session do not load it.
import { randomUUID } from 'node:crypto';

export function newSessionId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${stamp}-${randomUUID().slice(0, 8)}`;
}
