// One package version for `flux-monitor --version` and the MCP server's serverInfo (src/commands/version.ts), found
// from the module's own URL in each layout it runs from: the sources, tsc's dist/src/commands/, the bundle's
// dist/src/cli.js and dist/src/chunks/ (the built CLI itself is checked in test/e2e/mcp.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageVersion } from '../../src/commands/version.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fm-version-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const moduleAt = (...parts: string[]) => {
  mkdirSync(join(dir, ...parts.slice(0, -1)), { recursive: true });
  return pathToFileURL(join(dir, ...parts));
};

describe('packageVersion', () => {
  it('is the version of the package.json of the repository when run from the sources', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(packageVersion()).toBe(pkg.version);
  });

  it('finds flux-monitor’s package.json from tsc’s output, the bundle’s entry and its chunks', () => {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'flux-monitor', version: '9.8.7' }));
    expect(packageVersion(moduleAt('dist', 'src', 'commands', 'version.js'))).toBe('9.8.7');
    expect(packageVersion(moduleAt('dist', 'src', 'cli.js'))).toBe('9.8.7');
    expect(packageVersion(moduleAt('dist', 'src', 'chunks', 'version-ABC.js'))).toBe('9.8.7');
  });

  it('passes over another package’s package.json and unreadable ones on the way up; 0.0.0 when there is none', () => {
    expect(packageVersion(moduleAt('a', 'b', 'c', 'x.js'))).toBe('0.0.0');
    const chunk = moduleAt('dist', 'src', 'chunks', 'x.js');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'flux-monitor', version: '1.2.3' }));
    writeFileSync(join(dir, 'dist', 'package.json'), JSON.stringify({ name: 'something-else', version: '6.6.6' }));
    writeFileSync(join(dir, 'dist', 'src', 'package.json'), '{ not json');
    expect(packageVersion(chunk)).toBe('1.2.3');
  });
});
