// causeLine(): which line of a Flux message carries the cause. The messages come from the transcripts recorded
// from the real controllers (test/fixtures/transcripts/*.json: source-controller v1.9.6, kustomize-controller
// v1.9.6, helm-controller v1.6.2), read from the files so that the shapes stay the controllers' own.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { causeLine, hasMoreThanCause } from '../../src/core/cause.js';

const DIR = resolve(import.meta.dirname, '..', 'fixtures', 'transcripts');

/** The first Ready/Stalled condition message of `file` that matches `re`, as the controller wrote it. */
function recorded(file: string, re: RegExp): string {
  const t = JSON.parse(readFileSync(resolve(DIR, file), 'utf8')) as { entries: Array<{ object?: { status?: { conditions?: Array<{ message?: string }> } } }> };
  for (const e of t.entries) for (const c of e.object?.status?.conditions ?? []) if (c.message && re.test(c.message)) return c.message;
  throw new Error(`no message matching ${re} in ${file}`);
}

describe('causeLine on the controllers\' recorded messages', () => {
  it('kustomize build failed (build-error.json): the resource that failed, not the accumulation wrapper', () => {
    const msg = recorded('build-error.json', /^kustomize build failed/);
    expect(msg).toMatch(/^kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'missing.yaml'/);
    expect(causeLine(msg)).toBe("kustomize build failed: accumulating resources from 'missing.yaml': open infra/missing.yaml: no such file or directory");
    // oci-build-error.json: the same error from an OCIRepository's artifact.
    expect(causeLine(recorded('oci-build-error.json', /^kustomize build failed/))).toBe(
      "kustomize build failed: accumulating resources from 'missing.yaml': open missing.yaml: no such file or directory",
    );
  });

  it('health check failed (health-check.json): what timed out, with the rounded timeout', () => {
    const msg = recorded('health-check.json', /^health check failed after/);
    expect(msg).toBe("health check failed after 30.019469835s: timeout waiting for: [Deployment/c-health-check/web status: 'InProgress']");
    expect(causeLine(msg)).toBe("timeout waiting for: [Deployment/c-health-check/web status: 'InProgress'] (after 30s)");
    // Flux's shorter durations (kustomize-controller formats time.Duration): 2m0s stays as it is.
    expect(causeLine("health check failed after 2m0s: timeout waiting for: [Deployment/apps/web status: 'InProgress']")).toBe(
      "timeout waiting for: [Deployment/apps/web status: 'InProgress'] (after 2m0s)",
    );
  });

  it('Helm upgrade failed (helm-template-error.json, helm-stalled-then-fixed.json): the chart\'s error after the release and chart', () => {
    const tpl = recorded('helm-template-error.json', /^Helm upgrade failed/);
    expect(tpl).toMatch(/^Helm upgrade failed for release c-helm-template-error\/web with chart web@1\.0\.0\+[0-9a-f]+: /);
    expect(causeLine(tpl)).toBe('Helm upgrade failed: execution error at (web/templates/configmap.yaml:1:3): the chart refuses these values');
    const ssa = recorded('helm-stalled-then-fixed.json', /^Helm upgrade failed/);
    expect(causeLine(ssa)).toMatch(/^Helm upgrade failed: failed to create resource: server-side apply failed for object c-helm-stalled-then-fixed\/web-Bad_Name /);
    // Stalled: the status model puts the terse Stalled message before Ready's cause (src/core/status.ts).
    const stalled = recorded('helm-stalled-then-fixed.json', /^Failed to upgrade after/);
    expect(stalled).toBe('Failed to upgrade after 2 attempt(s)');
    expect(causeLine(`${stalled}: ${tpl}`)).toBe(causeLine(tpl));
    // Nothing but the Stalled message: it is the cause line.
    expect(causeLine(stalled)).toBe(stalled);
  });

  it('dry-run failed (dry-run-rejected.json, dependency-failed.json): the object and what the API server rejected, once', () => {
    const invalid = recorded('dry-run-rejected.json', /dry-run failed/);
    expect(invalid).toMatch(/^ConfigMap\/c-dry-run-rejected\/Bad_Name dry-run failed \(Invalid\): ConfigMap "Bad_Name" is invalid: metadata\.name: /);
    expect(causeLine(invalid)).toMatch(/^ConfigMap\/c-dry-run-rejected\/Bad_Name dry-run failed: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
    const patch = recorded('dependency-failed.json', /dry-run failed/);
    expect(patch.endsWith('\n')).toBe(true); // the controller's trailing newline is no second line
    expect(causeLine(patch)).toBe('ConfigMap/c-dependency-failed/infra-config dry-run failed: .data: expected map, got &{[not a map]}');
  });

  it('a source that cannot be fetched (source-fetch-failed.json) and a chart that cannot be found (helm-repository.json) stay whole', () => {
    const fetch = recorded('source-fetch-failed.json', /^failed to checkout/);
    expect(causeLine(fetch)).toBe(fetch);
    const chart = recorded('helm-repository.json', /^invalid chart reference/);
    expect(causeLine(chart)).toBe(chart);
    expect(hasMoreThanCause(chart)).toBe(false);
  });
});

describe('causeLine on messages of several lines', () => {
  // helm-controller's values schema error (the shape the demo's redis upgrade plays, src/sim/scenarios.ts).
  const schema =
    "Failed to upgrade after 1 attempt(s): Helm upgrade failed for release apps/redis with chart redis@20.6.0: values don't meet the specifications of the schema(s) in the following chart(s):\nredis:\n- master.resources.limits.memory: Invalid type. Expected: string, given: integer";

  it('gives the last line, which carries the cause, with the shape\'s short head', () => {
    expect(causeLine(schema)).toBe('Helm upgrade failed: master.resources.limits.memory: Invalid type. Expected: string, given: integer');
    expect(hasMoreThanCause(schema)).toBe(true);
  });

  it('an unknown message of several lines gives its last non-empty line', () => {
    expect(causeLine('something went wrong:\n\n  the real reason  \n\n')).toBe('the real reason');
    expect(causeLine('one\r\ntwo')).toBe('two');
  });

  it('one dry-run line per rejected object: the first, and how many more', () => {
    const msg =
      'Deployment/apps/web dry-run failed (Invalid): Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0\n' +
      'Service/apps/web dry-run failed (Invalid): Service "web" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive\n';
    expect(causeLine(msg)).toBe('Deployment/apps/web dry-run failed: spec.replicas: Invalid value: -1: must be greater than or equal to 0 (+1 more)');
  });

  it('empty and blank messages have no cause line', () => {
    expect(causeLine(undefined)).toBe('');
    expect(causeLine(' \n \n')).toBe('');
    expect(hasMoreThanCause('')).toBe(false);
  });

  it('a health check shorter than a second keeps its tenths (never "after 0s")', () => {
    expect(causeLine("health check failed after 0.75s: timeout waiting for: [Deployment/apps/web status: 'InProgress']")).toBe("timeout waiting for: [Deployment/apps/web status: 'InProgress'] (after 0.8s)");
    expect(causeLine("health check failed after 0.01s: timeout waiting for: [Deployment/apps/web status: 'InProgress']")).toBe("timeout waiting for: [Deployment/apps/web status: 'InProgress'] (after 0.1s)");
  });
});
