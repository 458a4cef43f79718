// (d) Latency from a status write on the API server to the line that reports it: flux-monitor's `watch --json`
// (a `phase` event) against `kubectl get --watch -o json` (the MODIFIED event), both running as child processes
// on the same simulator in the same run, their stdout timestamped by this process the same way.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, quantile, REPO_URL, SHA_PUSHED_NOT_FETCHED, sleep, spawnLines, startFleet, stopFleet, waitFor, type Fleet } from './lib.js';
import { ks } from '../src/sim/flux-status.js';

export const KUBECTL = '/usr/bin/kubectl';
const execFileP = promisify(execFile);

export interface LatencyResult {
  requested: number;
  objects: number;
  samples: number;
  ours: { p50: number; p95: number; max: number; missed: number };
  kubectl?: { p50: number; p95: number; max: number; missed: number };
  /** Why kubectl was not measured, when it was not. */
  kubectlProblem?: string;
  kubectlVersion?: string;
}

/** Splits a stream of concatenated JSON values (kubectl pretty-prints each one over many lines). */
export function jsonStream(onValue: (text: string) => void): (chunk: string) => void {
  let buf = '';
  let depth = 0;
  let inStr = false;
  let esc = false;
  let start = -1;
  let scanned = 0;
  return (chunk) => {
    buf += chunk;
    for (let i = scanned; i < buf.length; i++) {
      const c = buf[i]!;
      if (inStr) {
        if (esc) esc = false;
        else if (c === '\\') esc = true;
        else if (c === '"') inStr = false;
        continue;
      }
      if (c === '"') inStr = true;
      else if (c === '{') {
        if (depth++ === 0) start = i;
      } else if (c === '}' && --depth === 0) {
        onValue(buf.slice(start, i + 1));
        buf = buf.slice(i + 1);
        i = -1;
      }
    }
    scanned = buf.length;
  };
}

/** Whether kubectl can talk to the simulator (asynchronously: the simulator runs in this very process). */
async function kubectlCheck(kubeconfig: string): Promise<{ ok: true; version: string } | { ok: false; problem: string }> {
  if (!existsSync(KUBECTL)) return { ok: false, problem: `${KUBECTL} not found` };
  try {
    const v = JSON.parse((await execFileP(KUBECTL, ['version', '--client', '-o', 'json'])).stdout) as { clientVersion?: { gitVersion?: string } };
    await execFileP(KUBECTL, ['--kubeconfig', kubeconfig, 'get', 'kustomizations.kustomize.toolkit.fluxcd.io', '-A', '-o', 'name'], { timeout: 60_000 });
    return { ok: true, version: v.clientVersion?.gitVersion ?? 'unknown' };
  } catch (err) {
    return { ok: false, problem: `kubectl does not work against the simulator: ${String((err as { stderr?: string }).stderr || err).split('\n')[0]}` };
  }
}

const summary = (xs: number[], missed: number) => ({ p50: quantile(xs, 0.5), p95: quantile(xs, 0.95), max: Math.max(...xs), missed });

export async function benchLatency(sizes: number[], samples: number): Promise<LatencyResult[]> {
  const out: LatencyResult[] = [];
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'fm-bench-d-'));
    const kc = join(dir, 'kubeconfig');
    const f = await startFleet(n, kc);
    try {
      out.push(await measure(f, n, kc, dir, samples));
    } finally {
      await stopFleet(f);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

async function measure(f: Fleet, n: number, kc: string, dir: string, samples: number): Promise<LatencyResult> {
  const target = f.kustomizations[0]!;
  const ref = { kind: 'Kustomization', ...target };
  const key = `Kustomization/${target.namespace}/${target.name}`;
  const rev = `main@sha1:${SHA_PUSHED_NOT_FETCHED}`;

  // Ours: every write flips the object between Progressing and Ready for the pushed commit: one phase event each.
  const ours = spawnLines(process.execPath, [CLI, 'watch', '--json', '--revision', SHA_PUSHED_NOT_FETCHED, '--repo-url', REPO_URL, '--branch', 'main', '--kubeconfig', kc, '--timeout', '1h'], { cwd: dir, keep: false });
  let sessionSeen = false;
  const ourTimes: number[] = [];
  ours.onLine((line, t) => {
    if (!sessionSeen) {
      sessionSeen = line.startsWith('{"type":"session"');
      return;
    }
    if (line.startsWith('{"type":"phase"') && line.includes(`"key":${JSON.stringify(key)}`)) ourTimes.push(t);
  });

  const check = await kubectlCheck(kc);
  let kubectl: ReturnType<typeof spawnLines> | undefined;
  const kubeTimes = new Map<string, number>();
  let kubeInitial = 0;
  if (check.ok) {
    kubectl = spawnLines(KUBECTL, ['--kubeconfig', kc, 'get', 'kustomizations.kustomize.toolkit.fluxcd.io', '-A', '--watch', '-o', 'json', '--output-watch-events'], { cwd: dir, keep: false });
    const feed = jsonStream((text) => {
      const t = performance.now();
      const ev = JSON.parse(text) as { type?: string; object?: { items?: unknown[]; metadata?: { name?: string; namespace?: string; resourceVersion?: string } } };
      const m = ev.object?.metadata;
      // The initial list comes in chunks of 500 (kubectl's --chunk-size), each printed as one ADDED "List".
      if (ev.type === 'ADDED') kubeInitial += Array.isArray(ev.object?.items) ? ev.object.items.length : 1;
      else if (ev.type === 'MODIFIED' && m?.name === target.name && m.namespace === target.namespace && m.resourceVersion) kubeTimes.set(m.resourceVersion, t);
    });
    kubectl.child.stdout!.on('data', (c: string) => feed(c));
  }

  try {
    await waitFor(() => sessionSeen, 60_000, 'the session event of watch --json');
    if (kubectl) await waitFor(() => kubeInitial >= f.kustomizations.length, 60_000, "kubectl's initial list");
    await sleep(500);
    const oursLat: number[] = [];
    const kubeLat: number[] = [];
    let oursMissed = 0;
    let kubeMissed = 0;
    for (let i = 0; i < samples; i++) {
      const cur = f.sim.get(ref)!;
      const status = i % 2 === 0 ? ks.progressing(cur, 'build', rev) : ks.ready(cur, rev, { handled: new Date().toISOString() });
      const seen = ourTimes.length;
      const t0 = performance.now();
      const written = f.sim.setStatus(ref, status);
      const rv = written.metadata.resourceVersion!;
      try {
        await waitFor(() => ourTimes.length > seen && (!kubectl || kubeTimes.has(rv)), 5000, 'both outputs');
      } catch {
        /* counted below as missed */
      }
      if (ourTimes.length > seen) oursLat.push(ourTimes[seen]! - t0);
      else oursMissed++;
      if (kubectl) {
        const kt = kubeTimes.get(rv);
        if (kt !== undefined) kubeLat.push(kt - t0);
        else kubeMissed++;
      }
      // Resynchronise on a miss (an event may still arrive late) and leave a gap between samples.
      await sleep(30);
      if (ourTimes.length > seen + 1) ourTimes.length = seen + 1;
    }
    return {
      requested: n,
      objects: f.objects,
      samples,
      ours: summary(oursLat, oursMissed),
      ...(kubectl ? { kubectl: summary(kubeLat, kubeMissed), kubectlVersion: check.ok ? check.version : undefined } : { kubectlProblem: check.ok ? undefined : check.problem }),
    };
  } finally {
    await ours.kill();
    await kubectl?.kill();
  }
}
