// Runs a CommonJS bundle with V8's code cache. Node 20 keeps no compiled code between processes (its compile
// cache is Node ≥ 22.1), so every start compiles the code it loads again. `npm run build` writes, beside the hook
// helper's bundle (dist/src/chunks/hook-helper.cjs), the code V8 compiled when it loaded it (`.cache`); the helper
// that git's hook starts after each push then skips most of that work (docs/performance.md (i)).
//
// The cache is V8's own format, checked by V8 against the source and the V8 version and flags: a cache made by
// another Node, or for other sources, is rejected and the bundle is compiled as without one. It is written by the
// build only, never at run time, and lives in the package's own directory.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import vm from 'node:vm';

/** What a loaded bundle exports, and whether V8 took the code cache. */
export interface CachedLoad {
  exports: Record<string, unknown>;
  /** true: the cache was used; false: there was none, or V8 rejected it (compiled as usual). */
  cacheAccepted: boolean;
}

/** The CommonJS wrapper Node puts around a module's source (`require('node:module').wrap`). */
const wrap = (source: string) => `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;

/**
 * `import()` inside the bundle (of a package it leaves external) goes to Node's own loader, as in a module that
 * `require()` loaded. Node versions without this option cannot run such a bundle from a vm.Script.
 */
const mainContextLoader = (vm as unknown as { constants?: { USE_MAIN_CONTEXT_DEFAULT_LOADER?: unknown } }).constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;

function compile(file: string, cachedData?: Buffer): vm.Script {
  const importModuleDynamically = mainContextLoader;
  return new vm.Script(wrap(readFileSync(file, 'utf8')), { filename: file, cachedData, ...(importModuleDynamically ? { importModuleDynamically } : {}) } as vm.ScriptOptions);
}

function run(script: vm.Script, file: string): Record<string, unknown> {
  const module = { exports: {} as Record<string, unknown> };
  const fn = script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: unknown, f: string, d: string) => void;
  fn(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/** Whether this Node can run a bundle through loadWithCodeCache (else: `require()` it). */
export function codeCacheSupported(): boolean {
  return mainContextLoader !== undefined;
}

/** Loads the CommonJS bundle `file` with its code cache (`file.cache`) when there is one. */
export function loadWithCodeCache(file: string): CachedLoad {
  if (!codeCacheSupported()) return { exports: createRequire(file)(file) as Record<string, unknown>, cacheAccepted: false };
  const cache = existsSync(`${file}.cache`) ? readFileSync(`${file}.cache`) : undefined;
  const script = compile(file, cache);
  const exports = run(script, file);
  return { exports, cacheAccepted: cache !== undefined && !script.cachedDataRejected };
}

/**
 * Writes `file.cache`: the code V8 compiled while loading the bundle (its modules' top-level code and what that
 * runs). Run by `npm run build` in a Node process of its own, with no flags, as the hooks run the CLI.
 */
export function writeCodeCache(file: string): number {
  const script = compile(file);
  run(script, file);
  const data = script.createCachedData();
  writeFileSync(`${file}.cache`, data);
  return data.length;
}
