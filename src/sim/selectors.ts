// Label and field selectors with the API server's syntax.
import type { KubeObject } from '../core/types.js';
import { ApiError } from './errors.js';

export type Matcher = (obj: KubeObject) => boolean;

const ALWAYS: Matcher = () => true;

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

/** `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma separated (AND). */
export function parseLabelSelector(sel: string | null | undefined): Matcher {
  if (!sel || !sel.trim()) return ALWAYS;
  const tests = splitTerms(sel).map((term): Matcher => {
    let m: RegExpMatchArray | null;
    const labels = (o: KubeObject) => o.metadata.labels ?? {};
    if ((m = term.match(/^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$/))) {
      const key = m[1]!;
      const neg = m[2] === 'notin';
      const values = new Set(m[3]!.split(',').map((v) => v.trim()));
      return (o) => {
        const v = labels(o)[key];
        return neg ? v === undefined || !values.has(v) : v !== undefined && values.has(v);
      };
    }
    if ((m = term.match(/^([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)$/))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === '!=' ? (o) => labels(o)[key] !== value : (o) => labels(o)[key] === value;
    }
    if ((m = term.match(/^!\s*([^\s!=]+)$/))) {
      const key = m[1]!;
      return (o) => labels(o)[key] === undefined;
    }
    if (/^[^\s!=(),]+$/.test(term)) return (o) => labels(o)[term] !== undefined;
    throw new ApiError(400, 'BadRequest', `unable to parse requirement: invalid label selector: "${sel}"`);
  });
  return (o) => tests.every((t) => t(o));
}

function fieldValue(obj: KubeObject, path: string): string | undefined {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return undefined;
  return String(cur);
}

/**
 * `metadata.name=x,metadata.namespace!=y`. Custom resources support only metadata.name and metadata.namespace;
 * `extraFields` lists what else a type allows (e.g. involvedObject.name for events).
 */
export function parseFieldSelector(sel: string | null | undefined, extraFields: string[] = []): Matcher {
  if (!sel || !sel.trim()) return ALWAYS;
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...extraFields]);
  const tests = splitTerms(sel).map((term): Matcher => {
    const m = term.match(/^([^\s!=]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new ApiError(400, 'BadRequest', `invalid selector: '${sel}'; can't understand '${term}'`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (!allowed.has(field)) throw new ApiError(400, 'BadRequest', `field label not supported: ${field}`);
    return op === '!=' ? (o) => (fieldValue(o, field) ?? '') !== value : (o) => (fieldValue(o, field) ?? '') === value;
  });
  return (o) => tests.every((t) => t(o));
}

export const EVENT_FIELDS = [
  'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
  'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath',
  'reason', 'reportingComponent', 'source', 'type',
];
