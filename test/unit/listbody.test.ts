// ListBodyParser (src/cluster/listbody.ts) gives what JSON.parse of the whole body gives, however it is chunked.
import { describe, expect, it } from 'vitest';
import { ListBodyParser } from '../../src/cluster/listbody.js';
import { mulberry32 } from '../helpers/rng.js';

function parseChunked(text: string, sizes: () => number): unknown {
  const buf = Buffer.from(text, 'utf8');
  const p = new ListBodyParser();
  for (let i = 0; i < buf.length; ) {
    const n = Math.max(1, sizes());
    p.write(buf.subarray(i, i + n));
    i += n;
  }
  return p.end();
}

const item = (i: number) => ({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name: `app-${i}`, namespace: 'flux-system', resourceVersion: String(100 + i), annotations: { 'x/y': '{"items":[1,2]}' } },
  spec: { dependsOn: [{ name: `app-${i - 1}` }], items: [{ a: '[' }, ']'] },
  status: { conditions: [{ type: 'Ready', status: 'True', message: `Applied "revision" \\ main@sha1:${i} — ✓ 🚀 \u2028 ]}` }] },
});

const docs: Record<string, string> = {
  list: JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '42', continue: '' }, items: Array.from({ length: 50 }, (_, i) => item(i)) }),
  pretty: JSON.stringify({ kind: 'List', items: [item(1), item(2)], metadata: { resourceVersion: '7' } }, null, 2),
  empty: '{"kind":"List","items":[],"metadata":{"resourceVersion":"1"}}',
  emptySpaced: '{ "kind" : "List" , "items" : [ ] }',
  nullItems: '{"kind":"List","items":null}',
  scalars: '{"items":[1, "two", null, [3], {"a":{}}]}',
  noItems: '{"kind":"Status","status":"Failure","message":"items [x]"}',
  valueItems: '{"a":"items","b":["items",[1]],"items":[{"x":1}]}',
  notObject: '["items",[1,2]]',
  string: '"items"',
  blank: '  ',
};

describe('ListBodyParser', () => {
  for (const [name, text] of Object.entries(docs)) {
    it(`parses ${name} like JSON.parse, in any chunking`, () => {
      const want = text.trim() ? JSON.parse(text) : undefined;
      expect(parseChunked(text, () => 1 << 20)).toEqual(want);
      expect(parseChunked(text, () => 1)).toEqual(want);
      const r = mulberry32(text.length);
      for (let k = 0; k < 20; k++) expect(parseChunked(text, () => Math.floor(r() * 40))).toEqual(want);
    });
  }

  it('throws on truncated or malformed input, as JSON.parse does', () => {
    const full = docs.list!;
    for (const cut of [1, 10, full.length / 2, full.length - 3, full.length - 1]) {
      expect(() => parseChunked(full.slice(0, Math.floor(cut)), () => 7)).toThrow(SyntaxError);
    }
    expect(() => parseChunked('{"items":[{"a":1},{"b":]}', () => 3)).toThrow(SyntaxError);
    expect(() => parseChunked('{"items":[1,2]', () => 3)).toThrow(SyntaxError);
  });
});
