// Runs a CommonJS bundle with V8's code cache. Node 20 keeps no compiled code between processes (its compile
// cache is Node ≥ 22.1), so every start compiles the code it loads again. `npm run build` writes, beside the
// bundles of the commands whose start matters (dist/src/chunks/<command>.cjs: the hook helper after each push, the
// detached monitor, `watch --json`, `mcp`, `status --json`, `history`, `version`), the code V8 compiled when it
// loaded each, and for `watch` ran it once (bench/warm-up.ts) (`.cache`); the CLI (src/entry.ts, from the bin
// src/launch.ts or from src/cli.ts) runs them with it and skips most of that work (docs/performance.md (i)).
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

/**
 * The CommonJS wrapper Node puts around a module's source (`require('node:module').wrap`), and `__fmImport`: the
 * bundle's `import()` of a package it leaves external (bench/bundle.mjs rewrites each to this), done by this module.
 * Node 20 loses a vm.Script's dynamic-import callback on the functions it takes from a code cache ("A dynamic
 * import callback was not specified"), so the bundle never calls `import()` itself.
 */
const wrap = (source: string) => `(function (exports, require, module, __filename, __dirname, __fmImport) { ${source}\n});`;

const importExternal = (specifier: string): Promise<unknown> => import(specifier);

function compile(file: string, cachedData?: Buffer): vm.Script {
  return new vm.Script(wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
}

function run(script: vm.Script, file: string): Record<string, unknown> {
  const module = { exports: {} as Record<string, unknown> };
  const fn = script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: unknown, f: string, d: string, i: typeof importExternal) => void;
  fn(module.exports, createRequire(file), module, file, dirname(file), importExternal);
  return module.exports;
}

/** Loads the CommonJS bundle `file` with its code cache (`file.cache`) when there is one. */
export function loadWithCodeCache(file: string): CachedLoad {
  const cache = existsSync(`${file}.cache`) ? readFileSync(`${file}.cache`) : undefined;
  const script = compile(file, cache);
  const exports = run(script, file);
  return { exports, cacheAccepted: cache !== undefined && !script.cachedDataRejected };
}

/** Exercises a loaded bundle before its cache is made: runs the command's usual path (bench/warm-up.ts). */
export type Exercise = (exports: Record<string, unknown>) => Promise<void>;

/**
 * Writes `file.cache`: the code V8 compiled while loading the bundle (its modules' top-level code and what that
 * runs) and, with `exercise`, while running it. V8 compiles a function only when it is first called and keeps
 * in a cache made after a run every function compiled so far: `exercise` runs the command once its usual way (the
 * build's warm-up, bench/warm-up.ts), so that what a start calls is read from the cache instead of compiled
 * (docs/performance.md (i)). A cache holds compiled code and the source's own constants, never the values a run
 * computed. Run by `npm run build` in a Node process of its own, under the V8 flags the command runs with (none,
 * or the detached monitor's: bench/bundle.mjs), since V8 takes a cache only under the flags it was made with.
 */
export async function writeCodeCache(file: string, exercise?: Exercise): Promise<number> {
  const script = compile(file);
  const exports = run(script, file);
  if (exercise) await exercise(exports);
  const data = script.createCachedData();
  writeFileSync(`${file}.cache`, data);
  return data.length;
}
