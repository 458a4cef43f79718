// Discovery's cost: `discoverFlux` for every Flux kind against an in-process ApiSimulator answering aggregated
// discovery, and answering only the plain group list (an older server), optionally through a loopback TCP proxy
// that delays each chunk (a cluster farther away). 50 rounds after 5 warm-up ones; median and p90.
// `npm run build && node dist/bench/discovery.js [one-way delay in ms]` (docs/performance.md, issue 29).
import net from 'node:net';
import { ClusterClient } from '../src/cluster/client.js';
import { discoverFlux } from '../src/cluster/discovery.js';
import { KINDS } from '../src/core/kinds.js';
import { ApiSimulator } from '../src/sim/server.js';

/** A loopback proxy to `port` that holds each chunk `delayMs` in each direction; returns its URL. */
async function delayingProxy(port: number, delayMs: number): Promise<{ url: string; close(): void }> {
  const proxy = net.createServer((c) => {
    const u = net.connect(port, '127.0.0.1');
    c.on('data', (d) => setTimeout(() => u.write(d), delayMs));
    u.on('data', (d) => setTimeout(() => c.write(d), delayMs));
    c.on('close', () => u.destroy());
    u.on('close', () => c.destroy());
    c.on('error', () => undefined);
    u.on('error', () => undefined);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, close: () => proxy.close() };
}

export async function benchDiscovery(delayMs: number): Promise<Array<{ server: string; requests: number; medianMs: number; p90Ms: number }>> {
  const out = [];
  for (const aggregatedDiscovery of [true, false]) {
    const sim = new ApiSimulator({ aggregatedDiscovery });
    const url = await sim.start();
    const proxy = delayMs > 0 ? await delayingProxy(Number(new URL(url).port), delayMs) : undefined;
    try {
      const client = new ClusterClient({ files: [], contextName: 'sim', server: proxy?.url ?? url, tls: { insecure: true }, auth: { type: 'none' } });
      const wanted = KINDS.map((k) => k.kind);
      const times: number[] = [];
      for (let i = 0; i < 55; i++) {
        const t = process.hrtime.bigint();
        await discoverFlux(client, wanted);
        if (i >= 5) times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      times.sort((a, b) => a - b);
      out.push({ server: aggregatedDiscovery ? 'aggregated discovery' : 'plain group list', requests: client.stats.requests / 55, medianMs: times[25]!, p90Ms: times[45]! });
    } finally {
      proxy?.close();
      await sim.stop();
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const delay = Number(process.argv[2] ?? 0);
  for (const r of await benchDiscovery(Number.isFinite(delay) ? delay : 0)) {
    process.stdout.write(`${r.server}: ${r.requests} request(s), median ${r.medianMs.toFixed(2)} ms, p90 ${r.p90Ms.toFixed(2)} ms (delay ${delay} ms each way)\n`);
  }
}
