// JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as the API server applies them to custom resources.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: objects merge recursively, `null` deletes a key, anything else (arrays too) replaces. Returns a new value. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class PatchError extends Error {}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new PatchError(`invalid JSON pointer "${p}"`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function walk(doc: unknown, tokens: string[]): unknown {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

function arrayIndex(arr: unknown[], t: string, forAdd: boolean): number {
  if (forAdd && t === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(t)) throw new PatchError(`invalid array index "${t}"`);
  const i = Number(t);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new PatchError(`array index ${i} out of bounds`);
  return i;
}

/** RFC 6902 on a clone of `doc`. Throws PatchError when an operation cannot be applied. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be an array of operations');
  let root = structuredClone(doc);
  const put = (tokens: string[], value: unknown, mode: 'add' | 'replace') => {
    if (tokens.length === 0) {
      root = value;
      return;
    }
    const parent = walk(root, tokens.slice(0, -1));
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) {
      const i = arrayIndex(parent, last, mode === 'add');
      if (mode === 'add') parent.splice(i, 0, value);
      else parent[i] = value;
    } else if (isObject(parent)) {
      if (mode === 'replace' && !(last in parent)) throw new PatchError(`replace operation does not apply: doc is missing key: ${last}`);
      parent[last] = value;
    } else {
      throw new PatchError(`doc is missing path: ${'/' + tokens.join('/')}`);
    }
  };
  const remove = (tokens: string[]): unknown => {
    const parent = walk(root, tokens.slice(0, -1));
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) {
      const i = arrayIndex(parent, last, false);
      return parent.splice(i, 1)[0];
    }
    if (isObject(parent) && last in parent) {
      const v = parent[last];
      delete parent[last];
      return v;
    }
    throw new PatchError(`remove operation does not apply: doc is missing path: ${'/' + tokens.join('/')}`);
  };
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw new PatchError('invalid JSON patch operation');
    const op = raw as unknown as JsonPatchOp;
    const tokens = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        put(tokens, structuredClone(op.value), 'add');
        break;
      case 'replace':
        if (tokens.length > 0 && walk(root, tokens) === undefined) throw new PatchError(`replace operation does not apply: doc is missing path: ${op.path}`);
        put(tokens, structuredClone(op.value), 'replace');
        break;
      case 'remove':
        remove(tokens);
        break;
      case 'move': {
        const v = remove(parsePointer(op.from ?? ''));
        put(tokens, v, 'add');
        break;
      }
      case 'copy': {
        const v = walk(root, parsePointer(op.from ?? ''));
        if (v === undefined) throw new PatchError(`copy operation does not apply: doc is missing from path: ${op.from}`);
        put(tokens, structuredClone(v), 'add');
        break;
      }
      case 'test':
        if (!deepEqual(walk(root, tokens), op.value)) throw new PatchError(`testing value ${op.path} failed`);
        break;
      default:
        throw new PatchError(`unknown JSON patch operation "${String(op.op)}"`);
    }
  }
  return root;
}

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

export type { Json };
