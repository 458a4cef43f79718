// A real OCI registry on loopback for the conformance suite, and CI's `flux push artifact`: both are
// test/flux/bin/oci-tool (test/flux/cmd/oci-tool, built by test/flux/build.sh). The registry is
// go-containerregistry's pkg/registry (in memory, plain HTTP); the push is fluxcd/pkg/oci's Client.Push, the
// call `flux push artifact` makes, so the artifact carries the same annotations
// (org.opencontainers.image.source, .revision, .created) and the same media types.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findFluxDir, ensureFluxBuilt } from './flux-controllers.js';
import { freePort, installExitHook, liveClusters, logTail, Proc, waitFor } from './kube-cluster.js';

const execFileP = promisify(execFile);

export interface OciRegistry {
  /** `127.0.0.1:<port>`: OCIRepository URLs are `oci://<host>/<repository>` (with `spec.insecure: true`). */
  host: string;
  /**
   * Pushes `dir` as a Flux artifact to `oci://<host>/<repository>:<tag>`, as
   * `flux push artifact --source=<source> --revision=<revision>` does; returns the digest URL.
   * Without `revision`, the annotation is written empty, as fluxcd/pkg/oci does.
   */
  push(o: { repository: string; tag: string; dir: string; source: string; revision?: string }): Promise<string>;
  logs(lines?: number): string;
  stop(): Promise<void>;
}

export async function startOciRegistry(opts: { log?: (s: string) => void } = {}): Promise<OciRegistry> {
  await ensureFluxBuilt({ log: opts.log });
  const tool = path.join(findFluxDir(), 'bin', 'oci-tool');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flux-monitor-oci-'));
  const host = `127.0.0.1:${await freePort()}`;
  const proc = new Proc('oci-registry', tool, ['registry', '--addr', host], path.join(dir, 'registry.log'), () => undefined);
  const handle = { kill: () => proc.killSync() };
  liveClusters.add(handle);
  installExitHook();
  proc.start();
  try {
    await waitFor('the OCI registry /v2/', 30_000, async () => {
      const fail = proc.failure();
      if (fail) throw Object.assign(new Error(fail), { fatal: true });
      const r = await fetch(`http://${host}/v2/`);
      return r.ok;
    }, () => logTail(proc.logFile));
  } catch (err) {
    proc.killSync();
    liveClusters.delete(handle);
    throw err;
  }
  return {
    host,
    async push(o) {
      const args = ['push', '--url', `oci://${host}/${o.repository}:${o.tag}`, '--path', o.dir, '--source', o.source, '--revision', o.revision ?? ''];
      const { stdout } = await execFileP(tool, args, { timeout: 60_000 });
      return stdout.trim();
    },
    logs: (lines = 30) => logTail(proc.logFile, lines),
    async stop() {
      await proc.stop(2_000);
      liveClusters.delete(handle);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
