import { describe, expect, it } from 'vitest';
import { ELLIPSIS, firstLine, redactSecrets, sanitizeText, stripControl, truncate } from '../../src/core/sanitize.js';

const ESC = '\x1b';

describe('sanitizeText: terminal escapes and control characters', () => {
  it.each([
    ['SGR colours', `${ESC}[31mred${ESC}[0m text`, 'red text'],
    ['CSI with private parameters', `${ESC}[?25lhidden cursor${ESC}[?25h`, 'hidden cursor'],
    ['CSI cursor movement and erase', `a${ESC}[2J${ESC}[1;1Hb${ESC}[K`, 'ab'],
    ['CSI with intermediate bytes', `x${ESC}[1 qy`, 'xy'],
    ['C1 CSI', 'a\x9b31mb', 'ab'],
    ['OSC title with BEL', `${ESC}]0;pwned title\x07after`, 'after'],
    ['OSC 8 hyperlink with ST', `${ESC}]8;;https://evil.example${ESC}\\click${ESC}]8;;${ESC}\\`, 'click'],
    ['C1 OSC with C1 ST', '\x9d0;t\x9cok', 'ok'],
    ['DCS', `${ESC}Pq#0;2;0;0;0${ESC}\\done`, 'done'],
    ['SOS', `${ESC}Xsecret${ESC}\\x`, 'x'],
    ['PM', `${ESC}^private${ESC}\\x`, 'x'],
    ['APC', `${ESC}_kitty graphics${ESC}\\x`, 'x'],
    ['charset selection', `${ESC}(Bplain`, 'plain'],
    ['save/restore cursor and reset', `${ESC}7a${ESC}8b${ESC}c`, 'ab'],
    ['lone ESC at the end', `text${ESC}`, 'text'],
    ['unterminated CSI', `a${ESC}[31`, 'a31'],
    ['unterminated OSC keeps the visible text', `${ESC}]0;title`, '0;title'],
    ['BEL, backspace, form feed, vertical tab, NUL, DEL', 'a\x07b\x08c\x0cd\x0be\x00f\x7fg', 'abcdefg'],
    ['C1 controls', 'a\x85b\x9fc', 'abc'],
    ['bidi overrides and isolates', 'admin\u202e\u2066txt.exe\u2069\u202a\u202b\u202c\u202d\u2067\u2068', 'admintxt.exe'],
  ])('%s', (_name, input, want) => {
    expect(sanitizeText(input)).toBe(want);
  });

  it('keeps newlines and tabs, converts CRLF and lone CR to LF', () => {
    expect(sanitizeText('a\tb\r\nc\rd\ne')).toBe('a\tb\nc\nd\ne');
  });

  it('keeps ordinary Unicode, including emoji and right-to-left text', () => {
    expect(sanitizeText('déploiement ✓ 🚀 שלום')).toBe('déploiement ✓ 🚀 שלום');
  });

  it('turns non-strings into text', () => {
    expect(sanitizeText(undefined)).toBe('');
    expect(sanitizeText(null)).toBe('');
    expect(sanitizeText(42)).toBe('42');
    expect(sanitizeText(new Error(`boom ${ESC}[31m!`))).toBe('boom !');
    expect(sanitizeText({ a: 1 })).toBe('{"a":1}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(sanitizeText(cyclic)).toBe('[object Object]');
  });

  it('strips escapes before anything else can be shown (stripControl alone)', () => {
    expect(stripControl(`${ESC}[1mbold${ESC}[22m\r\n`)).toBe('bold\n');
  });
});

describe('sanitizeText: credentials', () => {
  it.each([
    ['https user and password', 'clone https://user:s3cret@github.com/org/repo.git failed', 'clone https://***@github.com/org/repo.git failed'],
    ['https token as user', 'GET https://ghx0token123@github.com/org/repo', 'GET https://***@github.com/org/repo'],
    ['http with port', 'http://admin:pw@10.0.0.1:8080/x', 'http://***@10.0.0.1:8080/x'],
    ['ssh with password', 'ssh://git:pw@host/repo', 'ssh://***@host/repo'],
    ['ssh user only is kept', 'ssh://git@github.com/org/repo', 'ssh://git@github.com/org/repo'],
    ['upper-case scheme', 'HTTPS://u:p@h/x', 'HTTPS://***@h/x'],
    ['two URLs', 'a https://u:p@h1/x b https://t@h2/y', 'a https://***@h1/x b https://***@h2/y'],
    ['bearer token', 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-_def', 'Authorization: Bearer ***'],
    ['lower-case bearer', 'header bearer abcdefghijklmnop== end', 'header bearer *** end'],
    ['basic authorization header', 'Authorization: Basic dXNlcjpwYXNzd29yZA==', 'Authorization: Basic ***'],
    ['GitHub token', 'token ghp_abcdefghijklmnopqrstuvwxyz0123456789 rejected', 'token *** rejected'],
    ['GitLab token', 'using glpat-abcdefghij0123456789xy', 'using ***'],
  ])('%s', (_name, input, want) => {
    expect(sanitizeText(input)).toBe(want);
  });

  it('leaves prose and credential-free URLs alone', () => {
    const prose = 'bearer token expired; basic auth failed at https://github.com/org/repo.git and git@github.com:org/repo.git';
    expect(sanitizeText(prose)).toBe(prose);
  });

  it('redacts before truncating, so no partial secret survives the cut', () => {
    const out = sanitizeText('https://user:averyveryverylongpassword@example.com/x', { maxLength: 20 });
    expect(out).not.toContain('avery');
    expect(out).toBe(`https://***@example${ELLIPSIS}`);
  });

  it('redactSecrets works on its own', () => {
    expect(redactSecrets('https://a:b@c/d')).toBe('https://***@c/d');
  });
});

describe('sanitizeText: truncation', () => {
  it('truncates to maxLength (default 4096) with an ellipsis marker', () => {
    const out = sanitizeText('x'.repeat(5000));
    expect(out).toHaveLength(4096);
    expect(out.endsWith(ELLIPSIS)).toBe(true);
    expect(sanitizeText('abcdef', { maxLength: 4 })).toBe(`abc${ELLIPSIS}`);
    expect(sanitizeText('abcd', { maxLength: 4 })).toBe('abcd');
  });

  it('measures the length after stripping escapes', () => {
    expect(sanitizeText(`${ESC}[31m${'a'.repeat(10)}${ESC}[0m`, { maxLength: 10 })).toBe('a'.repeat(10));
  });

  it('never splits a surrogate pair', () => {
    const out = truncate('ab🚀cd', 4);
    expect(out).toBe(`ab${ELLIPSIS}`);
    expect(truncate('abc', 0)).toBe('');
    expect(truncate('abc', 1)).toBe(ELLIPSIS);
  });
});

describe('sanitizeText: hostile 1 MB input', () => {
  it('strips a megabyte of interleaved escapes and keeps only the text', () => {
    const unit = `${ESC}[38;5;196m${ESC}]0;t\x07x${ESC}[0m\x9b1m\u202e`;
    const input = unit.repeat(Math.ceil((1024 * 1024) / unit.length));
    expect(input.length).toBeGreaterThanOrEqual(1024 * 1024);
    const out = sanitizeText(input, { maxLength: 100_000_000 });
    expect(out).toBe('x'.repeat(input.length / unit.length));
  });

  it('handles a megabyte of unterminated sequence introducers', () => {
    // Unterminated OSC/CSI introducers are dropped as two-character escapes, C1 introducers as controls.
    const input = `${ESC}]`.repeat(300_000) + '\x9d'.repeat(200_000) + `${ESC}[`.repeat(100_000) + '\ntail';
    expect(input.length).toBeGreaterThan(1_000_000);
    expect(sanitizeText(input)).toBe('\ntail');
  });

  it('handles one unterminated OSC followed by a megabyte of text', () => {
    const input = `${ESC}]0;` + 'y'.repeat(1024 * 1024);
    const out = sanitizeText(input, { maxLength: 2_000_000 });
    expect(out).toBe('0;' + 'y'.repeat(1024 * 1024));
  });

  it('handles a megabyte without any escape, and a megabyte of URL-like noise', () => {
    expect(sanitizeText('a.'.repeat(512 * 1024), { maxLength: 8 })).toBe(`a.a.a.a${ELLIPSIS}`);
    const noise = 'https://'.repeat(140_000) + 'u:p@h/x';
    const out = sanitizeText(noise, { maxLength: 2_000_000 });
    expect(out.endsWith('https://***@h/x')).toBe(true);
    expect(out).not.toContain('u:p@');
  });

  it('handles a megabyte of bearer-like noise', () => {
    const out = sanitizeText('Bearer '.repeat(150_000) + 'abcdefghijkl', { maxLength: 10_000_000 });
    expect(out.endsWith('Bearer ***')).toBe(true);
    expect(out).not.toContain('abcdefghijkl');
  });
});

describe('firstLine', () => {
  it('returns the first non-blank line, trimmed and sanitised', () => {
    expect(firstLine('\n  \n  first line  \nsecond')).toBe('first line');
    expect(firstLine(`${ESC}[1mtitle${ESC}[0m\r\nbody`)).toBe('title');
    expect(firstLine('')).toBe('');
    expect(firstLine(undefined)).toBe('');
    expect(firstLine('x'.repeat(50), { maxLength: 10 })).toBe(`xxxxxxxxx${ELLIPSIS}`);
  });
});
