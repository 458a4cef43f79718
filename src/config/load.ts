// Loads and validates `.kiro/hooks/flux-reconciliation-monitor.yaml`. Every problem is reported with its position
// (`file:line:col: message`), so a typo in the hook file is found without guessing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { parseDuration } from '../core/duration.js';
import { DEFAULT_CONFIG, type CategorizedError, type MonitorConfig, type Verbosity } from '../core/types.js';

/** Path of the hook file, relative to the repository root. */
export const CONFIG_RELATIVE_PATH = join('.kiro', 'hooks', 'flux-reconciliation-monitor.yaml');

export const VERBOSITIES: readonly Verbosity[] = ['minimal', 'normal', 'verbose'];
export const MONITOR_TYPES = [
  'gitrepositories',
  'ocirepositories',
  'helmrepositories',
  'helmcharts',
  'buckets',
  'kustomizations',
  'helmreleases',
] as const;
/** Values of `config.notify`: desktop notification when a detached monitor ends (src/session/notify.ts). */
export const NOTIFY_MODES: readonly MonitorConfig['notify'][] = ['auto', 'always', 'never'];

export interface ConfigProblem {
  line: number;
  column: number;
  message: string;
}

/** An invalid hook file. `message` lists every problem as `file:line:col: message`, one per line. */
export class ConfigError extends Error implements CategorizedError {
  readonly category = 'config' as const;
  readonly hint: string;
  readonly file: string;
  /** Position of the first problem (1-based). */
  readonly line: number;
  readonly column: number;
  readonly problems: ConfigProblem[];

  constructor(file: string, problems: ConfigProblem[]) {
    super(problems.map((p) => `${file}:${p.line}:${p.column}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
    this.line = problems[0]?.line ?? 1;
    this.column = problems[0]?.column ?? 1;
    this.hint = `fix ${file} (see docs/config.md for the allowed keys)`;
  }
}

export interface LoadedConfig {
  config: MonitorConfig;
  /** `enabled: false` in the hook file disables the git hooks (the commands still work). */
  enabled: boolean;
  /** Absolute path of the file that was read; absent when there is none (defaults apply). */
  path?: string;
  /** `name:` from the file, if any. */
  name?: string;
}

/** Reads the hook file of the repository at `repoRoot`. A missing file gives the defaults. Throws ConfigError. */
export function loadConfig(repoRoot: string): LoadedConfig {
  const path = join(repoRoot, CONFIG_RELATIVE_PATH);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { config: defaults(), enabled: true };
    throw new ConfigError(path, [{ line: 1, column: 1, message: `cannot read: ${(err as Error).message}` }]);
  }
  return { ...parseConfig(text, path), path };
}

function defaults(): MonitorConfig {
  return structuredClone(DEFAULT_CONFIG);
}

const TOP_KEYS = ['name', 'trigger', 'description', 'enabled', 'config'] as const;

/** Validates the text of a hook file. `file` is only used in messages. Throws ConfigError listing every problem. */
export function parseConfig(text: string, file: string): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const at = (offset: number | undefined, message: string) => {
    const pos = lc.linePos(offset ?? 0);
    problems.push({ line: pos.line, column: pos.col, message });
  };
  const atNode = (node: unknown, message: string) => at((node as YamlNode | null)?.range?.[0], message);

  for (const e of doc.errors) at(e.pos[0], e.message.split('\n')[0]!);
  if (problems.length) throw new ConfigError(file, problems);

  const config = defaults();
  const out: LoadedConfig = { config, enabled: true };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return out; // empty file: defaults
  if (!isMap(root)) {
    atNode(root, 'expected a mapping with keys name, trigger, description, enabled, config');
    throw new ConfigError(file, problems);
  }

  for (const pair of root.items as Pair<YamlNode, YamlNode | null>[]) {
    const key = keyName(pair);
    const value = pair.value;
    switch (key) {
      case 'name':
      case 'description': {
        const v = scalarOf(value);
        if (typeof v !== 'string') atNode(value ?? pair.key, `${key} must be a string`);
        else if (key === 'name') out.name = v;
        break;
      }
      case 'trigger': {
        const v = scalarOf(value);
        if (v !== 'post-push') atNode(value ?? pair.key, `trigger must be "post-push" (got ${describe(v)})`);
        break;
      }
      case 'enabled': {
        const v = scalarOf(value);
        if (typeof v !== 'boolean') atNode(value ?? pair.key, `enabled must be true or false (got ${describe(v)})`);
        else out.enabled = v;
        break;
      }
      case 'config':
        if (value === null || (isScalar(value) && value.value === null)) break;
        if (!isMap(value)) atNode(value, 'config must be a mapping');
        else readConfigBlock(value.items as Pair<YamlNode, YamlNode | null>[], config, atNode);
        break;
      default:
        atNode(pair.key, `unknown key "${key}" (allowed: ${TOP_KEYS.join(', ')})`);
    }
  }
  if (problems.length) throw new ConfigError(file, problems);
  return out;
}

const CONFIG_KEYS: readonly (keyof MonitorConfig)[] = [
  'timeout',
  'polling_interval',
  'verbosity',
  'monitor_types',
  'show_dependencies',
  'auto_reconcile',
  'branches',
  'namespaces',
  'notify',
  'contexts',
];

function readConfigBlock(
  pairs: Pair<YamlNode, YamlNode | null>[],
  config: MonitorConfig,
  atNode: (node: unknown, message: string) => void,
): void {
  for (const pair of pairs) {
    const key = keyName(pair);
    const value = pair.value;
    const where = value ?? pair.key;
    switch (key as keyof MonitorConfig) {
      case 'timeout':
      case 'polling_interval': {
        const secs = seconds(scalarOf(value));
        if (secs === undefined) atNode(where, `${key} must be a positive number of seconds or a duration such as 90s or 5m (got ${describe(scalarOf(value))})`);
        else config[key as 'timeout' | 'polling_interval'] = secs;
        break;
      }
      case 'verbosity': {
        const v = scalarOf(value);
        if (typeof v !== 'string' || !(VERBOSITIES as readonly string[]).includes(v)) atNode(where, `verbosity must be one of ${VERBOSITIES.join(', ')} (got ${describe(v)})`);
        else config.verbosity = v as Verbosity;
        break;
      }
      case 'notify': {
        const v = scalarOf(value);
        if (typeof v !== 'string' || !(NOTIFY_MODES as readonly string[]).includes(v)) atNode(where, `notify must be one of ${NOTIFY_MODES.join(', ')} (got ${describe(v)})`);
        else config.notify = v as MonitorConfig['notify'];
        break;
      }
      case 'show_dependencies':
      case 'auto_reconcile': {
        const v = scalarOf(value);
        if (typeof v !== 'boolean') atNode(where, `${key} must be true or false (got ${describe(v)})`);
        else config[key as 'show_dependencies' | 'auto_reconcile'] = v;
        break;
      }
      case 'monitor_types':
      case 'branches':
      case 'namespaces':
      case 'contexts': {
        const items = stringList(value, key, atNode);
        if (!items) break;
        if (key === 'monitor_types') {
          let ok = true;
          items.forEach(({ v, node }) => {
            if (!(MONITOR_TYPES as readonly string[]).includes(v)) {
              ok = false;
              atNode(node, `unknown monitor type "${v}" (allowed: ${MONITOR_TYPES.join(', ')})`);
            }
          });
          if (ok && items.length === 0) atNode(where, 'monitor_types must list at least one type');
          else if (ok) config.monitor_types = [...new Set(items.map((i) => i.v))];
        } else if (key === 'contexts') config.contexts = [...new Set(items.map((i) => i.v))];
        else config[key as 'branches' | 'namespaces'] = items.map((i) => i.v);
        break;
      }
      default:
        atNode(pair.key, `unknown key "config.${key}" (allowed: ${CONFIG_KEYS.join(', ')})`);
    }
  }
}

function keyName(pair: Pair<YamlNode, YamlNode | null>): string {
  const k = scalarOf(pair.key);
  return typeof k === 'string' ? k : String(k);
}

function scalarOf(node: unknown): unknown {
  if (node === null || node === undefined) return null;
  return isScalar(node) ? node.value : node;
}

/** A list of strings; a single string is accepted as a one-item list. Reports and returns undefined when invalid. */
function stringList(
  node: YamlNode | null,
  key: string,
  atNode: (node: unknown, message: string) => void,
): Array<{ v: string; node: unknown }> | undefined {
  if (isScalar(node) && typeof node.value === 'string') return [{ v: node.value, node }];
  if (!isSeq(node)) {
    atNode(node, `${key} must be a list of strings (got ${describe(scalarOf(node))})`);
    return undefined;
  }
  const out: Array<{ v: string; node: unknown }> = [];
  let ok = true;
  for (const item of node.items) {
    const v = scalarOf(item);
    if (typeof v !== 'string' || v.trim() === '') {
      ok = false;
      atNode(item, `${key} items must be non-empty strings (got ${describe(v)})`);
    } else out.push({ v: v.trim(), node: item });
  }
  return ok ? out : undefined;
}

/** Positive seconds from a number or a duration string (`90s`, `5m`, `1h30m`, `1500ms`). */
function seconds(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  try {
    const ms = parseDuration(v);
    return ms > 0 ? ms / 1000 : undefined;
  } catch {
    return undefined;
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isSeq(v)) return 'a list';
  if (isMap(v)) return 'a mapping';
  return typeof v;
}
