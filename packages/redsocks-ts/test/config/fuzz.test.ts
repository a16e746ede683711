import * as fs from 'node:fs';
import { ConfigError } from '@mptcp-proxy/common';
import { prng, structuredSoup, tokenSoup } from './fuzz';
import { parse } from './helpers';
import { compatExample } from '@mptcp-proxy/lab';


/** Parses and reports the outcome; anything but a ConfigError escaping is a bug. */
function outcome(text: string): 'ok' | string {
  try {
    parse(text);
    return 'ok';
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err).toBeInstanceOf(ConfigError);
    expect(typeof err.code).toBe('string');
    expect(err.line).toBeGreaterThanOrEqual(0);
    expect(err.detail.length).toBeGreaterThan(0);
    return err.code;
  }
}

test('random token soup only ever yields a config or a ConfigError', () => {
  const rand = prng(0x5eed);
  const codes = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const text = i % 3 === 0 ? tokenSoup(rand) : i % 3 === 1 ? `${tokenSoup(rand)}\n` : structuredSoup(rand);
    const code = outcome(text);
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  // the soup reaches many different outcomes, not one trivial rejection
  expect(codes.size).toBeGreaterThanOrEqual(7);
  expect(codes.get('ok')).toBeGreaterThan(30);
});

test('random bytes only ever yield a config or a ConfigError', () => {
  const rand = prng(42);
  const codes = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const len = Math.floor(rand() * 80);
    let s = '';
    for (let j = 0; j < len; j++) s += String.fromCharCode(Math.floor(rand() * 128));
    codes.add(outcome(s));
  }
  // outcome() fails the test on anything but a config or a ConfigError; random bytes mostly reject
  expect(codes.size).toBeGreaterThan(1);
  expect([...codes].some((c) => c !== 'ok')).toBe(true);
});

test('every truncation of the shipped configs yields a config or a ConfigError', () => {
  const files = ['redsocks.conf', 'user-redsocks-http-multi.conf', 'user-redsocks-socks5-auth.conf'];
  let accepted = 0;
  for (const f of files) {
    const text = fs.readFileSync(compatExample(f), 'utf8');
    expect(outcome(text)).toBe('ok');
    for (let cut = 0; cut < text.length; cut += 3) if (outcome(text.slice(0, cut)) === 'ok') accepted++;
  }
  // a cut at the very start (empty file) or after a complete section parses
  expect(accepted).toBeGreaterThan(0);
});
