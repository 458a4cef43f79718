// Installing and removing the git hooks. An existing hook is never overwritten: it is renamed to
// `<hook>.flux-monitor-chained` (rename keeps its bytes, mode and symlink-ness) and our wrapper runs it first;
// uninstall renames it back. Both operations are idempotent.
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

export const HOOK_NAMES = ['pre-push', 'reference-transaction'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** First-lines marker of the hooks we install. */
export const HOOK_MARKER = '# flux-monitor-hook:';
export const CHAINED_SUFFIX = '.flux-monitor-chained';
const INCLUDE_LINE = '. "$(dirname "$0")/lib/common.sh" # flux-monitor-include';

/** The package's root directory (holds package.json and hooks/), from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'hooks', 'pre-push'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the flux-monitor package (hooks/ next to package.json)');
}

/** The CLI entry point that installed hooks run: package.json's bin, dist/src/cli.cjs of this package (src/launch.ts). */
export function defaultCliPath(): string {
  return join(packageRoot(), 'dist', 'src', 'cli.cjs');
}

export interface HookTarget {
  /** Absolute path of the node binary the hooks run. */
  node: string;
  /** Absolute path of dist/src/cli.cjs. */
  cli: string;
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The text of an installed hook: the template with the shared part inlined and the paths filled in. */
export function renderHook(name: HookName, target: HookTarget, templatesDir = join(packageRoot(), 'hooks')): string {
  const template = readFileSync(join(templatesDir, name), 'utf8');
  const common = readFileSync(join(templatesDir, 'lib', 'common.sh'), 'utf8');
  if (!template.includes(INCLUDE_LINE)) throw new Error(`hooks/${name}: include line missing`);
  return template
    .replace(INCLUDE_LINE, () => common.trimEnd())
    .replace(`fm_node='__FM_NODE__'`, () => `fm_node=${shQuote(target.node)}`)
    .replace(`fm_cli='__FM_CLI__'`, () => `fm_cli=${shQuote(target.cli)}`);
}

/** Whether a hook file is one of ours (looks at the first lines only). */
export function isOurHook(text: string): boolean {
  return text.split('\n', 4).some((l) => l.startsWith(HOOK_MARKER));
}

function readIfFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // absent, dangling symlink, directory...
  }
}

function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes an executable file atomically (temporary file + rename). */
function writeExecutable(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o755, flag: 'wx' });
  chmodSync(tmp, 0o755); // the umask may have removed bits
  renameSync(tmp, path);
}

export type HookActionKind = 'installed' | 'updated' | 'unchanged' | 'chained' | 'restored' | 'removed' | 'absent' | 'skipped';

export interface HookAction {
  hook: HookName;
  path: string;
  action: HookActionKind;
  /** Path of the previous hook that now runs first (install) or that was put back (uninstall). */
  chained?: string;
  note?: string;
}

export interface InstallOptions extends HookTarget {
  /** Replace a stale `.flux-monitor-chained` file when our wrapper was overwritten by another tool. */
  force?: boolean;
  templatesDir?: string;
}

/** Installs (or updates) our hooks in `dir`, chaining any hook already there. */
export function installHooks(dir: string, opts: InstallOptions): HookAction[] {
  mkdirSync(dir, { recursive: true });
  return HOOK_NAMES.map((hook): HookAction => {
    const path = join(dir, hook);
    const chained = path + CHAINED_SUFFIX;
    const text = renderHook(hook, opts, opts.templatesDir);
    const hasChained = present(chained);
    const current = present(path) ? readIfFile(path) : undefined;
    if (current !== undefined && isOurHook(current)) {
      if (current === text) return { hook, path, action: 'unchanged', chained: hasChained ? chained : undefined };
      writeExecutable(path, text);
      return { hook, path, action: 'updated', chained: hasChained ? chained : undefined };
    }
    if (!present(path)) {
      writeExecutable(path, text);
      return { hook, path, action: 'installed', chained: hasChained ? chained : undefined, note: hasChained ? `kept ${chained}` : undefined };
    }
    // A hook that is not ours: move it aside and run it from our wrapper.
    if (hasChained) {
      // Our wrapper was replaced by another tool after an earlier install (husky re-creates its hooks, for one).
      const same = readIfFile(chained) === current;
      if (!same && !opts.force) {
        return {
          hook,
          path,
          action: 'skipped',
          note: `${path} is not ours and ${chained} already exists: compare them, then run install --force to chain the current hook (the older one is dropped)`,
        };
      }
      unlinkSync(chained);
    }
    renameSync(path, chained);
    writeExecutable(path, text);
    return { hook, path, action: 'chained', chained };
  });
}

/** Removes our hooks from `dir` and puts back the hooks they chained, exactly as they were. */
export function uninstallHooks(dir: string): HookAction[] {
  return HOOK_NAMES.map((hook): HookAction => {
    const path = join(dir, hook);
    const chained = path + CHAINED_SUFFIX;
    const current = present(path) ? readIfFile(path) : undefined;
    if (current === undefined || !isOurHook(current)) {
      const note = present(chained) ? `${path} is not a flux-monitor hook; ${chained} left in place` : undefined;
      return { hook, path, action: present(path) ? 'skipped' : 'absent', note };
    }
    if (present(chained)) {
      renameSync(chained, path); // replaces our wrapper atomically
      return { hook, path, action: 'restored', chained };
    }
    unlinkSync(path);
    return { hook, path, action: 'removed' };
  });
}
