// An independent recorder of what the real Flux controllers write: one plain watch per Flux kind in a case's
// namespace, through @kubernetes/client-node (not flux-monitor's own cluster layer), keeping every version of
// every object as a transcript entry. Transcripts are saved as fixtures (test/fixtures/transcripts/) and
// replayed through the status model and the engine by the fast suite.
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { KubeObject } from '../../src/core/types.js';

export const FLUX_RESOURCES: Array<{ apiVersion: string; kind: string; plural: string }> = [
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', plural: 'gitrepositories' },
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', plural: 'helmrepositories' },
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmChart', plural: 'helmcharts' },
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', plural: 'ocirepositories' },
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'Bucket', plural: 'buckets' },
  { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', plural: 'kustomizations' },
  { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', plural: 'helmreleases' },
];

export interface TranscriptEntry {
  /** Milliseconds since the recorder started. */
  t: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

export interface Transcript {
  case: string;
  description: string;
  controllers: Record<string, string>;
  kubernetes: string;
  namespace: string;
  /** The repository URL as the transcript writes it (the loopback port is replaced). */
  repoUrl: string;
  branch: string;
  /** Pushes in order: the commit id and what the commit does. */
  /**
   * The commits pushed during the case, in order. `parents` (recorded since the commit-relation cases) is each
   * commit's parents as git had them, so a replay can tell which commit contains which without the repository.
   */
  pushes: Array<{ sha: string; subject: string; t: number; parents?: string[] }>;
  /** The push flux-monitor followed, when it is not the last one (an older push that a newer one superseded). */
  monitored?: string;
  /** What flux-monitor concluded for the last push (verdict, exit code, per-object phases). */
  /** Per object: its phase and reason, and the resourceVersion of the version flux-monitor judged last. */
  expected: { verdict: string; exitCode: number; phases: Record<string, { phase: string; reason: string; resourceVersion?: string }> };
  /** Recorder time (ms) when flux-monitor returned that verdict; later entries show what Flux did afterwards. */
  decidedAt?: number;
  entries: TranscriptEntry[];
}

/** The loopback addresses a transcript replaces: git server and artifact storage URLs, the OCI registry's host:port. */
export interface RecorderPorts {
  git: string;
  storage: string;
  registry?: string;
}

/** Replaces what differs between runs (loopback ports, temp dirs) so transcripts compare and replay. */
export function normalizeText(s: string, ports: RecorderPorts): string {
  const out = ports.registry ? s.split(ports.registry).join('registry.conformance.test') : s;
  return out
    .split(ports.git).join('http://git.conformance.test')
    .split(ports.storage).join('http://storage.conformance.test')
    .replace(/\/tmp\/flux-monitor-[A-Za-z0-9_.-]+/g, '/tmp/…')
    .replace(/\/tmp\/(kustomization|helm|source)-[0-9]+/g, '/tmp/$1-…');
}

/** What the recorder keeps of an object: identity, reconcile annotations, the whole spec and the whole status. */
function slim(o: any): KubeObject {
  const md = o.metadata ?? {};
  if (o.kind === 'Deployment') {
    // Only what the diagnosis reads.
    return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: md.name, namespace: md.namespace, generation: md.generation, resourceVersion: md.resourceVersion }, spec: { replicas: o.spec?.replicas, selector: o.spec?.selector, template: o.spec?.template }, status: structuredClone(o.status ?? {}) } as KubeObject;
  }
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.annotations ?? {})) if (k.startsWith('reconcile.fluxcd.io/')) annotations[k] = v as string;
  // The whole spec: a replay must see every spec change, or the generations it derives would lag behind.
  const spec = structuredClone(o.spec ?? {});
  const status = structuredClone(o.status ?? {});
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: {
      name: md.name,
      namespace: md.namespace,
      uid: md.uid,
      generation: md.generation,
      resourceVersion: md.resourceVersion,
      ...(md.deletionTimestamp ? { deletionTimestamp: md.deletionTimestamp } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec,
    status,
  } as KubeObject;
}

export class Recorder {
  readonly entries: TranscriptEntry[] = [];
  private readonly started = Date.now();
  private readonly aborts: AbortController[] = [];
  private readonly last = new Map<string, string>();

  constructor(
    private readonly kubeconfigPath: string,
    private readonly namespace: string,
    private readonly ports: RecorderPorts,
  ) {}

  async start(): Promise<void> {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    const w = new Watch(kc);
    // The case's Flux objects, and the Flux controllers' Deployments (the controllers-down diagnosis reads them).
    const watched = [
      ...FLUX_RESOURCES.map((r) => `/apis/${r.apiVersion}/namespaces/${this.namespace}/${r.plural}`),
      '/apis/apps/v1/namespaces/flux-system/deployments',
    ];
    await Promise.all(
      watched.map(async (path) => {
        const open = async (): Promise<void> => {
          const ac = await w.watch(
            path,
            { allowWatchBookmarks: false },
            (type, obj) => this.record(type, obj),
            () => {
              // Watches end (server timeout, apiserver restart): reopen while the recorder runs, retrying
              // while the apiserver is away. A reopened watch replays the current objects as ADDED.
              if (!this.stopped) void reopen();
            },
          );
          this.aborts.push(ac);
        };
        const reopen = async (): Promise<void> => {
          while (!this.stopped) {
            try {
              await open();
              return;
            } catch {
              await new Promise((r) => setTimeout(r, 250));
            }
          }
        };
        await open();
      }),
    );
  }

  private stopped = false;

  private record(type: string, obj: any): void {
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
    const object = JSON.parse(normalizeText(JSON.stringify(slim(obj)), this.ports)) as KubeObject;
    const key = `${object.kind}/${object.metadata.namespace}/${object.metadata.name}`;
    // A reopened watch replays ADDED for objects already seen: keep only real changes.
    const sig = `${type === 'DELETED' ? 'D' : ''}${object.metadata.resourceVersion}`;
    if (this.last.get(key) === sig) return;
    this.last.set(key, sig);
    this.entries.push({ t: Date.now() - this.started, type: type as TranscriptEntry['type'], object });
  }

  /** Milliseconds since the recorder started. */
  now(): number {
    return Date.now() - this.started;
  }

  /** The latest recorded version of an object. */
  latest(kind: string, name: string): KubeObject | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const o = this.entries[i]!.object;
      if (o.kind === kind && o.metadata.name === name) return o;
    }
    return undefined;
  }

  /** Waits until every object the API holds now has been recorded at its current resourceVersion. */
  async catchUp(list: (path: string) => Promise<any[]>, ms = 15_000): Promise<void> {
    const paths = FLUX_RESOURCES.map((r) => `/apis/${r.apiVersion}/namespaces/${this.namespace}/${r.plural}`);
    const items = (await Promise.all(paths.map(list))).flat();
    const end = Date.now() + ms;
    for (const item of items) {
      const key = `${item.kind}/${item.metadata.namespace}/${item.metadata.name}`;
      while (this.last.get(key) !== item.metadata.resourceVersion && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
  }
}
