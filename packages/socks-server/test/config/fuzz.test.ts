import * as fs from 'node:fs';
import { ConfigError } from '@mptcp-proxy/common';
import { DANTED_ERROR_CODES, parseDantedConfig } from '../../src/config';
import { compatExample, compatExamples } from '@mptcp-proxy/lab';


/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCAB = [
  'client', 'socks', 'pass', 'block', 'route', 'monitor', 'hostid', '{', '}', '{', '}', '\n', '\n', '\n', '\\\n', '#',
  'from:', 'to:', 'via:', 'port', '=', '!=', '>=', '<=', '<', '>', 'eq', 'ne', 'ge', 'le', 'gt', 'lt', '-', '1-1023', 'http',
  '0/0', '0/8', '10.0.0.0/8', '10.0.0.1', '::/0', '::1', '2001:db8::/129', '.example.com', 'lo', 'eth0', 'host.test', '/',
  '0', '1080', '70000', '0x50', '08', '-1', '3/1', 'yes', 'no',
  'logoutput:', 'errorlog:', 'internal:', 'external:', 'internal.protocol:', 'external.rotation:', 'socksmethod:',
  'clientmethod:', 'method:', 'user.privileged:', 'user.notprivileged:', 'timeout.io:', 'timeout.negotiate:', 'debug:',
  'command:', 'protocol:', 'proxyprotocol:', 'log:', 'user:', 'group:', 'session.max:', 'session.throttle:',
  'session.state.key:', 'session.state.throttle:', 'udp.portrange:', 'bandwidth:', 'redirect', 'libwrap:',
  'extension.mptcp:', 'extension.optimistic.method:', 'optimistic:', 'gssapi.servicename:', 'external.tcp.tcp_nodelay:',
  'none', 'username', 'pam.any', 'rfc931', 'gssapi', 'connect', 'bind', 'udpassociate', 'tcp', 'udp', 'socks_v5',
  'error', 'ioop', 'stderr', 'syslog/local3', 'ipv4', 'ipv6', 'root', 'nobody', 'direct', 'auto', 'on', '\x00', 'é', '"',
];

function expectOnlyConfigError(text: string): 'ok' | 'error' {
  try {
    parseDantedConfig(text, 'fuzz.conf');
    return 'ok';
  } catch (e) {
    if (!(e instanceof ConfigError) || e.code === DANTED_ERROR_CODES.internal) {
      throw new Error(`parser crashed on ${JSON.stringify(text)}: ${(e as Error).stack}`);
    }
    expect(e.line).toBeGreaterThanOrEqual(0);
    expect(e.detail.length).toBeGreaterThan(0);
    return 'error';
  }
}

describe('danted.conf parser never crashes', () => {
  it('random token soup only ever throws ConfigError', () => {
    const r = rng(0xda17e);
    const seen = { ok: 0, error: 0 };
    for (let n = 0; n < 3000; n++) {
      const len = 1 + Math.floor(r() * 40);
      const words: string[] = [];
      for (let k = 0; k < len; k++) words.push(VOCAB[Math.floor(r() * VOCAB.length)]);
      seen[expectOnlyConfigError(words.join(r() < 0.5 ? ' ' : ''))]++;
    }
    expect(seen.error).toBeGreaterThan(0);
  });

  it('soup inside a valid server section reaches the rule parser', () => {
    const r = rng(42);
    const head = 'internal: 127.0.0.1\nexternal: 127.0.0.1\nsocksmethod: none username\n';
    const seen = { ok: 0, error: 0 };
    for (let n = 0; n < 3000; n++) {
      const words = ['socks', 'pass', '{', 'from:', '0/0', 'to:', '0/0'];
      const len = Math.floor(r() * 12);
      for (let k = 0; k < len; k++) words.push(VOCAB[Math.floor(r() * VOCAB.length)]);
      if (r() < 0.8) words.push('}');
      seen[expectOnlyConfigError(`${head}${words.join(' ')}\n`)]++;
    }
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.error).toBeGreaterThan(0);
  });

  it('every truncation and byte mutation of the example configs', () => {
    const files = compatExamples(/^(dante|danted|user-danted-).*\.conf$/);
    expect(files.length).toBeGreaterThanOrEqual(6);
    const r = rng(7);
    let runs = 0;
    for (const f of files) {
      const text = fs.readFileSync(compatExample(f), 'utf8');
      const step = Math.max(1, Math.floor(text.length / 150));
      for (let cut = 0; cut <= text.length; cut += step) {
        expectOnlyConfigError(text.slice(0, cut));
        runs++;
      }
      for (let n = 0; n < 100; n++) {
        const at = Math.floor(r() * text.length);
        const ch = String.fromCharCode(Math.floor(r() * 128));
        expectOnlyConfigError(text.slice(0, at) + ch + text.slice(at + 1));
        runs++;
      }
    }
    expect(runs).toBeGreaterThan(1000);
  });
});
