import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

// Ink colours through chalk, which decides its colour level when first imported: force a level so that this file
// can tell coloured frames from plain ones (test workers have no terminal).
const previous = vi.hoisted(() => {
  const before = process.env.FORCE_COLOR;
  process.env.FORCE_COLOR = '1';
  return before;
});
afterAll(() => {
  if (previous === undefined) delete process.env.FORCE_COLOR;
  else process.env.FORCE_COLOR = previous;
});

const { cleanup, render } = await import('ink-testing-library');
const { SessionView } = await import('../../src/ui/view.js');
const { fleet, T0 } = await import('./factory.js');

afterEach(() => {
  cleanup();
  vi.unstubAllEnvs();
});

const ESC = '\u001b[';

function frame(): string {
  const f = fleet({ apps: 'Failed' });
  const { lastFrame } = render(<SessionView state={f.state} now={T0 + 1000} verbosity="normal" showAll={false} width={80} height={20} spinnerFrame={0} />);
  return lastFrame() ?? '';
}

describe('colours', () => {
  it('colours phases by default', () => {
    vi.stubEnv('NO_COLOR', '');
    const out = frame();
    expect(out).toContain(`${ESC}31m✖`); // red failure icon
    expect(out).toContain(`${ESC}32m✔`); // green ready icon
  });

  it('uses no colour at all with NO_COLOR', () => {
    vi.stubEnv('NO_COLOR', '1');
    const out = frame();
    expect(out).not.toContain(ESC);
    expect(out).toContain('✖ Kustomization flux-system/apps');
  });

  it('uses no colour with FORCE_COLOR=0', () => {
    vi.stubEnv('FORCE_COLOR', '0');
    expect(frame()).not.toContain(ESC);
  });
});
