// src/cjs-cache.ts runs the hook helper's CommonJS bundle with V8's code cache, written by the build. V8 itself
// checks a cache against the source and its own version: whatever the cache file holds, the bundle runs as its
// source says. These run in a Node process of their own (as the hooks start the CLI: no flags), which is what a
// cache is made for.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DETACHED_NODE_FLAGS } from '../../src/session/spawn.js';
import { CODE_CACHED } from '../../src/entry.js';
import { ApiSimulator } from '../../src/sim/server.js';
import { FLEET_URL } from '../helpers/engine.js';
import { seedFleet } from '../helpers/fleet.js';
import { SHA_OLD } from '../helpers/flux.js';

const execFileP = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const LOADER = pathToFileURL(join(ROOT, 'dist', 'src', 'cjs-cache.js')).href;
const CHUNKS = join(ROOT, 'dist', 'src', 'chunks');

/** Runs `code` (an ES module) in a fresh `node` with no flags; returns what it printed as JSON. */
function inNode(code: string, flags: string[] = []): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', `import { loadWithCodeCache, writeCodeCache } from ${JSON.stringify(LOADER)};\n${code}`], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('CommonJS bundles with a code cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cjs-cache-'));
  const file = join(dir, 'bundle.cjs');
  const source = 'const { join } = require("node:path");\nexports.answer = (a, b) => join(String(a), String(b));\nexports.file = __filename;\nexports.dynamic = () => __fmImport("node:os").then((m) => typeof m.tmpdir);\n';

  it('a cache made by writeCodeCache is taken in another process, and the bundle runs as its source says (its imports of external packages included)', () => {
    writeFileSync(file, source);
    // Made in one process, taken in another, as the build and the CLI do (a second compile in the same process
    // would come from V8's memory, not from the file).
    const made = inNode(`console.log(JSON.stringify({ made: await writeCodeCache(${JSON.stringify(file)}) }));`).made;
    const r = { made, ...inNode(`const l = loadWithCodeCache(${JSON.stringify(file)}); console.log(JSON.stringify({ accepted: l.cacheAccepted, answer: l.exports.answer('a', 'b'), dynamic: await l.exports.dynamic() }));`) };
    expect(r).toMatchObject({ answer: join('a', 'b') });
    expect(r.made).toBeGreaterThan(0);
    expect(r.accepted).toBe(true);
    expect(r.dynamic).toBe('function');
  });

  it('a cache of other sources, or garbage, is rejected: the bundle is compiled and runs as its source says', () => {
    writeFileSync(file, source);
    inNode(`await writeCodeCache(${JSON.stringify(file)}); console.log('{}');`);
    // The source changes after the cache was made (a rebuild without its cache step).
    writeFileSync(file, source.replace("join(String(a), String(b))", "String(a) + '+' + String(b)"));
    const changed = inNode(`const l = loadWithCodeCache(${JSON.stringify(file)}); console.log(JSON.stringify({ accepted: l.cacheAccepted, answer: l.exports.answer('a', 'b') }));`);
    expect(changed).toEqual({ accepted: false, answer: 'a+b' });
    writeFileSync(`${file}.cache`, Buffer.from('not a V8 code cache at all, only garbage bytes'.repeat(50)));
    const garbage = inNode(`const l = loadWithCodeCache(${JSON.stringify(file)}); console.log(JSON.stringify({ accepted: l.cacheAccepted, answer: l.exports.answer('a', 'b') }));`);
    expect(garbage).toEqual({ accepted: false, answer: 'a+b' });
  });

  it('a cache made after an exercise holds the functions the exercise ran, and is taken with them', () => {
    // `work` is compiled only when first called (V8 compiles lazily): a cache made right after loading lacks it.
    const body = Array.from({ length: 400 }, (_, i) => `  t += (x * ${i + 1}) % ${i + 7};`).join('\n');
    const lazy = `exports.work = (x) => {\n  let t = 0;\n${body}\n  return t;\n};\n`;
    writeFileSync(file, lazy);
    const cold = inNode(`console.log(JSON.stringify({ made: await writeCodeCache(${JSON.stringify(file)}) }));`).made as number;
    const warm = inNode(`console.log(JSON.stringify({ made: await writeCodeCache(${JSON.stringify(file)}, async (e) => { e.work(3); }) }));`).made as number;
    // 400 statements of bytecode and constants: kilobytes more, far beyond any noise in the cache's header.
    expect(warm - cold).toBeGreaterThan(4_000);
    const r = inNode(`const l = loadWithCodeCache(${JSON.stringify(file)}); console.log(JSON.stringify({ accepted: l.cacheAccepted, work: l.exports.work(5) }));`);
    const expected = Array.from({ length: 400 }, (_, i) => (5 * (i + 1)) % (i + 7)).reduce((a, b) => a + b, 0);
    expect(r).toEqual({ accepted: true, work: expected });
  });

  it("each of the build's warm-ups (bench/warm-up.ts) runs its command from the bundle to its usual end", () => {
    const warmUps = pathToFileURL(join(ROOT, 'dist', 'bench', 'warm-up.js')).href;
    const names = inNode(`const { WARM_UPS } = await import(${JSON.stringify(warmUps)}); console.log(JSON.stringify({ names: Object.keys(WARM_UPS) }));`).names as string[];
    // Every warm-up is of a code-cached command; watch, the one with a start-up target of its own, has one.
    expect(names).toContain('watch');
    for (const name of names) {
      expect(Object.keys(CODE_CACHED), name).toContain(name);
      // Each throws unless its command ended as it should (watch: exit 0 with a `success` summary).
      const r = inNode(`const { WARM_UPS } = await import(${JSON.stringify(warmUps)}); const l = loadWithCodeCache(${JSON.stringify(join(CHUNKS, `${name}.cjs`))}); await WARM_UPS[${JSON.stringify(name)}](l.exports); console.log(JSON.stringify({ ok: true })); process.exit(0);`);
      expect(r, name).toEqual({ ok: true });
    }
  });

  it("the build's bundles load with their caches, under the flags their command runs with, and are those commands", () => {
    for (const name of Object.keys(CODE_CACHED)) {
      const file = join(CHUNKS, `${name}.cjs`);
      // The detached monitor runs under its own V8 flags (src/session/spawn.ts): its cache is made under them.
      const flags = name === 'run-session' ? [...DETACHED_NODE_FLAGS] : [];
      const r = inNode(`const l = loadWithCodeCache(${JSON.stringify(file)}); console.log(JSON.stringify({ accepted: l.cacheAccepted, name: l.exports.default?.name }));`, flags);
      expect(r, name).toMatchObject({ name, accepted: true });
      expect(readFileSync(file, 'utf8'), name).not.toMatch(/import\.meta/);
    }
  });

  // dist/src/cli.cjs is package.json's bin (src/launch.ts); dist/src/cli.js, the ES module, is what hooks installed
  // before it run, and what the bin hands every other command to.
  it.each(['cli.cjs', 'cli.js'])('the CLI (%s) runs these commands from their bundles with the cache taken (its V8 flags change only after), a live view from the ESM chunks', (entry) => {
    const cli = join(ROOT, 'dist', 'src', entry);
    const dir = mkdtempSync(join(tmpdir(), 'fm-cjs-cli-'));
    const env = { ...process.env, FLUX_MONITOR_DEBUG: '1', HOME: dir, XDG_STATE_HOME: join(dir, 'state'), KUBECONFIG: join(dir, 'missing'), NODE_OPTIONS: '' };
    const stderrOf = (args: string[], flags: string[] = [], input = '') => spawnSync(process.execPath, [...flags, cli, ...args], { cwd: dir, env, input, encoding: 'utf8', timeout: 30_000 }).stderr;
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } }) + '\n';
    const runs = [
      ['status', ['status', '--json'], [], ''],
      ['history', ['history', '--json'], [], ''],
      ['watch', ['watch', '--json', '--revision', 'a'.repeat(40), '--repo-url', 'https://example.com/r.git', '--branch', 'main', '--timeout', '5s'], [], ''],
      ['mcp', ['mcp'], [], initialize],
      ['run-session', ['run-session'], [...DETACHED_NODE_FLAGS], ''],
      ['hook', ['hook', 'push-done', join(dir, 'no-intent')], [], ''],
      ['version', ['--version'], [], ''],
    ] as const;
    expect(runs.map((r) => r[0]).sort()).toEqual(Object.keys(CODE_CACHED).sort());
    for (const [name, args, flags, input] of runs) {
      expect(stderrOf([...args], [...flags], input), name).toContain(`flux-monitor: ${name} from chunks/${name}.cjs, code cache taken`);
    }
    // Without --json, status may draw a live view (Ink, an ES module): it runs from the ESM chunks.
    expect(stderrOf(['status'])).not.toContain('chunks/status.cjs');
  });
});

describe('the bin, dist/src/cli.cjs (src/launch.ts)', () => {
  const run = (cli: string, args: string[], dir: string) =>
    spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, HOME: dir, XDG_STATE_HOME: join(dir, 'state'), NODE_OPTIONS: '', FLUX_MONITOR_DEBUG: '' } });

  it('starts a code-cached command from its bundle alone, without the ES module CLI; everything else it hands to the ES module', () => {
    // A copy of the bin and one command's bundle, without dist/src/cli.js and the ESM chunks beside them.
    const dir = mkdtempSync(join(tmpdir(), 'fm-bin-'));
    const src = join(dir, 'dist', 'src');
    mkdirSync(join(src, 'chunks'), { recursive: true });
    copyFileSync(join(ROOT, 'dist', 'src', 'cli.cjs'), join(src, 'cli.cjs'));
    for (const f of ['history.cjs', 'history.cjs.cache']) copyFileSync(join(CHUNKS, f), join(src, 'chunks', f));
    const history = run(join(src, 'cli.cjs'), ['history', '--json'], dir);
    expect(history.stderr).toBe('');
    expect(history.status).toBe(0);
    expect(JSON.parse(history.stdout)).toEqual([]);
    // `history --help` and `--version` are the ES module's: not there, so the copy cannot answer them.
    for (const args of [['history', '--help'], ['--version']]) {
      const r = run(join(src, 'cli.cjs'), args, dir);
      expect(r.status, args.join(' ')).toBe(3);
      expect(r.stderr, args.join(' ')).toMatch(/^flux-monitor: Cannot find module .*cli\.js/);
    }
    // A bundle that fails to load is one line and exit 3, as any other error of a command, not a crash.
    writeFileSync(join(src, 'chunks', 'history.cjs'), 'throw new Error("a broken bundle");\n');
    const broken = run(join(src, 'cli.cjs'), ['history', '--json'], dir);
    expect({ status: broken.status, stderr: broken.stderr }).toEqual({ status: 3, stderr: 'flux-monitor: a broken bundle\n' });
    // The real bin answers them, as the ES module does.
    const real = join(ROOT, 'dist', 'src', 'cli.cjs');
    for (const args of [['--version'], ['history', '--help'], ['watch', '--json', '--no-such-flag'], ['no-such-command']]) {
      const viaBin = run(real, args, dir);
      const viaEsm = run(join(ROOT, 'dist', 'src', 'cli.js'), args, dir);
      expect({ status: viaBin.status, stdout: viaBin.stdout, stderr: viaBin.stderr }, args.join(' ')).toEqual({ status: viaEsm.status, stdout: viaEsm.stdout, stderr: viaEsm.stderr });
    }
  });
});

describe("V8's flags and Node's own code cache", () => {
  it("watch loads Node's modules for its start before V8's flags change, so Node's code cache of them is taken (none first loaded between the change and the first event)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-flags-'));
    // Records, in the CLI process, which of Node's modules load between setFlagsFromString and the first line out.
    const probe = join(dir, 'probe.cjs');
    writeFileSync(
      probe,
      `const v8 = require('node:v8'); const set = v8.setFlagsFromString; let at = -1;
v8.setFlagsFromString = function (f) { at = process.moduleLoadList.length; return set.call(this, f); };
const write = process.stdout.write.bind(process.stdout); let seen = false;
process.stdout.write = function (c, ...r) { if (!seen && at >= 0) { seen = true; process.stderr.write('PROBE ' + JSON.stringify(process.moduleLoadList.slice(at).filter((m) => m.startsWith('NativeModule '))) + '\\n'); } return write(c, ...r); };\n`,
    );
    const sim = new ApiSimulator();
    await sim.start();
    try {
      const kubeconfig = await sim.writeKubeconfig(join(dir, 'kubeconfig'));
      // The test fleet as Flux left it after SHA_OLD: the watch ends at once with success (exit 0, or this rejects).
      seedFleet(sim);
      const { stderr } = await execFileP(process.execPath, ['--require', probe, join(ROOT, 'dist', 'src', 'cli.cjs'), 'watch', '--json', '--revision', SHA_OLD, '--repo-url', FLEET_URL, '--branch', 'main', '--kubeconfig', kubeconfig, '--timeout', '1m'], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir, XDG_STATE_HOME: join(dir, 'state') },
        encoding: 'utf8',
        timeout: 60_000,
      });
      const line = stderr.split('\n').find((l) => l.startsWith('PROBE '));
      expect(line, stderr).toBeDefined();
      expect(JSON.parse(line!.slice('PROBE '.length))).toEqual([]);
    } finally {
      await sim.stop();
    }
  });
});
