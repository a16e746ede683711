/**
 * The section-8 man pages render without a single groff warning, and document every flag and
 * every extension key the code actually has (read from the sources, so a new key without a
 * man page entry fails here).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXTENSION_DEFAULTS } from 'redsocks-ts';

const ROOT = path.resolve(__dirname, '../..');
const PAGES = {
  'redsocks-ts': path.join(ROOT, 'packages/redsocks-ts/man/redsocks-ts.8'),
  'mptcp-gateway': path.join(ROOT, 'packages/redsocks-ts/man/mptcp-gateway.8'),
  'socks-server': path.join(ROOT, 'packages/socks-server/man/socks-server.8'),
};

/** The page as a reader sees it (plain text, no hyphenation, one long line per paragraph). */
function render(file: string): { status: number | null; text: string; warnings: string } {
  const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-rLL=500n', '-P-cbou', file], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, text: r.stdout.replace(/\u2010/g, '-'), warnings: r.stderr };
}

describe.each(Object.entries(PAGES))('%s(8)', (name, file) => {
  test('renders with groff -man -ww without warnings', () => {
    const r = render(file);
    expect(r.warnings).toBe('');
    expect(r.status).toBe(0);
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'FILES', 'EXIT STATUS', 'SEE ALSO']) {
      expect(r.text).toMatch(new RegExp(`^${section}$`, 'm'));
    }
    expect(r.text).toContain(`${name} - `);
  });
});

test('redsocks-ts(8) documents every flag and every extension key', () => {
  const { text } = render(PAGES['redsocks-ts']);
  for (const flag of ['-c', '-t', '-p', '-N', '-v', '-h', '-?']) expect([flag, text.includes(flag)]).toEqual([flag, true]);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGHUP']) expect(text).toContain(sig);
  const keys = Object.keys(EXTENSION_DEFAULTS).map((k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  expect(keys.length).toBeGreaterThan(10);
  for (const key of keys) expect([key, new RegExp(`\\b${key} =`).test(text)]).toEqual([key, true]);
});

test('socks-server(8) documents every flag and every extension keyword', () => {
  const { text } = render(PAGES['socks-server']);
  for (const flag of ['-f', '-V', '-D', '-p', '-N', '-d', '-n', '-v', '-L', '-h']) expect([flag, text.includes(flag)]).toEqual([flag, true]);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGHUP']) expect(text).toContain(sig);
  const parser = fs.readFileSync(path.join(ROOT, 'packages/socks-server/src/config/settings.ts'), 'utf8');
  const keywords = [...new Set([...parser.matchAll(/'(extension\.[a-z.]+)'/g)].map((m) => m[1]))];
  expect(keywords.length).toBeGreaterThan(8);
  for (const kw of keywords) expect([kw, text.includes(`${kw}:`)]).toEqual([kw, true]);
  expect(text).toMatch(/^\s*optimistic: yes\|no/m); // the rule keyword
});

test('mptcp-gateway(8) documents every option of its usage text', () => {
  const { text } = render(PAGES['mptcp-gateway']);
  const cli = fs.readFileSync(path.join(ROOT, 'packages/redsocks-ts/src/gateway/cli.ts'), 'utf8');
  const usage = /const USAGE = `([\s\S]*?)`/.exec(cli)![1];
  const options = [...new Set([...usage.matchAll(/--[a-z-]+/g)].map((m) => m[0]))];
  expect(options.length).toBeGreaterThan(8);
  for (const opt of options) expect([opt, text.includes(opt)]).toEqual([opt, true]);
  expect(text).toContain('setup');
  expect(text).toContain('doctor');
});
