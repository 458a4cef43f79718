// In-memory object store of the API simulator: etcd-like global resourceVersion, a bounded window of change
// events for watch resumption, and the write semantics of the API server for custom resources.
import { applyCrdDefaults } from './defaults.js';
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../core/types.js';
import { ApiError } from './errors.js';
import { deepEqual } from './patch.js';
import { qualifiedResource, type ResourceType } from './resources.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A stored object. `obj` is never mutated once stored; `json` is its serialisation without apiVersion. */
export interface Entry {
  type: ResourceType;
  obj: KubeObject;
  json: string;
  rv: number;
}

/** One change, as kept in the history window and fanned out to watchers. */
export interface StoreEvent {
  rv: number;
  type: WatchEventType;
  resource: ResourceType;
  obj: KubeObject;
  json: string;
  /** Watch frames of this event per apiVersion, built on first use. */
  frames?: Map<string, string>;
}

/** `{"apiVersion":...,` + the stored JSON: one serialisation per object, any served version. */
export function withApiVersion(json: string, apiVersion: string): string {
  return `{"apiVersion":${JSON.stringify(apiVersion)},${json.slice(1)}`;
}

export function nowIso(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Everything but metadata and status: what bumps metadata.generation when it changes. */
function specPart(o: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, ...rest } = o;
  return rest;
}

function stripRv(o: KubeObject): KubeObject {
  return { ...o, metadata: { ...o.metadata, resourceVersion: undefined } };
}

export interface WriteOptions {
  /** Keep `status` from the given object on create/update (in-process writes only; REST create drops it). */
  withStatus?: boolean;
  /** Create the namespace when missing (in-process writes only). */
  autoNamespace?: boolean;
}

export class Store {
  /** The global resourceVersion counter (etcd revision). */
  rv = 1;
  /** Events with rv > historyStartRv are all in the window; older ones are gone (410 Expired). */
  historyStartRv = 1;
  private readonly tables = new Map<string, Map<string, Entry>>();
  private readonly sortedKeys = new Map<string, string[]>();
  private history: StoreEvent[] = [];
  private head = 0;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private readonly byKind = new Map<string, ResourceType>();
  private readonly byPlural = new Map<string, ResourceType>();

  constructor(
    readonly types: ResourceType[],
    private readonly historyLimit = 10_000,
  ) {
    for (const t of types) {
      this.byKind.set(t.kind, t);
      this.byPlural.set(t.plural, t);
      this.tables.set(t.plural, new Map());
    }
  }

  typeByKind(kind: string): ResourceType | undefined {
    return this.byKind.get(kind);
  }

  typeByPlural(plural: string): ResourceType | undefined {
    return this.byPlural.get(plural);
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get(type: ResourceType, namespace: string | undefined, name: string): Entry | undefined {
    return this.tables.get(type.plural)!.get(`${type.namespaced ? namespace ?? '' : ''}/${name}`);
  }

  /** Entries of a type, in etcd key order (namespace, then name); within one namespace when given. */
  list(type: ResourceType, namespace?: string): Entry[] {
    const table = this.tables.get(type.plural)!;
    let keys = this.sortedKeys.get(type.plural);
    if (!keys) {
      keys = [...table.keys()].sort();
      this.sortedKeys.set(type.plural, keys);
    }
    if (namespace === undefined || !type.namespaced) return keys.map((k) => table.get(k)!);
    const prefix = `${namespace}/`;
    const out: Entry[] = [];
    for (const k of keys) if (k.startsWith(prefix)) out.push(table.get(k)!);
    return out;
  }

  count(type: ResourceType): number {
    return this.tables.get(type.plural)!.size;
  }

  /** Events after `rv`, or undefined when the window no longer reaches back that far. */
  eventsSince(rv: number): StoreEvent[] | undefined {
    if (rv < this.historyStartRv) return undefined;
    // Binary search for the first event with rv > the requested one.
    let lo = this.head;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  /** Drops the whole history window, as an etcd compaction does: any older resourceVersion is now expired. */
  compact(): void {
    this.history = [];
    this.head = 0;
    this.historyStartRv = this.rv;
  }

  private key(type: ResourceType, o: KubeObject): string {
    return `${type.namespaced ? o.metadata.namespace ?? '' : ''}/${o.metadata.name}`;
  }

  private commit(type: ResourceType, obj: KubeObject, evType: WatchEventType): Entry {
    const table = this.tables.get(type.plural)!;
    const key = this.key(type, obj);
    // Serialise with kind first; apiVersion is prepended per served version.
    const { apiVersion: _a, kind, metadata, ...rest } = obj;
    const json = JSON.stringify({ kind, metadata, ...rest });
    const entry: Entry = { type, obj, json, rv: Number(obj.metadata.resourceVersion) };
    if (evType === 'DELETED') {
      table.delete(key);
      this.sortedKeys.delete(type.plural);
    } else {
      if (!table.has(key)) this.sortedKeys.delete(type.plural);
      table.set(key, entry);
    }
    const ev: StoreEvent = { rv: entry.rv, type: evType, resource: type, obj, json };
    this.history.push(ev);
    if (this.history.length - this.head > this.historyLimit) {
      this.historyStartRv = this.history[this.head]!.rv;
      this.head++;
      if (this.head > this.historyLimit) {
        this.history = this.history.slice(this.head);
        this.head = 0;
      }
    }
    for (const l of this.listeners) l(ev);
    return entry;
  }

  private notFound(type: ResourceType, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, { name, group: type.group, kind: type.plural });
  }

  private validateName(type: ResourceType, name: unknown): string {
    const re = type.kind === 'Namespace' ? DNS_LABEL : DNS_SUBDOMAIN;
    if (typeof name !== 'string' || name === '') {
      throw new ApiError(422, 'Invalid', `${type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, {
        group: type.group, kind: type.kind, causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }],
      });
    }
    if (name.length > 253 || !re.test(name)) {
      const msg = `Invalid value: "${name}": a lowercase RFC 1123 ${type.kind === 'Namespace' ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`;
      throw new ApiError(422, 'Invalid', `${type.kind}${type.group ? '.' + type.group : ''} "${name}" is invalid: metadata.name: ${msg}`, {
        name, group: type.group, kind: type.kind, causes: [{ reason: 'FieldValueInvalid', message: msg, field: 'metadata.name' }],
      });
    }
    return name;
  }

  private requireNamespace(type: ResourceType, namespace: string | undefined, auto: boolean): void {
    if (!type.namespaced) return;
    const nsType = this.byKind.get('Namespace')!;
    if (!namespace) throw new ApiError(400, 'BadRequest', 'the server could not find the requested resource: a namespace is required');
    if (this.get(nsType, undefined, namespace)) return;
    if (!auto) throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    this.create(nsType, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  }

  /** POST semantics: AlreadyExists on a taken name; status dropped for types with a status subresource. */
  create(type: ResourceType, namespace: string | undefined, body: KubeObject, opts: WriteOptions = {}): Entry {
    const meta = { ...(body.metadata ?? {}) } as KubeObject['metadata'] & { generateName?: string };
    if (!meta.name && meta.generateName) meta.name = meta.generateName + Math.random().toString(36).slice(2, 7);
    const name = this.validateName(type, meta.name);
    this.requireNamespace(type, namespace, opts.autoNamespace ?? false);
    if (this.get(type, namespace, name)) {
      throw new ApiError(409, 'AlreadyExists', `${qualifiedResource(type)} "${name}" already exists`, { name, group: type.group, kind: type.plural });
    }
    const { apiVersion: _a, kind: _k, metadata: _m, status, ...rest } = body;
    const metadata: KubeObject['metadata'] & Record<string, unknown> = {
      ...meta,
      name,
      uid: randomUUID(),
      resourceVersion: String(++this.rv),
      creationTimestamp: nowIso(),
    };
    delete metadata.deletionTimestamp;
    if (type.namespaced) metadata.namespace = namespace;
    else delete metadata.namespace;
    if (type.generation) metadata.generation = 1;
    else delete metadata.generation;
    if (type.kind === 'Namespace') metadata.labels = { ...(metadata.labels ?? {}), 'kubernetes.io/metadata.name': name };
    const obj: KubeObject = { apiVersion: '', kind: type.kind, metadata, ...rest };
    if (type.kind === 'Namespace') {
      obj.spec = { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
    } else if (status !== undefined && (opts.withStatus || !type.statusSubresource)) {
      obj.status = status;
    }
    applyCrdDefaults(obj, { created: true });
    return this.commit(type, obj, 'ADDED');
  }

  /**
   * PUT semantics. Main resource: status changes ignored (status subresource), generation bumped when anything
   * but metadata/status changed. `subresource: 'status'`: only status changes. A given resourceVersion must match
   * (409 Conflict); custom resources require one. Unchanged objects are not written (no new resourceVersion).
   */
  update(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    body: KubeObject,
    opts: WriteOptions & { subresource?: 'status'; requireResourceVersion?: boolean } = {},
  ): Entry {
    const old = this.get(type, namespace, name);
    if (!old) throw this.notFound(type, name);
    if (body.metadata?.name !== undefined && body.metadata.name !== name) {
      throw new ApiError(400, 'BadRequest', `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    }
    const givenRv = body.metadata?.resourceVersion;
    if (givenRv === undefined || givenRv === '') {
      if (opts.requireResourceVersion && type.generation) {
        throw new ApiError(422, 'Invalid', `${type.kind}.${type.group} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`, {
          name, group: type.group, kind: type.kind,
          causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: 0x0: must be specified for an update', field: 'metadata.resourceVersion' }],
        });
      }
    } else if (givenRv !== old.obj.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
        name, group: type.group, kind: type.plural,
      });
    }
    const prev = old.obj;
    let next: KubeObject;
    if (opts.subresource === 'status') {
      next = { ...prev, status: body.status };
      if (body.status === undefined) delete next.status;
    } else {
      const { apiVersion: _a, kind: _k, metadata: bm, status: bs, ...rest } = body;
      const meta = { ...(bm ?? {}) } as KubeObject['metadata'] & Record<string, unknown>;
      next = {
        apiVersion: '',
        kind: prev.kind,
        metadata: {
          ...meta,
          name,
          namespace: prev.metadata.namespace,
          uid: prev.metadata.uid,
          creationTimestamp: prev.metadata.creationTimestamp,
          generation: prev.metadata.generation,
          deletionTimestamp: prev.metadata.deletionTimestamp,
        },
        ...rest,
      };
      if (type.kind === 'Namespace') next.metadata.labels = { ...(next.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name };
      applyCrdDefaults(next, { created: false });
      const keepOldStatus = type.statusSubresource && !opts.withStatus;
      const status = keepOldStatus ? prev.status : bs;
      if (status !== undefined) next.status = status;
      if (type.generation && !deepEqual(specPart(prev), specPart(next))) next.metadata.generation = (prev.metadata.generation ?? 0) + 1;
    }
    for (const k of Object.keys(next.metadata) as Array<keyof KubeObject['metadata']>) {
      if (next.metadata[k] === undefined) delete next.metadata[k];
    }
    if (!type.namespaced) delete next.metadata.namespace;
    if (deepEqual(stripRv(prev), stripRv(next))) return old;
    next.metadata.resourceVersion = String(++this.rv);
    const finalizers = (next.metadata as { finalizers?: string[] }).finalizers;
    if (next.metadata.deletionTimestamp && (!finalizers || finalizers.length === 0)) {
      return this.commit(type, next, 'DELETED');
    }
    return this.commit(type, next, 'MODIFIED');
  }

  /**
   * DELETE semantics: an object with finalizers gets a deletionTimestamp (and a generation bump) and stays until
   * they are removed; otherwise it goes at once. Deleting a namespace deletes its objects.
   */
  delete(type: ResourceType, namespace: string | undefined, name: string): Entry {
    const old = this.get(type, namespace, name);
    if (!old) throw this.notFound(type, name);
    if (type.kind === 'Namespace') {
      for (const t of this.types) {
        if (!t.namespaced) continue;
        for (const e of this.list(t, name)) this.forceDelete(e);
      }
      return this.forceDelete(old);
    }
    const finalizers = (old.obj.metadata as { finalizers?: string[] }).finalizers;
    if (finalizers && finalizers.length > 0) {
      if (old.obj.metadata.deletionTimestamp) return old;
      const next: KubeObject = {
        ...old.obj,
        metadata: {
          ...old.obj.metadata,
          deletionTimestamp: nowIso(),
          resourceVersion: String(++this.rv),
          ...(type.generation ? { generation: (old.obj.metadata.generation ?? 0) + 1 } : {}),
        },
      };
      return this.commit(type, next, 'MODIFIED');
    }
    return this.forceDelete(old);
  }

  private forceDelete(e: Entry): Entry {
    const next: KubeObject = { ...e.obj, metadata: { ...e.obj.metadata, resourceVersion: String(++this.rv) } };
    return this.commit(e.type, next, 'DELETED');
  }
}
