// One kubeconfig with several contexts, from single-context kubeconfigs (the simulator's, the real apiserver
// harness's): each file's current context becomes a context named as given, with its own cluster and user.
import { readFile, writeFile } from 'node:fs/promises';
import YAML from 'yaml';

export interface NamedKubeconfig {
  /** The context name in the merged file. */
  context: string;
  /** A kubeconfig whose current context is used (its credentials are inline: *-data fields or a token). */
  file?: string;
  /** Or no file: a cluster at this server that nothing answers on (an unreachable cluster). */
  server?: string;
}

/** Writes a kubeconfig with one context per entry (the first is the current context); returns `out`. */
export async function mergeKubeconfigs(entries: NamedKubeconfig[], out: string): Promise<string> {
  const clusters: unknown[] = [];
  const users: unknown[] = [];
  const contexts: unknown[] = [];
  for (const e of entries) {
    let cluster: Record<string, unknown> = { server: e.server, 'insecure-skip-tls-verify': true };
    let user: Record<string, unknown> = {};
    if (e.file) {
      const cfg = YAML.parse(await readFile(e.file, 'utf8'));
      const ctx = cfg.contexts.find((c: { name: string }) => c.name === cfg['current-context']).context;
      cluster = cfg.clusters.find((c: { name: string }) => c.name === ctx.cluster).cluster;
      user = cfg.users.find((u: { name: string }) => u.name === ctx.user)?.user ?? {};
    }
    clusters.push({ name: `${e.context}-cluster`, cluster });
    users.push({ name: `${e.context}-user`, user });
    contexts.push({ name: e.context, context: { cluster: `${e.context}-cluster`, user: `${e.context}-user` } });
  }
  await writeFile(out, YAML.stringify({ apiVersion: 'v1', kind: 'Config', clusters, users, contexts, 'current-context': entries[0]!.context }), { mode: 0o600 });
  return out;
}
