// src/cjs-cache.ts runs the hook helper's CommonJS bundle with V8's code cache, written by the build. V8 itself
// checks a cache against the source and its own version: whatever the cache file holds, the bundle runs as its
// source says. These run in a Node process of their own (as the hooks start the CLI: no flags), which is what a
// cache is made for.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const LOADER = pathToFileURL(join(ROOT, 'dist', 'src', 'cjs-cache.js')).href;
const HELPER = join(ROOT, 'dist', 'src', 'chunks', 'hook-helper.cjs');

/** Runs `code` (an ES module) in a fresh `node` with no flags; returns what it printed as JSON. */
function inNode(code: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { loadWithCodeCache, writeCodeCache, codeCacheSupported } from ${JSON.stringify(LOADER)};\n${code}`], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('CommonJS bundles with a code cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cjs-cache-'));
  const file = join(dir, 'bundle.cjs');
  const source = 'const { join } = require("node:path");\nexports.answer = (a, b) => join(String(a), String(b));\nexports.file = __filename;\nexports.dynamic = () => import("node:os").then((m) => typeof m.tmpdir);\n';

  it('a cache made by writeCodeCache is taken, and the bundle runs as its source says (import() included)', () => {
    writeFileSync(file, source);
    const r = inNode(`const made = writeCodeCache(${JSON.stringify(file)}); const l = loadWithCodeCache(${JSON.stringify(file)}); console.log(JSON.stringify({ supported: codeCacheSupported(), made, accepted: l.cacheAccepted, answer: l.exports.answer('a', 'b'), dynamic: await l.exports.dynamic() }));`);
    expect(r).toMatchObject({ answer: join('a', 'b') });
    if (!r.supported) return; // a Node without vm's main-context loader: require() instead, no cache
    expect(r.made).toBeGreaterThan(0);
    expect(r.accepted).toBe(true);
    expect(r.dynamic).toBe('function');
  });

  it('a cache of other sources, or garbage, is rejected: the bundle is compiled and runs as its source says', () => {
    writeFileSync(file, source);
    inNode(`writeCodeCache(${JSON.stringify(file)}); console.log('{}');`);
    // The source changes after the cache was made (a rebuild without its cache step).
    writeFileSync(file, source.replace("join(String(a), String(b))", "String(a) + '+' + String(b)"));
    const changed = inNode(`const l = loadWithCodeCache(${JSON.stringify(file)}); console.log(JSON.stringify({ accepted: l.cacheAccepted, answer: l.exports.answer('a', 'b') }));`);
    expect(changed).toEqual({ accepted: false, answer: 'a+b' });
    writeFileSync(`${file}.cache`, Buffer.from('not a V8 code cache at all, only garbage bytes'.repeat(50)));
    const garbage = inNode(`const l = loadWithCodeCache(${JSON.stringify(file)}); console.log(JSON.stringify({ accepted: l.cacheAccepted, answer: l.exports.answer('a', 'b') }));`);
    expect(garbage).toEqual({ accepted: false, answer: 'a+b' });
  });

  it("the build's hook helper loads with its cache and is the hook command", () => {
    const r = inNode(`const l = loadWithCodeCache(${JSON.stringify(HELPER)}); console.log(JSON.stringify({ supported: codeCacheSupported(), accepted: l.cacheAccepted, name: l.exports.default?.name, usage: l.exports.default?.usage }));`);
    expect(r).toMatchObject({ name: 'hook', usage: 'flux-monitor hook push-done INTENT_FILE' });
    if (r.supported) expect(r.accepted).toBe(true);
    expect(readFileSync(HELPER, 'utf8')).not.toMatch(/import\.meta/);
  });
});
