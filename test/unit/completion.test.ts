// `flux-monitor completion bash|zsh|fish`: the scripts are run by the real shells. bash and fish really complete
// (bash: the completion function with COMP_WORDS/COMP_CWORD set; fish: `complete -C`); zsh's script is checked
// with `zsh -n` and loaded by compinit. A shell that is not installed is skipped.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { HELP, visibleCommands } from '../../src/commands/help.js';
import { bashScript, fishScript, zshScript } from '../../src/commands/completion.js';

const has = (shell: string) => spawnSync(shell, ['-c', 'exit 0']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'fm-completion-'));

function script(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** What bash's completion function offers for the words typed (the last one being completed). */
function bashComplete(words: string[], cwd = dir): string[] {
  const file = script('flux-monitor.bash', bashScript());
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync(
    'bash',
    ['--norc', '--noprofile', '-c', `source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}; _flux_monitor; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', file],
    { cwd, encoding: 'utf8' },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter(Boolean).sort();
}

/** What fish offers for the command line (`complete -C`), without the descriptions. */
function fishComplete(line: string): string[] {
  const file = script('flux-monitor.fish', fishScript());
  const r = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C '${line}'`], { cwd: dir, encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!).sort();
}

const sorted = (xs: readonly string[]) => [...xs].sort();
const longFlags = (name: string) => sorted([...HELP[name]!.flags.map((f) => `--${f.name}`), '--help']);

describe('completion command', () => {
  it('prints the script of each shell, and refuses an unknown one', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      let out = '';
      const io = { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: () => true }, env: {}, cwd: dir } as never;
      expect(await main(['completion', shell], io)).toBe(0);
      expect(out).toContain('flux-monitor');
    }
    let err = '';
    const io = { stdout: { write: () => true }, stderr: { write: (s: string) => ((err += s), true) }, env: {}, cwd: dir } as never;
    expect(await main(['completion', 'tcsh'], io)).toBe(64);
    expect(err).toContain('unknown shell "tcsh"');
    expect(await main(['completion'], io)).toBe(64);
  });
});

describe.skipIf(!has('bash'))('bash completion', () => {
  it('completes the visible commands, never the internal ones', () => {
    expect(bashComplete(['flux-monitor', ''])).toEqual(sorted([...visibleCommands().map((c) => c.name), '--help', '-h', '--version', '-v']));
    expect(bashComplete(['flux-monitor', 'st'])).toEqual(['status', 'stop']);
    expect(bashComplete(['flux-monitor', 'run'])).toEqual([]);
  });

  it.each(visibleCommands().map((c) => c.name))('completes every flag of %s', (name) => {
    expect(bashComplete(['flux-monitor', name, '--'])).toEqual(longFlags(name));
  });

  it('completes the values of flags with a fixed list, in both spellings, and nothing for free values', () => {
    expect(bashComplete(['flux-monitor', 'watch', '--verbosity', ''])).toEqual(['minimal', 'normal', 'verbose']);
    expect(bashComplete(['flux-monitor', 'status', '--verbosity', 'v'])).toEqual(['verbose']);
    // --verbosity=mi: bash splits the word at "=".
    expect(bashComplete(['flux-monitor', 'watch', '--verbosity', '=', 'mi'])).toEqual(['minimal']);
    expect(bashComplete(['flux-monitor', 'watch', '--verbosity', '='])).toEqual(['minimal', 'normal', 'verbose']);
    expect(bashComplete(['flux-monitor', 'demo', '--scenario', 'h'])).toEqual(['happy', 'health-check-failure']);
    expect(bashComplete(['flux-monitor', 'watch', '--timeout', ''])).toEqual([]);
    expect(bashComplete(['flux-monitor', 'history', '-n', ''])).toEqual([]); // -n is --limit here
    expect(bashComplete(['flux-monitor', 'watch', '-n', ''])).toEqual([]); // and --namespace there
  });

  it('completes the arguments of help and completion, and paths for --repo and --kubeconfig', () => {
    expect(bashComplete(['flux-monitor', 'help', 'w'])).toEqual(['watch']);
    expect(bashComplete(['flux-monitor', 'completion', ''])).toEqual(['bash', 'fish', 'zsh']);
    const cwd = mkdtempSync(join(dir, 'paths-'));
    mkdirSync(join(cwd, 'repo-a'));
    writeFileSync(join(cwd, 'repo-file'), '');
    writeFileSync(join(cwd, 'kubeconfig'), '');
    expect(bashComplete(['flux-monitor', 'install', '--repo', 'repo'], cwd)).toEqual(['repo-a']);
    expect(bashComplete(['flux-monitor', 'watch', '--kubeconfig', 'k'], cwd)).toEqual(['kubeconfig']);
  });
});

describe.skipIf(!has('fish'))('fish completion', () => {
  it('is valid fish and completes commands, flags and values', () => {
    const r = spawnSync('fish', ['--no-config', '-n', script('check.fish', fishScript())], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fishComplete('flux-monitor ')).toEqual(sorted(visibleCommands().map((c) => c.name)));
    expect(fishComplete('flux-monitor watch --verbosity ')).toEqual(['minimal', 'normal', 'verbose']);
    expect(fishComplete('flux-monitor demo --scenario ')).toEqual(sorted(HELP.demo!.flags.find((f) => f.name === 'scenario')!.values!));
    expect(fishComplete('flux-monitor completion ')).toEqual(['bash', 'fish', 'zsh']);
    for (const c of visibleCommands()) expect(fishComplete(`flux-monitor ${c.name} --`), c.name).toEqual(longFlags(c.name));
  });
});

describe.skipIf(!has('zsh'))('zsh completion', () => {
  it('is valid zsh, names every command and flag, and registers itself with compinit', () => {
    const file = script('_flux-monitor', zshScript());
    const n = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    expect(n.stderr).toBe('');
    expect(n.status).toBe(0);
    const text = zshScript();
    for (const c of visibleCommands()) {
      expect(text).toMatch(new RegExp(`^    ${c.name}\\)$`, 'm'));
      for (const f of c.flags) expect(text, `${c.name} --${f.name}`).toContain(`--${f.name}${f.value ? '=' : ''}[`);
    }
    expect(text).toContain("'--verbosity=[how much to show]:level:(minimal normal verbose)'");
    const r = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -D && source ${file} && print -r -- $_comps[flux-monitor]`], {
      encoding: 'utf8',
      env: { ...process.env, HOME: dir },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('_flux-monitor');
  });
});
