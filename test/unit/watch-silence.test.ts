// Silence on a watch, at the transport: a request the server never answers is a failure (the cluster cannot be
// reached), a stream it accepted and then keeps quiet is not (the caller re-opens it without reporting anything).
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClusterClient } from '../../src/cluster/client.js';
import { categorize, WatchStallError } from '../../src/cluster/errors.js';

let server: http.Server | undefined;
const held: http.ServerResponse[] = [];

afterEach(async () => {
  for (const res of held.splice(0)) res.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A plain-HTTP server whose watch requests get `answer`; returns a client for it. */
async function clientFor(answer: (res: http.ServerResponse) => void): Promise<ClusterClient> {
  server = http.createServer((_req, res) => {
    held.push(res);
    answer(res);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return new ClusterClient({
    files: [],
    contextName: 'test',
    server: `http://127.0.0.1:${port}`,
    tls: { insecure: false },
    auth: { type: 'none' },
  });
}

/** Opens one watch and resolves with how it ended. */
function watchOnce(client: ClusterClient, stallMs: number, openTimeoutMs: number): Promise<{ opened: boolean; err: unknown }> {
  return new Promise((resolve) => {
    let opened = false;
    void client.watch('/apis/x/v1/things', { allowWatchBookmarks: 'true' }, { onOpen: () => (opened = true), onEvent: () => undefined, onClose: (err) => resolve({ opened, err }) }, stallMs, openTimeoutMs);
  });
}

describe('silence on a watch', () => {
  it('a watch request that gets no answer fails as unreachable (ETIMEDOUT), whatever the stall limit', async () => {
    const client = await clientFor(() => undefined); // accepts the connection, never answers
    const { opened, err } = await watchOnce(client, 60_000, 200);
    expect(opened).toBe(false);
    expect(err).not.toBeInstanceOf(WatchStallError);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(categorize(err)).toMatchObject({ category: 'unreachable' });
    expect(client.stats.watchesOpen).toBe(0);
  });

  it('an accepted watch that stays quiet ends with a WatchStallError, not a network error', async () => {
    const client = await clientFor((res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
    });
    const { opened, err } = await watchOnce(client, 200, 60_000);
    expect(opened).toBe(true);
    expect(err).toBeInstanceOf(WatchStallError);
    expect(categorize(err).category).not.toBe('unreachable');
    expect(client.stats.watchesOpen).toBe(0);
  });
});
