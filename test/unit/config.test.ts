import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { DEFAULT_CONFIG } from '../../src/core/types.js';

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, 'hook.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('reads the design example and fills the other fields with defaults', () => {
    const r = parseConfig(
      [
        'name: "Flux Reconciliation Monitor"',
        'trigger: "post-push"',
        'description: "Monitor Flux reconciliation after git pushes"',
        'enabled: true',
        'config:',
        '  timeout: 300',
        '  verbosity: "normal"',
        '  monitor_types: ["kustomizations", "helmreleases"]',
      ].join('\n'),
      'hook.yaml',
    );
    expect(r.enabled).toBe(true);
    expect(r.name).toBe('Flux Reconciliation Monitor');
    expect(r.config).toEqual({ ...DEFAULT_CONFIG, timeout: 300, verbosity: 'normal', monitor_types: ['kustomizations', 'helmreleases'] });
  });

  it('accepts every key with its type, and durations for the times', () => {
    const r = parseConfig(
      [
        'config:',
        '  timeout: 5m',
        '  ci_timeout: 20m',
        '  polling_interval: 1500ms',
        '  verbosity: verbose',
        '  monitor_types: [gitrepositories, ocirepositories, helmrepositories, helmcharts, buckets, externalartifacts, kustomizations, helmreleases]',
        '  show_dependencies: false',
        '  auto_reconcile: true',
        '  branches: [main, "release/*"]',
        '  namespaces: flux-system',
        '  contexts: [prod-eu, prod-us, prod-eu]',
      ].join('\n'),
      'f',
    );
    expect(r.config.timeout).toBe(300);
    expect(r.config.ci_timeout).toBe(1200);
    expect(r.config.polling_interval).toBe(1.5);
    expect(r.config.verbosity).toBe('verbose');
    expect(r.config.monitor_types).toHaveLength(8);
    expect(r.config.show_dependencies).toBe(false);
    expect(r.config.auto_reconcile).toBe(true);
    expect(r.config.branches).toEqual(['main', 'release/*']);
    expect(r.config.namespaces).toEqual(['flux-system']);
    expect(r.config.contexts).toEqual(['prod-eu', 'prod-us']);
  });

  it('contexts must be a list of non-empty strings', () => {
    expect(errorOf('config:\n  contexts: 3\n').message).toMatch(/contexts must be a list of strings/);
    expect(errorOf('config:\n  contexts: [a, ""]\n').message).toMatch(/contexts items must be non-empty strings/);
    expect(parseConfig('config:\n  contexts: staging\n', 'f').config.contexts).toEqual(['staging']);
  });

  it('ci_timeout defaults to 15 minutes and must be a positive duration', () => {
    expect(DEFAULT_CONFIG.ci_timeout).toBe(900);
    expect(errorOf('config:\n  ci_timeout: -5\n').message).toBe('hook.yaml:2:15: ci_timeout must be a positive number of seconds or a duration such as 90s or 5m (got -5)');
  });

  it('an empty file gives the defaults, enabled', () => {
    expect(parseConfig('', 'f')).toEqual({ config: DEFAULT_CONFIG, enabled: true });
    expect(parseConfig('# only a comment\n', 'f').config).toEqual(DEFAULT_CONFIG);
  });

  it('enabled: false disables the hook', () => {
    expect(parseConfig('enabled: false\n', 'f').enabled).toBe(false);
  });

  it('reports an unknown top-level key at its line and column', () => {
    const e = errorOf('name: x\nenabeld: true\n');
    expect(e.line).toBe(2);
    expect(e.column).toBe(1);
    expect(e.message).toBe('hook.yaml:2:1: unknown key "enabeld" (allowed: name, trigger, description, enabled, config)');
  });

  it('reports an unknown config key with its position inside the block', () => {
    const e = errorOf('config:\n  timeout: 10\n  timout: 20\n');
    expect(e.message).toMatch(/^hook\.yaml:3:3: unknown key "config\.timout"/);
  });

  it('reports wrong types at the value', () => {
    const e = errorOf('enabled: "yes"\nconfig:\n  show_dependencies: 1\n  timeout: soon\n');
    expect(e.problems.map((p) => [p.line, p.column])).toEqual([
      [1, 10],
      [3, 22],
      [4, 12],
    ]);
    expect(e.message).toContain('hook.yaml:1:10: enabled must be true or false (got "yes")');
    expect(e.message).toContain('hook.yaml:3:22: show_dependencies must be true or false (got 1)');
    expect(e.message).toContain('hook.yaml:4:12: timeout must be a positive number of seconds');
  });

  it('rejects zero and negative times', () => {
    expect(errorOf('config:\n  timeout: 0\n').message).toMatch(/^hook\.yaml:2:12: timeout must be a positive/);
    expect(errorOf('config:\n  polling_interval: -2\n').message).toMatch(/^hook\.yaml:2:21: polling_interval must be a positive/);
  });

  it('rejects bad enum values, pointing at the bad item', () => {
    expect(errorOf('config:\n  verbosity: loud\n').message).toBe('hook.yaml:2:14: verbosity must be one of minimal, normal, verbose (got "loud")');
    const e = errorOf('config:\n  monitor_types:\n    - kustomizations\n    - deployments\n');
    expect(e.message).toMatch(/^hook\.yaml:4:7: unknown monitor type "deployments"/);
    expect(errorOf('config:\n  monitor_types: []\n').message).toMatch(/monitor_types must list at least one type/);
  });

  it('rejects a trigger other than post-push and a non-mapping config', () => {
    expect(errorOf('trigger: pre-commit\n').message).toBe('hook.yaml:1:10: trigger must be "post-push" (got "pre-commit")');
    expect(errorOf('config: [1]\n').message).toBe('hook.yaml:1:9: config must be a mapping');
    expect(errorOf('- a\n- b\n').message).toMatch(/^hook\.yaml:1:1: expected a mapping/);
  });

  it('reports YAML syntax errors and duplicate keys with positions', () => {
    const dup = errorOf('enabled: true\nenabled: false\n');
    expect(dup.line).toBe(2);
    expect(dup.message).toMatch(/^hook\.yaml:2:1: /);
    const syntax = errorOf('config:\n  timeout: [1, 2\n');
    expect(syntax.message).toMatch(/^hook\.yaml:\d+:\d+: /);
  });

  it('lists every problem, not only the first', () => {
    const e = errorOf('foo: 1\nconfig:\n  bar: 2\n  verbosity: x\n');
    expect(e.problems).toHaveLength(3);
    expect(e.message.split('\n')).toHaveLength(3);
    expect(e.category).toBe('config');
  });
});

describe('loadConfig', () => {
  it('gives defaults without a file and reads the file of the repository', () => {
    const root = mkdtempSync(join(tmpdir(), 'fm-config-'));
    expect(loadConfig(root)).toEqual({ config: DEFAULT_CONFIG, enabled: true });
    mkdirSync(join(root, '.kiro', 'hooks'), { recursive: true });
    const file = join(root, '.kiro', 'hooks', 'flux-reconciliation-monitor.yaml');
    writeFileSync(file, 'enabled: false\nconfig:\n  timeout: 42\n');
    const r = loadConfig(root);
    expect(r.path).toBe(file);
    expect(r.enabled).toBe(false);
    expect(r.config.timeout).toBe(42);
    writeFileSync(file, 'config:\n  timeout: -1\n');
    expect(() => loadConfig(root)).toThrow(`${file}:2:12: timeout must be a positive`);
  });

  it('the configuration shipped in this repository is valid and complete', () => {
    const r = loadConfig(join(import.meta.dirname, '..', '..'));
    expect(r.path).toBeDefined();
    expect(r.enabled).toBe(true);
    expect(r.name).toBe('Flux Reconciliation Monitor');
  });
});
