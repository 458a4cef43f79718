// The help pages (src/commands/help.ts): one per command, reached by `help <command>` and `<command> --help`
// without running the command, and listing exactly the flags the command's parser accepts.
import { describe, expect, it, vi } from 'vitest';
import type { FlagSpec } from '../../src/commands/args.js';

/** The flag table each command last handed to parseArgs (the parser itself is the real one). */
const seen = vi.hoisted(() => ({ spec: undefined as Record<string, FlagSpec> | undefined }));
vi.mock('../../src/commands/args.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/commands/args.js')>();
  return {
    ...real,
    parseArgs: (argv: string[], spec: Record<string, FlagSpec>) => {
      seen.spec = spec;
      return real.parseArgs(argv, spec);
    },
  };
});

const { COMMANDS, main } = await import('../../src/cli.js');
const { HELP, SCENARIO_VALUES, VERBOSITY_VALUES, renderHelp } = await import('../../src/commands/help.js');
const { UsageError } = await import('../../src/commands/args.js');

function capture(): { io: Parameters<typeof main>[1]; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const io = {
    stdout: { write: (s: string) => ((out += s), true), isTTY: false },
    stderr: { write: (s: string) => ((err += s), true), isTTY: false },
    stdin: {},
    env: { NO_COLOR: '1' },
    cwd: '/nonexistent-flux-monitor-test-dir',
  } as unknown as Parameters<typeof main>[1];
  return { io, out: () => out, err: () => err };
}

/** The flags a command's parser accepts: run it with an unknown flag, which parseArgs rejects first thing. */
async function parserFlags(name: string): Promise<Record<string, FlagSpec>> {
  const cmd = (await COMMANDS[name]!()).default;
  seen.spec = undefined;
  const { io } = capture();
  const result = await cmd.run(['--no-such-flag-for-the-probe'], io).then(
    (code) => ({ code }),
    (err: unknown) => ({ err }),
  );
  if (seen.spec === undefined) return {}; // this command parses no flags (`hook`, `version`)
  expect((result as { err?: unknown }).err, `${name} rejects an unknown flag`).toBeInstanceOf(UsageError);
  return seen.spec;
}

describe('help pages', () => {
  it('every command has a page and every page a command; hidden ones are hidden', async () => {
    expect(Object.keys(HELP).sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const [name, load] of Object.entries(COMMANDS)) {
      const cmd = (await load()).default;
      expect(HELP[name]!.name).toBe(name);
      expect(Boolean(HELP[name]!.hidden), name).toBe(Boolean(cmd.hidden));
    }
  });

  it.each(Object.keys(HELP))('%s: the page lists exactly the flags its parser accepts, with their aliases and values', async (name) => {
    const spec = await parserFlags(name);
    const page = HELP[name]!;
    const documented = Object.fromEntries(page.flags.map((f) => [f.name, f]));
    expect(Object.keys(documented).sort(), `flags of ${name}`).toEqual(Object.keys(spec).sort());
    for (const [flag, s] of Object.entries(spec)) {
      const f = documented[flag]!;
      expect(f.short, `-${s.short} of --${flag}`).toBe(s.short);
      expect(Boolean(f.value), `--${flag} takes a value`).toBe(Boolean(s.value));
      expect(Boolean(f.repeatable), `--${flag} repeatable`).toBe(Boolean(s.multiple));
      // Every flag with a value says its default.
      if (s.value) expect(f.default, `default of --${flag}`).toBeTruthy();
    }
    const text = renderHelp(name);
    for (const f of page.flags) expect(text).toContain(`${f.short ? `-${f.short}, ` : ''}--${f.name}${f.value ? ` ${f.value}` : ''}`);
  });

  it('every visible page has a description, examples and exit codes', () => {
    for (const page of Object.values(HELP).filter((p) => !p.hidden)) {
      const text = renderHelp(page.name);
      expect(page.description.length, page.name).toBeGreaterThan(0);
      expect(page.examples.length, page.name).toBeGreaterThan(0);
      for (const section of ['Usage:', 'Examples:', 'Flags:', 'Exit codes:', 'Environment:']) expect(text, `${page.name}: ${section}`).toContain(section);
      for (const e of page.examples) expect(text).toContain(e.command);
    }
  });

  it('the fixed values the pages (and the completions) offer are those the commands accept', async () => {
    const { SCENARIOS } = await import('../../src/sim/index.js');
    const { VERBOSITIES } = await import('../../src/config/load.js');
    expect([...SCENARIO_VALUES]).toEqual(Object.keys(SCENARIOS));
    expect([...VERBOSITY_VALUES]).toEqual([...VERBOSITIES]);
  });

  it('watch lists every exit code 0–6 of the verdicts, as EXIT_CODES has them', async () => {
    const { EXIT_CODES } = await import('../../src/core/types.js');
    const codes = HELP.watch!.exitCodes.map((e) => e.code);
    for (const [verdict, code] of Object.entries(EXIT_CODES)) {
      expect(codes, verdict).toContain(code);
      expect(HELP.watch!.exitCodes.find((e) => e.code === code)!.meaning).toMatch(new RegExp(`^${verdict}:`));
    }
  });
});

describe('reaching the help', () => {
  it('`help watch` prints the page of watch, the same as `watch --help` and `watch -h`', async () => {
    const a = capture();
    expect(await main(['help', 'watch'], a.io)).toBe(0);
    expect(a.out()).toBe(renderHelp('watch'));
    expect(a.out()).not.toContain('Commands:');
    for (const flag of ['--all', '--poll ', '--poll-interval', '--auto-reconcile']) expect(a.out()).toContain(flag);
    for (const code of [4, 5, 6]) expect(a.out()).toMatch(new RegExp(`^  ${code} +\\w`, 'm'));
    const b = capture();
    expect(await main(['watch', '--help'], b.io)).toBe(0);
    expect(b.out()).toBe(a.out());
    const c = capture();
    expect(await main(['watch', '-h'], c.io)).toBe(0);
    expect(c.out()).toBe(a.out());
  });

  it('`<command> --help` never runs the command (an unknown flag next to it is not even looked at)', async () => {
    for (const name of Object.keys(HELP)) {
      const r = capture();
      expect(await main([name, '--no-such-flag', '--help'], r.io), name).toBe(0);
      expect(r.out()).toBe(renderHelp(name));
      expect(r.err()).toBe('');
    }
    // After `--`, --help is an argument, not a request for help.
    const r = capture();
    expect(await main(['completion', '--', '--help'], r.io)).toBe(64);
  });

  it('explains the flags the newcomer could not find, and FLUX_MONITOR_DEBUG', async () => {
    const text = (name: string) => renderHelp(name);
    expect(text('status')).toMatch(/--follow\s+with --json: print one JSON line per update/);
    expect(text('status')).toMatch(/--exit-code\s+exit with the verdict's code/);
    expect(text('install')).toMatch(/--force\s+when another tool replaced our hook/);
    expect(text('stop')).toMatch(/--all\s+stop every running session/);
    expect(text('history')).toMatch(/-n, --limit N\s+show at most N sessions \(default: 20\)/);
    const top = capture();
    expect(await main(['help'], top.io)).toBe(0);
    expect(top.out()).toContain('FLUX_MONITOR_DEBUG');
    expect(top.out()).toContain('Commands:');
    expect(top.out()).not.toMatch(/^  (hook|run-session) /m);
    expect(text('watch')).toContain('FLUX_MONITOR_DEBUG');
  });

  it('`help` of an unknown command is a usage error; a usage error points to the help', async () => {
    const r = capture();
    expect(await main(['help', 'nope'], r.io)).toBe(64);
    expect(r.err()).toContain('unknown command "nope"');
    const u = capture();
    expect(await main(['history', '--nope'], u.io)).toBe(64);
    expect(u.err()).toContain('unknown flag --nope');
    expect(u.err()).toContain('flux-monitor help history');
  });
});
