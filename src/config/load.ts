// Loads and validates `.kiro/hooks/flux-reconciliation-monitor.yaml`. Every problem is reported with its position
// (`file:line:col: message`), so a typo in the hook file is found without guessing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { checkDuration, type DurationSetting } from '../core/duration.js';
import { DEFAULT_CONFIG, VERBOSITIES, type CategorizedError, type CustomKindConfig, type MonitorConfig, type Verbosity } from '../core/types.js';
import { CUSTOM_KIND_PRESETS, isReservedKind, namesCommit } from '../core/custom.js';
import { KINDS } from '../core/kinds.js';

/** Path of the hook file, relative to the repository root. */
export const CONFIG_RELATIVE_PATH = join('.kiro', 'hooks', 'flux-reconciliation-monitor.yaml');

/** The verbosities (core/types.ts), re-exported where the config's other values are. */
export { VERBOSITIES };
export const MONITOR_TYPES: readonly string[] = KINDS.map((k) => k.plural);
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

/**
 * `config.retention`: how much of the session store (docs/sessions.md#retention) is kept. Applied by the detached
 * monitor when a new session starts (pruneStore in src/session/store.ts).
 */
export interface RetentionConfig {
  /** Keep at most this many sessions (their `<id>.json` and `<id>.log`), the newest. */
  sessions: number;
  /** Remove sessions that ended (or were last updated) more than this many days ago. */
  days: number;
  /** Rotate history.jsonl to history.jsonl.1 when it is larger than this many bytes. */
  history_size: number;
}

export const DEFAULT_RETENTION: Readonly<RetentionConfig> = Object.freeze({ sessions: 200, days: 30, history_size: 1024 * 1024 });

/** The limits of each `config.retention` value. */
export const RETENTION_LIMITS = {
  sessions: { min: 1, max: 100_000 },
  days: { min: 1, max: 3650 },
  history_size: { min: 4 * 1024, max: 1024 * 1024 * 1024 },
} as const;

export const RETENTION_KEYS = ['sessions', 'days', 'history_size'] as const;

export interface LoadedConfig {
  config: MonitorConfig;
  /** `config.retention` when the file has it, with the defaults for what it does not say; absent: DEFAULT_RETENTION. */
  retention?: RetentionConfig;
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
        else readConfigBlock(value.items as Pair<YamlNode, YamlNode | null>[], config, out, atNode);
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
  'ci_timeout',
  'polling_interval',
  'verbosity',
  'monitor_types',
  'show_dependencies',
  'auto_reconcile',
  'branches',
  'namespaces',
  'notify',
  'contexts',
  'custom_kinds',
  'otel',
  'fail_fast',
  'fail_fast_grace',
];

/** Keys of the `config` block: MonitorConfig's, and `retention` (kept apart: it is about the store, not a session). */
const CONFIG_BLOCK_KEYS = [...CONFIG_KEYS, 'retention'] as const;

function readConfigBlock(
  pairs: Pair<YamlNode, YamlNode | null>[],
  config: MonitorConfig,
  out: LoadedConfig,
  atNode: (node: unknown, message: string) => void,
): void {
  for (const pair of pairs) {
    const key = keyName(pair);
    const value = pair.value;
    const where = value ?? pair.key;
    if (key === 'retention') {
      out.retention = readRetention(value, atNode);
      continue;
    }
    switch (key as keyof MonitorConfig) {
      case 'timeout':
      case 'ci_timeout':
      case 'polling_interval': {
        // The limits of DURATION_LIMITS (core/duration.ts), the same words as the flags --timeout/--poll-interval.
        const r = checkDuration(durationValue(scalarOf(value)), key as DurationSetting);
        if ('problem' in r) atNode(where, `${key} ${r.problem}`);
        else config[key as 'timeout' | 'ci_timeout' | 'polling_interval'] = r.ms / 1000;
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
      case 'otel': {
        // Only on or off: where the trace goes is the user's environment's choice, never a cloned repository's.
        const v = scalarOf(value);
        if (isMap(value)) {
          const keys = (value.items as Pair<YamlNode, YamlNode | null>[]).map(keyName);
          atNode(value, `otel must be true or false: the endpoint${keys.length ? ` (${keys.join(', ')})` : ''} cannot be set in a repository's file, set OTEL_EXPORTER_OTLP_ENDPOINT in your environment (docs/config.md#opentelemetry)`);
        } else if (typeof v !== 'boolean') atNode(where, `otel must be true or false (got ${describe(v)})`);
        else config.otel = v;
        break;
      }
      case 'show_dependencies':
      case 'auto_reconcile':
      case 'fail_fast': {
        const v = scalarOf(value);
        if (typeof v !== 'boolean') atNode(where, `${key} must be true or false (got ${describe(v)})`);
        else config[key as 'show_dependencies' | 'auto_reconcile' | 'fail_fast'] = v;
        break;
      }
      case 'fail_fast_grace': {
        const r = checkDuration(durationValue(scalarOf(value)), 'fail_fast_grace');
        if ('problem' in r) atNode(where, `${key} ${r.problem}`);
        else config.fail_fast_grace = r.ms / 1000;
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
      case 'custom_kinds': {
        const kinds = readCustomKinds(value, atNode);
        if (kinds) config.custom_kinds = kinds;
        break;
      }
      default:
        atNode(pair.key, `unknown key "config.${key}" (allowed: ${CONFIG_BLOCK_KEYS.join(', ')})`);
    }
  }
}

/** `config.retention`: a mapping of sessions (count), days, history_size (bytes, or `512KB`, `2MB`). */
function readRetention(node: YamlNode | null, atNode: (node: unknown, message: string) => void): RetentionConfig {
  const retention = { ...DEFAULT_RETENTION };
  if (node === null || (isScalar(node) && node.value === null)) return retention;
  if (!isMap(node)) {
    atNode(node, `retention must be a mapping with keys ${RETENTION_KEYS.join(', ')} (got ${describe(scalarOf(node))})`);
    return retention;
  }
  for (const pair of node.items as Pair<YamlNode, YamlNode | null>[]) {
    const key = keyName(pair);
    const v = scalarOf(pair.value);
    const where = pair.value ?? pair.key;
    switch (key as (typeof RETENTION_KEYS)[number]) {
      case 'sessions': {
        const { min, max } = RETENTION_LIMITS.sessions;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) atNode(where, `retention.sessions must be a whole number from ${min} to ${max} (got ${describe(v)})`);
        else retention.sessions = v;
        break;
      }
      case 'days': {
        const { min, max } = RETENTION_LIMITS.days;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) atNode(where, `retention.days must be a number of days from ${min} to ${max} (got ${describe(v)})`);
        else retention.days = v;
        break;
      }
      case 'history_size': {
        const { min, max } = RETENTION_LIMITS.history_size;
        const bytes = byteSize(v);
        if (bytes === undefined || bytes < min || bytes > max) atNode(where, `retention.history_size must be a size from 4KB to 1GB, in bytes or with KB, MB or GB (got ${describe(v)})`);
        else retention.history_size = bytes;
        break;
      }
      default:
        atNode(pair.key, `unknown key "config.retention.${key}" (allowed: ${RETENTION_KEYS.join(', ')})`);
    }
  }
  return retention;
}

/** Bytes from a number or `512KB`, `2MB`, `1GB` (K = 1024; `KiB`, `MiB`, `GiB` and a trailing `B`-less form too). */
function byteSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:(k|m|g)(?:i?b)?|b)?\s*$/i.exec(v);
  if (!m) return undefined;
  const unit = m[2]?.toLowerCase();
  return Math.round(Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1));
}

/** Keys of one `custom_kinds` entry. */
export const CUSTOM_KIND_KEYS = ['preset', 'apiVersion', 'kind', 'plural', 'label_selector', 'annotation', 'condition', 'progressing_reasons', 'wait', 'namespaces'] as const;

const KIND_NAME = /^[A-Z][A-Za-z0-9]{0,62}$/;
const PLURAL_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** `group/version` with a DNS-subdomain group (custom resources always have one). */
const GROUP_VERSION = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/v[0-9]+((alpha|beta)[0-9]+)?$/;
const CONDITION_TYPE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,315}$/;

/**
 * `config.custom_kinds`: a list whose items are a preset name (`tekton-pipelineruns`) or a mapping (a preset
 * and fields that override it, or a whole entry). A single string is accepted as a one-item list.
 */
function readCustomKinds(node: YamlNode | null, atNode: (node: unknown, message: string) => void): CustomKindConfig[] | undefined {
  const presets = Object.keys(CUSTOM_KIND_PRESETS);
  const items: unknown[] = isScalar(node) && typeof node.value === 'string' ? [node] : isSeq(node) ? node.items : [];
  if (!isSeq(node) && !(isScalar(node) && typeof node.value === 'string')) {
    if (node === null || (isScalar(node) && node.value === null)) return [];
    atNode(node, `custom_kinds must be a list of presets (${presets.join(', ')}) or mappings (got ${describe(scalarOf(node))})`);
    return undefined;
  }
  const out: CustomKindConfig[] = [];
  let ok = true;
  const bad = (n: unknown, message: string) => {
    ok = false;
    atNode(n, message);
  };
  const seen = new Map<string, unknown>();
  for (const item of items) {
    let entry: Partial<CustomKindConfig> = {};
    const fields = new Map<string, YamlNode | null>();
    if (isScalar(item) && typeof item.value === 'string') {
      const preset = CUSTOM_KIND_PRESETS[item.value];
      if (!preset) {
        bad(item, `unknown custom kind preset "${item.value}" (presets: ${presets.join(', ')})`);
        continue;
      }
      entry = { ...structuredClone(preset), preset: item.value };
    } else if (isMap(item)) {
      for (const pair of item.items as Pair<YamlNode, YamlNode | null>[]) {
        const k = keyName(pair);
        if (!(CUSTOM_KIND_KEYS as readonly string[]).includes(k)) bad(pair.key, `unknown key "custom_kinds.${k}" (allowed: ${CUSTOM_KIND_KEYS.join(', ')})`);
        else fields.set(k, pair.value);
      }
      if (fields.has('preset')) {
        const v = scalarOf(fields.get('preset'));
        const preset = typeof v === 'string' ? CUSTOM_KIND_PRESETS[v] : undefined;
        if (!preset) {
          bad(fields.get('preset') ?? item, `unknown custom kind preset ${describe(v)} (presets: ${presets.join(', ')})`);
          continue;
        }
        entry = { ...structuredClone(preset), preset: v as string };
      }
    } else {
      bad(item, `custom_kinds items must be a preset name or a mapping (got ${describe(scalarOf(item))})`);
      continue;
    }
    const where = (k: string) => fields.get(k) ?? item;
    const str = (k: string, re?: RegExp, what?: string): string | undefined => {
      if (!fields.has(k)) return undefined;
      const v = scalarOf(fields.get(k));
      if (typeof v !== 'string' || !v.trim() || (re && !re.test(v.trim()))) {
        bad(where(k), `custom_kinds.${k} must be ${what ?? 'a non-empty string'} (got ${describe(v)})`);
        return undefined;
      }
      return v.trim();
    };
    const apiVersion = str('apiVersion', GROUP_VERSION, 'group/version, e.g. tekton.dev/v1');
    if (apiVersion) entry.apiVersion = apiVersion;
    const kind = str('kind', KIND_NAME, 'a kind name, e.g. PipelineRun');
    if (kind) entry.kind = kind;
    const plural = str('plural', PLURAL_NAME, 'a lower-case resource name, e.g. pipelineruns');
    if (plural) entry.plural = plural;
    const selector = str('label_selector');
    if (selector) entry.labelSelector = selector;
    const annotation = str('annotation', /^[^=\s]+=\S+$/, 'key=value, e.g. pipelinesascode.tekton.dev/sha={sha}');
    if (annotation) {
      const i = annotation.indexOf('=');
      entry.annotation = { key: annotation.slice(0, i), value: annotation.slice(i + 1) };
    }
    const condition = str('condition', CONDITION_TYPE, 'a condition type, e.g. Succeeded');
    if (condition) entry.condition = condition;
    if (fields.has('progressing_reasons')) {
      const l = stringList(fields.get('progressing_reasons')!, 'custom_kinds.progressing_reasons', bad);
      if (l) entry.progressingReasons = l.map((i) => i.v);
    }
    if (fields.has('namespaces')) {
      const l = stringList(fields.get('namespaces')!, 'custom_kinds.namespaces', bad);
      if (l) entry.namespaces = [...new Set(l.map((i) => i.v))];
    }
    if (fields.has('wait')) {
      const v = scalarOf(fields.get('wait'));
      if (v === true) entry.wait = Infinity;
      else if (v === false || v === 0) entry.wait = 0;
      else {
        const r = checkDuration(durationValue(v), 'custom_wait');
        if ('ms' in r && r.ms > 0) entry.wait = r.ms / 1000;
        else if ('problem' in r && r.outOfRange) bad(where('wait'), `custom_kinds.wait ${r.problem}`);
        else bad(where('wait'), `custom_kinds.wait must be true, false, a number of seconds or a duration such as 2m (got ${describe(v)})`);
      }
    }
    if (!ok) continue;
    const name = entry.kind ?? 'the entry';
    if (!entry.apiVersion) bad(item, `custom kind ${name} needs apiVersion (group/version)`);
    if (!entry.kind) bad(item, 'a custom kind needs kind (e.g. PipelineRun)');
    else if (isReservedKind(entry.kind)) bad(where('kind'), `custom kind ${entry.kind} is a Flux kind: Flux kinds are always followed`);
    if (!namesCommit(entry.labelSelector) && !namesCommit(entry.annotation?.value)) {
      bad(item, `custom kind ${name} must find the objects of the pushed commit: use {sha} or {short_sha} in label_selector or annotation`);
    }
    if (entry.kind && seen.has(entry.kind)) bad(item, `custom kind ${entry.kind} is listed twice`);
    if (!ok || !entry.apiVersion || !entry.kind) continue;
    seen.set(entry.kind, item);
    out.push({
      ...(entry.preset ? { preset: entry.preset } : {}),
      apiVersion: entry.apiVersion,
      kind: entry.kind,
      ...(entry.plural ? { plural: entry.plural } : {}),
      ...(entry.labelSelector ? { labelSelector: entry.labelSelector } : {}),
      ...(entry.annotation ? { annotation: entry.annotation } : {}),
      ...(entry.condition ? { condition: entry.condition } : {}),
      progressingReasons: entry.progressingReasons ?? [],
      wait: entry.wait ?? DEFAULT_CUSTOM_WAIT,
      namespaces: entry.namespaces ?? [],
    });
  }
  return ok ? out : undefined;
}

/** Seconds the verdict waits for a first object of a custom kind when the entry does not say. */
export const DEFAULT_CUSTOM_WAIT = 60;

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

/** A duration as the hook file holds it (a number of seconds or a duration string), for checkDuration; else undefined. */
function durationValue(v: unknown): number | string | undefined {
  return typeof v === 'number' || typeof v === 'string' ? v : undefined;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isSeq(v)) return 'a list';
  if (isMap(v)) return 'a mapping';
  return typeof v;
}
