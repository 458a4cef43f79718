// Bundles the CLI (`npm run build`, after tsc): src/cli.ts and everything it loads become dist/src/cli.js and a
// few chunks in dist/src/chunks/, replacing tsc's dist/src/cli.js. Node then resolves, reads and compiles a
// handful of files instead of hundreds (yaml alone is ~90 modules, @kubernetes/client-node ~1,000), which is most
// of the CLI's start-up (docs/performance.md, (i)). The `await import()`s of src/cli.ts and of the commands stay
// lazy: each becomes a chunk loaded only by the commands that use it (Ink and React for a live view, the MCP SDK
// and zod for `mcp`, the Kubernetes client for exec plugins and proxies, the simulator for `demo`).
//
// tsc's per-file output stays in dist/ for the benchmarks and the tests that import single modules; what the
// package's bin (dist/src/cli.js), the git hooks and the e2e tests run is this bundle.
//
// Chunks sit two levels under dist/ (dist/src/chunks/), like tsc's dist/src/commands/*.js, so that modules that
// find package.json from their own URL (`new URL('../../../package.json', import.meta.url)`) still find it.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'src');
const chunks = join(outdir, 'chunks');

/**
 * Two modules the MCP SDK imports at its top that `flux-monitor mcp` never calls (Ajv, for elicitation answers;
 * zod-to-json-schema, for zod v3 schemas) resolve to src/commands/mcp-deferred.ts, which loads them on first use:
 * ~30 ms less before `mcp` answers `initialize` (docs/performance.md (i)).
 */
const deferred = join(root, 'src', 'commands', 'mcp-deferred.ts');
const deferMcpDependencies = {
  name: 'defer-mcp-dependencies',
  setup(b) {
    const sdk = `${join('node_modules', '@modelcontextprotocol', 'sdk')}`;
    b.onResolve({ filter: /^\.\.\/validation\/ajv-provider\.js$/ }, (a) => (a.importer.includes(sdk) ? { path: deferred } : undefined));
    b.onResolve({ filter: /^zod-to-json-schema$/ }, (a) => (a.importer.includes(sdk) ? { path: deferred } : undefined));
  },
};

/** What the ESM bundle and the CommonJS bundles below share. */
const COMMON = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Source maps for readable stack traces: `FLUX_MONITOR_DEBUG=1` (src/entry.ts) or `node --enable-source-maps`.
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  // Less to read and parse at every start; keepNames keeps the names of functions and classes (error names, stack
  // traces, and code that reads `.name`) as in the sources.
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  plugins: [deferMcpDependencies],
};
/** Optional packages that are never installed with flux-monitor (required in a try or behind a flag). */
const OPTIONAL = ['react-devtools-core', 'bufferutil', 'utf-8-validate', 'encoding'];

// The list is src/code-cached.ts's CODE_CACHED and the monitor's flags src/session/spawn.ts's, from tsc's output (this
// script runs after tsc).
const { CODE_CACHED } = await import(pathToFileURL(join(root, 'dist', 'src', 'code-cached.js')).href);
const { DETACHED_NODE_FLAGS } = await import(pathToFileURL(join(root, 'dist', 'src', 'session', 'spawn.js')).href);
const CACHED = Object.keys(CODE_CACHED);

const result = await build({
  entryPoints: { cli: 'src/cli.ts' },
  outdir,
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  ...COMMON,
  splitting: true,
  format: 'esm',
  metafile: true,
  external: OPTIONAL,
  // CommonJS dependencies (simple-git, debug, the Kubernetes client's) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __fmCreateRequire } from 'node:module';\nconst require = __fmCreateRequire(import.meta.url);" },
});

// Commands whose start matters most (the hook helper after each push, the detached monitor, `watch --json` in CI,
// `mcp` for agents, `status --json` and `history`) also as one CommonJS file each, with V8's code cache of it beside
// (src/cjs-cache.ts; src/code-cached.ts says when each is run): Node 20 compiles the ESM chunks again at every start.
// Packages these load only on some paths stay external, loaded from node_modules when asked: the Kubernetes client
// (exec plugins) and OpenTelemetry; Ink and React too, which these paths never load (a live view runs from the ESM
// chunks).
const cjsFiles = CACHED.map((name) => join(chunks, `${name}.cjs`));
await Promise.all(
  CACHED.map((name, i) =>
    build({
      ...COMMON,
      entryPoints: [`src/commands/${name}.ts`],
      outfile: cjsFiles[i],
      format: 'cjs',
      external: [...OPTIONAL, '@kubernetes/client-node', '@opentelemetry/*', 'ink', 'react', 'react/*'],
      // Modules find files from their own URL (the package's root, package.json): the bundles sit among the
      // chunks, at the same depth, so that the same relative paths hold.
      define: { 'import.meta.url': '__fmModuleUrl' },
      banner: { js: 'var __fmModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    }),
  ),
);
// package.json's bin, dist/src/cli.cjs (src/launch.ts): CommonJS, so that a code-cached command starts without
// Node's ES module loader; it imports dist/src/cli.js (the ES module above) for everything else.
const launcher = join(outdir, 'cli.cjs');
await build({
  ...COMMON,
  entryPoints: ['src/launch.ts'],
  outfile: launcher,
  format: 'cjs',
  external: [...OPTIONAL, './cli.js'],
  define: { 'import.meta.url': '__fmModuleUrl' },
  banner: { js: 'var __fmModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
});
chmodSync(launcher, 0o755);

// A bundle's `import()` of an external package goes through `__fmImport` (src/cjs-cache.ts: Node 20 drops a
// vm.Script's dynamic-import callback for code taken from a cache). Any other `import(` left would fail there.
for (const file of cjsFiles) {
  const text = readFileSync(file, 'utf8').replace(/\bimport\((["'])(@kubernetes\/client-node|@opentelemetry\/[a-z-]+|ink|react)\1\)/g, '__fmImport($1$2$1)');
  if (/\bimport\(/.test(text)) throw new Error(`bundle: ${relative(root, file)} calls import() on a module other than the external packages __fmImport handles`);
  writeFileSync(file, text);
}

// The code caches, each made by a Node process of its own with the V8 flags the command runs under: none for
// the CLI's commands (src/entry.ts changes its flags only once the command is loaded), the detached monitor's own
// for run-session (DETACHED_NODE_FLAGS). Where bench/warm-up.ts has a warm-up for the command, the command runs
// once before its cache is made, so that the cache holds what a start calls; should that run fail (a machine that
// forbids listening on loopback), the cache is made without it and the build goes on, a few milliseconds slower
// to start (test/unit/cjs-cache.test.ts runs each warm-up).
const loader = pathToFileURL(join(root, 'dist', 'src', 'cjs-cache.js')).href;
const warmUps = pathToFileURL(join(root, 'dist', 'bench', 'warm-up.js')).href;
const { WARM_UPS } = await import(warmUps);
const makeCache = (name, file, warm) => {
  const flags = name === 'run-session' ? DETACHED_NODE_FLAGS : [];
  const code = warm
    ? `import { writeCodeCache } from ${JSON.stringify(loader)}; import { WARM_UPS } from ${JSON.stringify(warmUps)}; await writeCodeCache(${JSON.stringify(file)}, WARM_UPS[${JSON.stringify(name)}]); process.exit(0);`
    : `import { writeCodeCache } from ${JSON.stringify(loader)}; await writeCodeCache(${JSON.stringify(file)}); process.exit(0);`;
  return spawnSync(process.execPath, [...flags, '--input-type=module', '-e', code], { stdio: ['ignore', 'inherit', warm ? 'pipe' : 'inherit'], encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
};
for (const [i, name] of CACHED.entries()) {
  if (WARM_UPS[name]) {
    const warm = makeCache(name, cjsFiles[i], true);
    if (warm.status === 0) continue;
    process.stderr.write(`bundle: warning: the warm-up of ${name} failed; its code cache is made without it:\n${String(warm.stderr).trim().split('\n').slice(0, 5).join('\n')}\n`);
  }
  if (makeCache(name, cjsFiles[i], false).status !== 0) throw new Error(`bundle: could not write the code cache of ${name}.cjs`);
}

// Chunks of earlier builds stay a day: a monitor started before this build (the detached monitor runs for minutes)
// still imports its own chunks lazily (the diagnosis, the Kubernetes client for an exec plugin). Their names are
// content hashes, so they never clash with this build's.
const built = new Set([...Object.keys(result.metafile.outputs).map((f) => relative(chunks, join(root, f))), ...CACHED.flatMap((n) => [`${n}.cjs`, `${n}.cjs.map`, `${n}.cjs.cache`])]);
for (const name of readdirSync(chunks)) {
  const file = join(chunks, name);
  if (!built.has(name) && Date.now() - statSync(file).mtimeMs > 24 * 3600_000) rmSync(file, { force: true });
}

if (process.argv.includes('--verbose')) {
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    process.stdout.write(`${(out.bytes / 1024).toFixed(0).padStart(6)} KiB  ${file}${out.entryPoint ? `  (${out.entryPoint})` : ''}\n`);
  }
}
