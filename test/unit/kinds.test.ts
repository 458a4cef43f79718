// The kind registry (src/core/kinds.ts) is the one place that knows the Flux kinds: every list elsewhere agrees
// with it, and each kind is handled everywhere it has to be.
import { describe, expect, it } from 'vitest';
import { KINDS, kindOfPlural } from '../../src/core/kinds.js';
import { CI_ARTIFACT_KINDS, DEFAULT_CONFIG, FLUX_KINDS, SOURCE_KINDS } from '../../src/core/types.js';
import { MONITOR_TYPES } from '../../src/config/load.js';
import { FLUX_RESOURCES as SIM_RESOURCES } from '../../src/sim/resources.js';
import { FLUX_RESOURCES, pluralOf } from '../../src/cluster/discovery.js';
import { wantedKinds } from '../../src/engine/monitor.js';
import { resumeCommand } from '../../src/core/verdict.js';
import { computeStatus } from '../../src/core/status.js';

describe('the kind registry', () => {
  it('is the source of every kind list', () => {
    expect(FLUX_KINDS).toEqual(KINDS.map((k) => k.kind));
    expect(SOURCE_KINDS).toEqual(['GitRepository', 'OCIRepository', 'HelmRepository', 'HelmChart', 'Bucket', 'ExternalArtifact']);
    expect(CI_ARTIFACT_KINDS).toEqual(['OCIRepository', 'ExternalArtifact']);
    expect(MONITOR_TYPES).toEqual(KINDS.map((k) => k.plural));
    // docs/config.md: the default shows all but externalartifacts (shown when they are the pushed repository's source).
    expect(DEFAULT_CONFIG.monitor_types).toEqual(MONITOR_TYPES.filter((t) => t !== 'externalartifacts'));
    for (const k of KINDS) {
      expect(kindOfPlural(k.plural.toUpperCase())).toBe(k.kind);
      expect(SIM_RESOURCES[k.kind]).toMatchObject({ group: k.group, plural: k.plural, singular: k.singular });
      expect(FLUX_RESOURCES.find((r) => r.kind === k.kind)).toEqual({ kind: k.kind, group: k.group, plural: k.plural, versions: [...k.versions] });
      expect(pluralOf(k.kind)).toBe(k.plural);
    }
  });

  it('gives each kind its flux resume command and reads the kinds correlation needs whatever monitor_types says', () => {
    expect(resumeCommand({ kind: 'HelmChart', namespace: 'apps', name: 'web' })).toBe('flux resume source chart web -n apps');
    expect(resumeCommand({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' })).toBe('flux resume kustomization apps -n flux-system');
    expect(wantedKinds({ ...DEFAULT_CONFIG, monitor_types: ['buckets'] })).toEqual(['GitRepository', 'OCIRepository', 'HelmChart', 'Bucket', 'ExternalArtifact', 'Kustomization', 'HelmRelease']);
  });

  it('every kind has a status judge', () => {
    for (const k of KINDS) {
      const r = computeStatus(
        { apiVersion: `${k.group}/${k.versions[0]}`, kind: k.kind, metadata: { name: 'x', namespace: 'ns', generation: 1 }, status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z' }] } },
        { sha: 'a'.repeat(40), branch: 'main' },
      );
      expect(r.reason, k.kind).not.toBe('UnsupportedKind');
    }
  });
});
