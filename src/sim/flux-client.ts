// Flux-aware helpers over RestClient: served versions from discovery, paths per kind, create-or-update of
// manifests, status writes with conflict retries, and core/v1 Events. Used by the FluxPlayer and setupScenario.
import { randomBytes } from 'node:crypto';
import type { FluxKind, KubeObject } from '../core/types.js';
import { isoNow, type Status } from './flux-status.js';
import { FLUX_GROUPS, FLUX_RESOURCES } from './resources.js';
import { resourcePath, RestError, type RestClient } from './rest.js';

export class FluxNotInstalledError extends Error {}

export class FluxRest {
  private readonly versions = new Map<string, string>();
  /** Write requests made (creates, updates, status writes, deletes, events). */
  writes = 0;

  constructor(readonly client: RestClient) {}

  /** Reads the preferred version of each Flux group; throws FluxNotInstalledError when a group is missing. */
  async discover(): Promise<void> {
    for (const group of Object.values(FLUX_GROUPS)) {
      try {
        const g = await this.client.get<{ preferredVersion?: { version: string } }>(`/apis/${group}`);
        if (!g.preferredVersion?.version) throw new FluxNotInstalledError(`API group ${group} has no preferred version`);
        this.versions.set(group, g.preferredVersion.version);
      } catch (e) {
        if (e instanceof RestError && e.status === 404) throw new FluxNotInstalledError(`Flux API group ${group} is not served (CRDs not installed)`);
        throw e;
      }
    }
  }

  apiVersion(kind: FluxKind): string {
    const g = FLUX_RESOURCES[kind].group;
    const v = this.versions.get(g);
    if (!v) throw new Error('FluxRest.discover() has not run');
    return `${g}/${v}`;
  }

  path(kind: FluxKind, namespace?: string, name?: string): string {
    const r = FLUX_RESOURCES[kind];
    return resourcePath({ group: r.group, version: this.apiVersion(kind).split('/')[1]!, plural: r.plural, namespace, name });
  }

  /** All objects of a kind across namespaces. */
  async list(kind: FluxKind): Promise<KubeObject[]> {
    return (await this.client.list(this.path(kind))).items;
  }

  async get(kind: FluxKind, namespace: string, name: string): Promise<KubeObject | undefined> {
    try {
      return await this.client.get(this.path(kind, namespace, name));
    } catch (e) {
      if (e instanceof RestError && e.status === 404) return undefined;
      throw e;
    }
  }

  async ensureNamespace(name: string): Promise<void> {
    try {
      await this.client.get(`/api/v1/namespaces/${name}`);
      return;
    } catch (e) {
      if (!(e instanceof RestError && e.status === 404)) throw e;
    }
    try {
      this.writes++;
      await this.client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    } catch (e) {
      if (!(e instanceof RestError && e.status === 409)) throw e;
    }
  }

  /**
   * Creates the manifest, or updates spec, labels and annotations of the existing object (keeping its status,
   * finalizers and any reconcile annotation). Returns the stored object.
   */
  async applyManifest(m: KubeObject): Promise<KubeObject> {
    const kind = m.kind as FluxKind;
    const ns = m.metadata.namespace!;
    const body = { ...m, apiVersion: this.apiVersion(kind) };
    delete body.status;
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(kind, ns, m.metadata.name);
      try {
        this.writes++;
        if (!cur) return await this.client.create(this.path(kind, ns), body);
        const next: KubeObject = {
          ...cur,
          metadata: {
            ...cur.metadata,
            labels: { ...(cur.metadata.labels ?? {}), ...(m.metadata.labels ?? {}) },
            annotations: { ...(cur.metadata.annotations ?? {}), ...(m.metadata.annotations ?? {}) },
          },
          spec: m.spec,
        };
        if (Object.keys(next.metadata.labels!).length === 0) delete next.metadata.labels;
        if (Object.keys(next.metadata.annotations!).length === 0) delete next.metadata.annotations;
        return await this.client.replace(this.path(kind, ns, m.metadata.name), next);
      } catch (e) {
        if (e instanceof RestError && (e.status === 409) && attempt < 5) continue;
        throw e;
      }
    }
  }

  /**
   * Read-modify-write of the status through the /status subresource, retrying on conflicts. `mutate` gets the
   * fresh object and returns the new status (or undefined to skip). Resolves undefined if the object is gone.
   */
  async updateStatus(kind: FluxKind, namespace: string, name: string, mutate: (obj: KubeObject) => Status | undefined): Promise<KubeObject | undefined> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(kind, namespace, name);
      if (!cur) return undefined;
      const status = mutate(cur);
      if (status === undefined) return cur;
      try {
        this.writes++;
        return await this.client.replaceStatus(this.path(kind, namespace, name), { ...cur, status });
      } catch (e) {
        if (e instanceof RestError && e.status === 409 && attempt < 5) continue;
        if (e instanceof RestError && e.status === 404) return undefined;
        throw e;
      }
    }
  }

  async delete(kind: FluxKind, namespace: string, name: string): Promise<void> {
    try {
      this.writes++;
      await this.client.delete(this.path(kind, namespace, name));
    } catch (e) {
      if (!(e instanceof RestError && e.status === 404)) throw e;
    }
  }

  /** Records a core/v1 Event for `obj` as a Flux controller does (best effort: errors are swallowed). */
  async event(
    obj: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: string,
    annotations?: Record<string, string>,
  ): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const at = isoNow();
    try {
      this.writes++;
      await this.client.create(`/api/v1/namespaces/${ns}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns, ...(annotations ? { annotations } : {}) },
        involvedObject: {
          apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: ns,
          uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion,
        },
        reason,
        message,
        type,
        source: { component },
        reportingComponent: component,
        reportingInstance: `${component}-sim`,
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      });
    } catch {
      // Events are informational; a failure to record one must not disturb the reconciliation.
    }
  }
}
