// Real-Flux transcripts replayed without Go: every status the real source-, kustomize- and helm-controller
// wrote in a conformance case (test/conformance/, recorded with FLUX_MONITOR_RECORD=1) goes through the status
// model and through the engine, which must reach the verdict and the phases the real run reached.
import { describe, expect, it } from 'vitest';
import { artifactDigestKey, artifactOrigin, computeStatus, originRevision } from '../../src/core/status.js';
import { EXIT_CODES, type KubeObject } from '../../src/core/types.js';
import type { SessionState } from '../../src/core/types.js';
import type { Transcript } from '../conformance/recorder.js';
import { loadTranscripts, monitoredPush, recordedRelation, replay, splitAtPush } from '../helpers/replay.js';

const transcripts = loadTranscripts();

describe('real-Flux transcripts', () => {
  it('there is a transcript for every conformance case, each naming the controller versions', () => {
    expect(transcripts.length).toBeGreaterThanOrEqual(10);
    for (const t of transcripts) {
      expect(Object.keys(t.controllers).sort(), t.case).toEqual(['helm-controller', 'kustomize-controller', 'source-controller']);
      expect(t.entries.length, t.case).toBeGreaterThan(0);
      expect(t.pushes.length, t.case).toBeGreaterThan(0);
    }
  });

  describe.concurrent.each(transcripts.map((t) => [t.case, t] as const))('%s', (_name, t) => {
    it(`the engine reaches the recorded verdict (${t.expected.verdict}) and phases`, async () => {
      const { after } = splitAtPush(t);
      const replayMs = after.reduce((acc, e, i) => acc + Math.min(60, Math.max(0, e.t - (i ? after[i - 1]!.t : monitoredPush(t).t))), 0);
      // A case that ended by its timeout is replayed with a timeout a little past the replay itself.
      const timeoutSec = t.expected.verdict === 'timeout' ? Math.ceil(replayMs / 1000) + 3 : 120;
      const r = await replay(t, { timeoutSec });
      expect(r.summary.verdict).toBe(t.expected.verdict);
      expect(r.summary.exitCode).toBe(EXIT_CODES[t.expected.verdict as keyof typeof EXIT_CODES]);
      // A node that waits on a failed or suspended upstream is blocked, whether the engine saw it Pending or
      // already Waiting (DependencyNotReady) when it decided: that depends on how fast each watch delivered.
      const settled = t.expected.verdict !== 'timeout';
      // Likewise a node superseded by its own newer revision or by its upstream's (which watch came first).
      const norm = (p: { phase: string; reason: string }) =>
        settled && (p.phase === 'Pending' || p.phase === 'Waiting')
          ? { phase: 'blocked', reason: '' }
          : p.phase === 'Superseded'
            ? { phase: p.phase, reason: '' }
            : { phase: p.phase, reason: p.reason };
      const phases: Record<string, { phase: string; reason: string }> = {};
      for (const n of Object.values(r.state.nodes)) if (n.affected) phases[`${n.kind}/${n.name}`] = norm({ phase: n.phase, reason: n.reason });
      const want = Object.fromEntries(Object.entries(t.expected.phases).map(([k, p]) => [k, norm(p)]));
      expect(phases).toEqual(want);
      // And an oracle that is not flux-monitor's own record: what the controllers wrote agrees with the replay.
      expect(disagreements(t, r.state)).toEqual([]);
    });

    it('the status model gives each object its recorded phase from the last status the controllers wrote', () => {
      // The later pushes, placed as the engine's git layer places them: containing the push, or replacing it.
      const push = monitoredPush(t);
      const later = t.pushes.slice(t.pushes.indexOf(push) + 1).map((p) => ({ sha: p.sha, r: recordedRelation(t, push.sha, p.sha).relation }));
      const pushed = { sha: push.sha, branch: t.branch, newer: later.filter((p) => p.r === 'diverged').map((p) => p.sha), through: later.filter((p) => p.r === 'contains').map((p) => p.sha) };
      // The version of each object flux-monitor judged last (Flux may reconcile again right after a verdict).
      const judged = new Map<string, KubeObject>();
      // As the engine does: which commit each OCI artifact was built from, from the artifacts' metadata.
      const origins = new Map<string, string>();
      for (const e of t.entries) {
        const key = artifactDigestKey(e.object.status?.artifact?.revision);
        const origin = originRevision(artifactOrigin(e.object).revision);
        if ((e.object.kind === 'OCIRepository' || e.object.kind === 'ExternalArtifact') && key && origin) origins.set(key, origin);
      }
      for (const e of t.entries) {
        const key = `${e.object.kind}/${e.object.metadata.name}`;
        const rv = t.expected.phases[key]?.resourceVersion;
        if (rv === undefined || e.object.metadata.resourceVersion === rv) judged.set(key, e.object);
      }
      for (const [key, want] of Object.entries(t.expected.phases)) {
        // Blocked and superseded-upstream nodes are the engine's conclusion across objects, not one object's.
        if (want.reason === 'UpstreamSuperseded' || want.phase === 'Waiting' || want.phase === 'Pending') continue;
        const obj = judged.get(key);
        expect(obj, key).toBeDefined();
        expect(computeStatus(obj!, pushed, { origins }).phase, key).toBe(want.phase);
      }
    });
  });
});

/**
 * Where the replayed nodes disagree with what the controllers wrote, read from the recorded statuses alone (not
 * from the verdict flux-monitor gave when the transcript was recorded): a node the replay calls Ready must have a
 * recorded version with Ready=True for its current generation and, for a GitRepository or a Kustomization, the
 * pushed commit (or a later push that contains it) in its artifact or applied revision; a Failed one a version
 * with Ready=False for that reason (Stalled: Stalled=True). Objects not written after the push are judged by
 * their last version.
 */
function disagreements(t: Transcript, state: SessionState): string[] {
  const push = monitoredPush(t);
  const carrying = t.pushes.filter((p) => p.sha === push.sha || recordedRelation(t, push.sha, p.sha).relation === 'contains').map((p) => p.sha.slice(0, 12));
  // An OCI artifact's revision is a digest: the commit it was built from is in the artifact's metadata (as the
  // engine reads it), recorded on the OCIRepository.
  const origins = new Map<string, string>();
  for (const e of t.entries) {
    const k = artifactDigestKey(e.object.status?.artifact?.revision);
    const origin = originRevision(artifactOrigin(e.object).revision);
    if (k && origin) origins.set(k, origin);
  }
  const carries = (rev: unknown): boolean =>
    typeof rev === 'string' && (carrying.some((c) => rev.includes(c)) || (!!artifactDigestKey(rev) && carries(origins.get(artifactDigestKey(rev)!))));
  const cond = (o: KubeObject, type: string) => (o.status?.conditions as Array<{ type: string; status: string; reason?: string }> | undefined)?.find((c) => c.type === type);
  const current = (o: KubeObject) => o.status?.observedGeneration === undefined || o.metadata.generation === undefined || o.status.observedGeneration === o.metadata.generation;
  const out: string[] = [];
  for (const n of Object.values(state.nodes)) {
    if (!n.affected || n.deleted || n.context) continue;
    const key = `${n.kind}/${n.name}`;
    const all = t.entries.filter((e) => e.type !== 'DELETED' && e.object.kind === n.kind && e.object.metadata.name === n.name).map((e) => ({ t: e.t, o: e.object }));
    const since = all.filter((v) => v.t >= push.t).map((v) => v.o);
    const versions = since.length ? since : all.slice(-1).map((v) => v.o);
    let ok = true;
    if (n.phase === 'Ready') {
      ok = versions.some((o) => {
        // A source's stored artifact is what it serves, whatever a later fetch's Ready says (ArtifactStored).
        if ((n.kind === 'GitRepository' || n.kind === 'OCIRepository') && carries(o.status?.artifact?.revision)) return true;
        if (cond(o, 'Ready')?.status !== 'True' || !current(o)) return false;
        if (n.kind === 'GitRepository') return carries(o.status?.artifact?.revision);
        if (n.kind === 'Kustomization') return carries(o.status?.lastAppliedRevision);
        return true;
      });
    } else if (n.phase === 'Failed') {
      ok = versions.some((o) => cond(o, 'Ready')?.status === 'False' && cond(o, 'Ready')?.reason === n.reason);
    } else if (n.phase === 'Stalled') {
      ok = versions.some((o) => cond(o, 'Stalled')?.status === 'True' || (cond(o, 'Ready')?.status === 'False' && cond(o, 'Ready')?.reason === n.reason));
    }
    if (!ok) out.push(`${key}: the replay says ${n.phase} (${n.reason}), no recorded status of the controllers does`);
  }
  return out;
}
