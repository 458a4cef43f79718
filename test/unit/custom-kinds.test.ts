// Custom kinds (config.custom_kinds): parsing and validation of the entries and presets, which objects belong
// to the pushed commit, and the generic status rules (kstatus plus Tekton's Succeeded condition).
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { computeCustomStatus, customSelector, fillTemplate, matchesCustom, slimCustomObject, CUSTOM_KIND_PRESETS } from '../../src/core/custom.js';
import type { CustomKindConfig, KubeObject } from '../../src/core/types.js';

const SHA = 'ABCDEF0123456789abcdef0123456789abcdef01';

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, 'hook.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const kinds = (yaml: string) => parseConfig(`config:\n  custom_kinds:\n${yaml}`, 'hook.yaml').config.custom_kinds;

describe('config.custom_kinds', () => {
  it('is empty by default', () => {
    expect(parseConfig('config:\n  timeout: 10\n', 'hook.yaml').config.custom_kinds).toEqual([]);
  });

  it('enables the Tekton preset by name, as a list item or a single string', () => {
    const expected: CustomKindConfig = {
      preset: 'tekton-pipelineruns',
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      plural: 'pipelineruns',
      labelSelector: 'pipelinesascode.tekton.dev/sha={sha}',
      condition: 'Succeeded',
      progressingReasons: [],
      wait: 60,
      namespaces: [],
    };
    expect(kinds('    - tekton-pipelineruns\n')).toEqual([expected]);
    expect(parseConfig('config:\n  custom_kinds: tekton-pipelineruns\n', 'hook.yaml').config.custom_kinds).toEqual([expected]);
  });

  it('the preset written out in full (docs/config.md) is the preset', () => {
    const full = [
      '    - preset: tekton-pipelineruns',
      '      apiVersion: tekton.dev/v1',
      '      kind: PipelineRun',
      '      plural: pipelineruns',
      '      label_selector: "pipelinesascode.tekton.dev/sha={sha}"',
      '      condition: Succeeded',
      '      progressing_reasons: []',
      '      wait: 60',
      '      namespaces: []',
      '',
    ].join('\n');
    expect(kinds(full)).toEqual(kinds('    - tekton-pipelineruns\n'));
  });

  it('lets an entry override a preset (wait, namespaces)', () => {
    const [k] = kinds('    - preset: tekton-pipelineruns\n      wait: 5m\n      namespaces: [ci, ci-2]\n');
    expect(k).toMatchObject({ kind: 'PipelineRun', wait: 300, namespaces: ['ci', 'ci-2'], labelSelector: 'pipelinesascode.tekton.dev/sha={sha}' });
    expect(kinds('    - preset: tekton-pipelineruns\n      wait: false\n')[0]!.wait).toBe(0);
    expect(kinds('    - preset: tekton-pipelineruns\n      wait: true\n')[0]!.wait).toBe(Infinity);
  });

  it('reads a whole entry (a Konflux Release found by annotation)', () => {
    const [k] = kinds(
      [
        '    - apiVersion: appstudio.redhat.com/v1alpha1',
        '      kind: Release',
        '      annotation: "example.com/commit={sha}"',
        '      label_selector: "appstudio.openshift.io/application=web"',
        '      condition: Released',
        '      progressing_reasons: [Progressing]',
        '      wait: 0',
        '',
      ].join('\n'),
    );
    expect(k).toEqual({
      apiVersion: 'appstudio.redhat.com/v1alpha1',
      kind: 'Release',
      labelSelector: 'appstudio.openshift.io/application=web',
      annotation: { key: 'example.com/commit', value: '{sha}' },
      condition: 'Released',
      progressingReasons: ['Progressing'],
      wait: 0,
      namespaces: [],
    });
  });

  it('the Konflux example of docs/config.md is valid', () => {
    const r = parseConfig(
      [
        'config:',
        '  custom_kinds:',
        '    - tekton-pipelineruns',
        '    - apiVersion: appstudio.redhat.com/v1alpha1',
        '      kind: Release',
        '      label_selector: "pac.test.appstudio.openshift.io/sha={sha}"',
        '      condition: Released',
        '      progressing_reasons: [Progressing]',
        '      wait: 10m                         # releases start after the build pipeline',
        '      namespaces: [my-tenant]',
        '',
      ].join('\n'),
      'hook.yaml',
    );
    expect(r.config.custom_kinds.map((k) => [k.kind, k.wait, k.namespaces])).toEqual([
      ['PipelineRun', 60, []],
      ['Release', 600, ['my-tenant']],
    ]);
  });

  it('reports bad entries with their positions', () => {
    expect(errorOf('config:\n  custom_kinds: [argo-workflows]\n').message).toMatch(/^hook\.yaml:2:18: unknown custom kind preset "argo-workflows" \(presets: tekton-pipelineruns\)/);
    expect(errorOf('config:\n  custom_kinds:\n    - preset: tekton-pipelineruns\n      selector: a=b\n').message).toMatch(/^hook\.yaml:4:7: unknown key "custom_kinds\.selector"/);
    expect(errorOf('config:\n  custom_kinds:\n    - apiVersion: v1\n      kind: Pod\n      label_selector: "x={sha}"\n').message).toMatch(/^hook\.yaml:3:19: custom_kinds\.apiVersion must be group\/version/);
    expect(errorOf('config:\n  custom_kinds:\n    - apiVersion: tekton.dev/v1\n      kind: PipelineRun\n').message).toContain(
      'custom kind PipelineRun must find the objects of the pushed commit: use {sha} or {short_sha} in label_selector or annotation',
    );
    expect(errorOf('config:\n  custom_kinds:\n    - apiVersion: x.io/v1\n      kind: Kustomization\n      label_selector: "x={sha}"\n').message).toContain(
      'custom kind Kustomization is a Flux kind',
    );
    expect(errorOf('config:\n  custom_kinds: [tekton-pipelineruns, tekton-pipelineruns]\n').message).toContain('custom kind PipelineRun is listed twice');
    expect(errorOf('config:\n  custom_kinds:\n    - preset: tekton-pipelineruns\n      wait: soon\n').message).toMatch(/:4:13: custom_kinds\.wait must be true, false/);
    expect(errorOf('config:\n  custom_kinds:\n    - kind: PipelineRun\n      label_selector: "x={sha}"\n').message).toContain('custom kind PipelineRun needs apiVersion');
    expect(errorOf('config:\n  custom_kinds: 3\n').message).toContain('custom_kinds must be a list');
  });
});

describe('which objects belong to the pushed commit', () => {
  const tekton = { ...CUSTOM_KIND_PRESETS['tekton-pipelineruns']! };
  it('fills {sha} (full, lower case) and {short_sha} into the server-side label selector', () => {
    expect(customSelector(tekton, SHA)).toBe('pipelinesascode.tekton.dev/sha=abcdef0123456789abcdef0123456789abcdef01');
    expect(fillTemplate('app=web,commit={short_sha}', SHA)).toBe('app=web,commit=abcdef0');
  });

  it('checks a configured annotation here (servers cannot select on annotations)', () => {
    const c: CustomKindConfig = { apiVersion: 'x.io/v1', kind: 'Release', annotation: { key: 'x.io/sha', value: '{sha}' }, progressingReasons: [], wait: 0, namespaces: [] };
    const obj = (a?: Record<string, string>): KubeObject => ({ apiVersion: 'x.io/v1', kind: 'Release', metadata: { name: 'r', namespace: 'ns', annotations: a } });
    expect(matchesCustom(c, obj({ 'x.io/sha': SHA }), SHA)).toBe(true);
    expect(matchesCustom(c, obj({ 'x.io/sha': '1111111111111111111111111111111111111111' }), SHA)).toBe(false);
    expect(matchesCustom(c, obj(), SHA)).toBe(false);
    expect(matchesCustom(tekton, obj(), SHA)).toBe(true); // label selector only: the server filtered
  });
});

// Statuses as Tekton's controller writes them (tektoncd/pipeline v1.3.0, pkg/reconciler/pipelinerun/resources/
// pipelinerunstate.go GetPipelineConditionStatus, pkg/apis/pipeline/v1/pipelinerun_types.go InitializeConditions;
// Knative's PostProcessReconcile sets status.observedGeneration).
const pipelineRun = (status?: unknown, generation = 1): KubeObject => ({
  apiVersion: 'tekton.dev/v1',
  kind: 'PipelineRun',
  metadata: { name: 'build-x7k2p', namespace: 'ci', generation },
  ...(status === undefined ? {} : { status }),
});
const succeeded = (status: string, reason: string, message: string) => ({
  observedGeneration: 1,
  startTime: '2026-11-27T10:00:00Z',
  conditions: [{ type: 'Succeeded', status, reason, message, lastTransitionTime: '2026-11-27T10:00:05Z' }],
});
const TEKTON = { condition: 'Succeeded' };

describe('computeCustomStatus', () => {
  it('a PipelineRun no controller has touched is Pending', () => {
    expect(computeCustomStatus(pipelineRun(), TEKTON)).toMatchObject({ phase: 'Pending', reason: 'NotReconciled' });
    expect(computeCustomStatus(pipelineRun({}), TEKTON)).toMatchObject({ phase: 'Pending' });
  });

  it('Succeeded Unknown (Started, Running) is Progressing with Tekton’s message', () => {
    expect(computeCustomStatus(pipelineRun(succeeded('Unknown', 'Started', '')), TEKTON)).toMatchObject({ phase: 'Progressing', reason: 'Started' });
    const r = computeCustomStatus(pipelineRun(succeeded('Unknown', 'Running', 'Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 2, Skipped: 0')), TEKTON);
    expect(r).toMatchObject({ phase: 'Progressing', reason: 'Running', message: 'Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 2, Skipped: 0', since: '2026-11-27T10:00:05Z' });
  });

  it('Succeeded True is Ready; Completed (some tasks skipped) too', () => {
    expect(computeCustomStatus(pipelineRun(succeeded('True', 'Succeeded', 'Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0')), TEKTON)).toMatchObject({ phase: 'Ready', reason: 'Succeeded' });
    expect(computeCustomStatus(pipelineRun(succeeded('True', 'Completed', 'Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 1')), TEKTON)).toMatchObject({ phase: 'Ready', reason: 'Completed' });
  });

  it('Succeeded False is Failed with its reason: Failed, PipelineRunTimeout, Cancelled', () => {
    expect(computeCustomStatus(pipelineRun(succeeded('False', 'Failed', 'Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1')), TEKTON)).toMatchObject({ phase: 'Failed', reason: 'Failed' });
    expect(computeCustomStatus(pipelineRun(succeeded('False', 'PipelineRunTimeout', 'PipelineRun "build-x7k2p" failed to finish within "1h0m0s"')), TEKTON)).toMatchObject({
      phase: 'Failed',
      reason: 'PipelineRunTimeout',
      message: 'PipelineRun "build-x7k2p" failed to finish within "1h0m0s"',
    });
    expect(computeCustomStatus(pipelineRun(succeeded('False', 'Cancelled', 'PipelineRun "build-x7k2p" was cancelled')), TEKTON)).toMatchObject({ phase: 'Failed', reason: 'Cancelled' });
  });

  it('finds Succeeded without being told (auto), and sanitises the controller’s message', () => {
    const r = computeCustomStatus(pipelineRun(succeeded('False', 'Failed', 'step \u001b[31mbuild\u001b[0m failed, token ghp_abcdefghijklmnopqrstuvwxyz0123456789')));
    expect(r.phase).toBe('Failed');
    expect(r.message).not.toContain('\u001b');
    expect(r.message).not.toContain('ghp_abcdefghijklmnopqrstuvwxyz0123456789');
  });

  it('a generation the controller has not observed yet is Progressing, whatever the conditions say (kstatus)', () => {
    const r = computeCustomStatus(pipelineRun(succeeded('True', 'Succeeded', ''), 2), TEKTON);
    expect(r).toMatchObject({ phase: 'Progressing', reason: 'LatestGenerationNotObserved', message: 'PipelineRun generation is 2, but latest observed generation is 1' });
  });

  it('kstatus conditions: Stalled=True is Stalled, Reconciling=True Progressing, Ready True/False', () => {
    const obj = (conditions: unknown[]): KubeObject => ({ apiVersion: 'x.io/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'ns', generation: 3 }, status: { observedGeneration: 3, conditions } });
    expect(computeCustomStatus(obj([{ type: 'Stalled', status: 'True', reason: 'InvalidSpec', message: 'bad' }, { type: 'Ready', status: 'False' }]))).toMatchObject({ phase: 'Stalled', reason: 'InvalidSpec' });
    expect(computeCustomStatus(obj([{ type: 'Reconciling', status: 'True', reason: 'Progressing' }, { type: 'Ready', status: 'True' }]))).toMatchObject({ phase: 'Progressing' });
    expect(computeCustomStatus(obj([{ type: 'Ready', status: 'True', reason: 'Done' }]))).toMatchObject({ phase: 'Ready', reason: 'Done' });
    // kstatus: Ready=False cannot be told from a transient state; only Stalled fails.
    expect(computeCustomStatus(obj([{ type: 'Ready', status: 'False', reason: 'Waiting' }]))).toMatchObject({ phase: 'Progressing', reason: 'Waiting' });
    expect(computeCustomStatus(obj([{ type: 'Available', status: 'True' }]))).toMatchObject({ phase: 'Ready', reason: 'Current' });
    expect(computeCustomStatus({ ...obj([]), metadata: { name: 'w', namespace: 'ns', deletionTimestamp: '2026-11-27T10:00:00Z' } })).toMatchObject({ phase: 'Progressing', reason: 'Terminating' });
  });

  it('a configured condition with progressing reasons (Konflux Release: Released False Progressing is running)', () => {
    const release = (status: string, reason: string): KubeObject => ({
      apiVersion: 'appstudio.redhat.com/v1alpha1',
      kind: 'Release',
      metadata: { name: 'r', namespace: 'tenant', generation: 1 },
      status: { conditions: [{ type: 'Validated', status: 'True', reason: 'Succeeded' }, { type: 'Released', status, reason, message: '' }] },
    });
    const rule = { condition: 'Released', progressingReasons: ['Progressing'] };
    expect(computeCustomStatus(release('False', 'Progressing'), rule)).toMatchObject({ phase: 'Progressing', reason: 'Progressing' });
    expect(computeCustomStatus(release('False', 'Failed'), rule)).toMatchObject({ phase: 'Failed', reason: 'Failed' });
    expect(computeCustomStatus(release('True', 'Succeeded'), rule)).toMatchObject({ phase: 'Ready' });
    const noReleased: KubeObject = { ...release('True', 'x'), status: { conditions: [{ type: 'Validated', status: 'True' }] } };
    expect(computeCustomStatus(noReleased, rule)).toMatchObject({ phase: 'Progressing', message: 'waiting for condition Released' });
  });
});

describe('slimCustomObject', () => {
  it('keeps what identifies the object and what the rules read, not the pipeline spec and task list', () => {
    const full: KubeObject = {
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      metadata: { name: 'b', namespace: 'ci', generation: 1, resourceVersion: '42', labels: { a: 'b' }, annotations: { c: 'd' } },
      spec: { pipelineRef: { name: 'build' }, params: [{ name: 'x', value: 'y' }] },
      status: {
        observedGeneration: 1,
        startTime: '2026-11-27T10:00:00Z',
        conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
        pipelineSpec: { tasks: [{ name: 'build' }] },
        childReferences: [{ name: 'b-build' }],
      },
    };
    const slim = slimCustomObject(full);
    expect(slim).toEqual({
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      metadata: { name: 'b', namespace: 'ci', generation: 1, resourceVersion: '42', labels: { a: 'b' }, annotations: { c: 'd' } },
      status: { observedGeneration: 1, startTime: '2026-11-27T10:00:00Z', conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }] },
    });
    expect(computeCustomStatus(slim)).toEqual(computeCustomStatus(full));
    // A status without conditions stays a status (kstatus: current), not "no status".
    const phaseOnly: KubeObject = { ...full, status: { phase: 'Done', nodes: {} } };
    expect(computeCustomStatus(slimCustomObject(phaseOnly))).toEqual(computeCustomStatus(phaseOnly));
  });
});
