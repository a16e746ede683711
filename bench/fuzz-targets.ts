/**
 * Fuzz targets (fast-check): both config grammars and every SOCKS4/4a/5, RFC 1929, UDP header,
 * optimistic-connect and HTTP-CONNECT message parser. Each input is parsed whole and then cut
 * at every byte: a prefix must give "need more bytes", the same message, or the same error
 * code; anything but the module's own error class is a crash. bench/fuzz-bench.ts runs them
 * long and prints the totals; tests/fuzz/fuzz-short.test.ts runs them short with a fixed seed.
 */
import { isDeepStrictEqual } from 'node:util';
import * as fc from 'fast-check';
import {
  ConfigError, Method, ProtocolError, ProxyError, type HandshakeExpectation, parsePartialHandshake, parseServerHandshake,
  parseUdpDatagram, socks4, socks5,
} from '@mptcp-proxy/common';
import { parseDantedConfig, type SystemLookups } from 'socks-server';
import { parseRedsocksConfig } from 'redsocks-ts';
import { parseHttpReplyHead } from '../packages/redsocks-ts/src/upstream/http-connect';
import { parseRequestHead } from '../packages/redsocks-ts/src/upstream/http-relay';
import { VOCABULARY as REDSOCKS_WORDS } from '../packages/redsocks-ts/test/config/fuzz';

export interface FuzzTarget {
  name: string;
  arbitrary: fc.Arbitrary<Buffer>;
  /** Throws (anything) when the input shows a bug. */
  check(input: Buffer): void;
  /** Parse calls per input (whole + prefixes), for the report. */
  cuts(input: Buffer): number;
}

/** What a stream parser said about some bytes. */
type Outcome = { kind: 'more' } | { kind: 'message'; value: unknown; length: number } | { kind: 'error'; code: string };

class Crash extends Error {}

function run(parse: (b: Buffer) => { length: number } | null, buf: Buffer, expected: readonly (new (...a: never[]) => Error)[]): Outcome {
  try {
    const r = parse(buf);
    return r === null ? { kind: 'more' } : { kind: 'message', value: r, length: r.length };
  } catch (e) {
    if (expected.some((cls) => e instanceof cls)) return { kind: 'error', code: (e as ProxyError).code };
    throw new Crash(`${(e as Error)?.stack ?? String(e)}\n  on input ${buf.toString('hex')}`);
  }
}

/**
 * Parsed whole, then every prefix: a prefix holding the whole message must give it; a shorter
 * one "more" (or the same error, found early); an error must not turn into a message later.
 */
function streamCheck(parse: (b: Buffer) => { length: number } | null, expected: readonly (new (...a: never[]) => Error)[] = [ProtocolError]) {
  return (input: Buffer): void => {
    const whole = run(parse, input, expected);
    for (let k = 0; k < input.length; k++) {
      const cut = run(parse, input.subarray(0, k), expected);
      const fail = (why: string): never => {
        throw new Error(`${why} at cut ${k}: whole ${JSON.stringify(whole)}, prefix ${JSON.stringify(cut)}, input ${input.toString('hex')}`);
      };
      if (cut.kind === 'message') {
        if (whole.kind !== 'message' || whole.length !== cut.length || !isDeepStrictEqual(whole.value, cut.value)) fail('a prefix parsed differently');
      } else if (cut.kind === 'error') {
        if (whole.kind !== 'error' || whole.code !== cut.code) fail('an error in a prefix went away');
      } else if (whole.kind === 'message' && whole.length <= k) {
        fail('a prefix holding the whole message asked for more');
      }
    }
  };
}

const byte = fc.integer({ min: 0, max: 255 });
const bytes = (max: number): fc.Arbitrary<number[]> => fc.array(byte, { maxLength: max });
const mostly = (v: number): fc.Arbitrary<number> => fc.oneof({ weight: 4, arbitrary: fc.constant(v) }, { weight: 1, arbitrary: byte });

/** ATYP ADDR PORT, well-formed or slightly off (a wrong length, an unknown ATYP, a NUL in a name). */
const address: fc.Arbitrary<number[]> = fc.oneof(
  fc.tuple(fc.constant(1), fc.array(byte, { minLength: 4, maxLength: 4 }), bytes(2)).map(([a, ip, p]) => [a, ...ip, ...p]),
  fc.tuple(fc.constant(4), fc.array(byte, { minLength: 16, maxLength: 16 }), bytes(2)).map(([a, ip, p]) => [a, ...ip, ...p]),
  fc.tuple(fc.constant(3), fc.string({ maxLength: 40 }), fc.integer({ min: -2, max: 2 }), bytes(2)).map(([a, name, skew, p]) => {
    const n = [...Buffer.from(name)];
    return [a, Math.max(0, Math.min(255, n.length + skew)), ...n, ...p];
  }),
  fc.tuple(byte, bytes(20)).map(([a, rest]) => [a, ...rest]),
);

/** A message built from parts, sometimes with random bytes appended or a byte flipped. */
function message(parts: fc.Arbitrary<number[]>): fc.Arbitrary<Buffer> {
  return fc.tuple(parts, bytes(8), fc.nat(), byte, fc.boolean()).map(([p, tail, at, v, flip]) => {
    const b = [...p, ...tail];
    if (flip && b.length > 0) b[at % b.length] = v;
    return Buffer.from(b);
  });
}

const raw = fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u));
const withRaw = (a: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> => fc.oneof({ weight: 4, arbitrary: a }, { weight: 1, arbitrary: raw });

const greeting = message(fc.tuple(mostly(5), fc.array(byte, { maxLength: 12 })).map(([v, m]) => [v, m.length, ...m]));
const methodSelection = message(fc.tuple(mostly(5), byte).map(([v, m]) => [v, m]));
const userPassRequest = message(fc.tuple(mostly(1), fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 })).map(([v, u, p]) => {
  const ub = [...Buffer.from(u)].slice(0, 255);
  const pb = [...Buffer.from(p)].slice(0, 255);
  return [v, ub.length, ...ub, pb.length, ...pb];
}));
const userPassReply = message(fc.tuple(mostly(1), byte).map(([v, s]) => [v, s]));
const socks5Request = message(fc.tuple(mostly(5), fc.integer({ min: 0, max: 4 }), mostly(0), address).map(([v, c, r, a]) => [v, c, r, ...a]));
const socks5Reply = message(fc.tuple(mostly(5), fc.integer({ min: 0, max: 9 }), mostly(0), address).map(([v, c, r, a]) => [v, c, r, ...a]));
const cString = fc.string({ maxLength: 24 }).map((s) => [...Buffer.from(s)].filter((b) => b !== 0));
const socks4Request = message(fc.tuple(mostly(4), fc.integer({ min: 0, max: 3 }), bytes(2), fc.boolean(), bytes(4), cString, cString)
  .map(([v, c, p, a4, ip, user, name]) => [v, c, ...p, ...(a4 ? [0, 0, 0, 1] : ip.concat([0, 0, 0, 0]).slice(0, 4)), ...user, 0, ...(a4 ? [...name, 0] : [])]));
const socks4Reply = message(fc.tuple(mostly(0), fc.integer({ min: 88, max: 95 }), bytes(6)).map(([v, c, rest]) => [v, c, ...rest]));
const udpHeader = message(fc.tuple(mostly(0), mostly(0), fc.oneof(fc.constant(0), byte), address).map(([a, b, f, addr]) => [a, b, f, ...addr]));

/** The optimistic-connect server handshake: `05 M [01 S] 05 REP 00 ATYP ADDR PORT`, for each expectation. */
const EXPECTATIONS: HandshakeExpectation[] = [
  { authMethodOffered: false },
  { authMethodOffered: true },
  { authMethodOffered: false, offeredMethods: [0xa5, Method.NoAuth] },
  { authMethodOffered: true, offeredMethods: [0xa6, Method.UserPass], userPassMethods: [0xa6, Method.UserPass] },
];
const ocHandshake = message(fc.tuple(
  mostly(5), fc.constantFrom(0, 2, 0xa5, 0xa6, 0xff, 7), fc.boolean(), mostly(1), fc.integer({ min: 0, max: 2 }),
  mostly(5), fc.integer({ min: 0, max: 9 }), address,
).map(([v, m, auth, av, st, rv, rep, a]) => [v, m, ...(auth ? [av, st] : []), rv, rep, 0, ...a]));

const HTTP_LINES = ['HTTP/1.0 200 Connection established', 'HTTP/1.1 407 Proxy Authentication Required', 'HTTP/1.1 502 Bad',
  'Proxy-Authenticate: Basic realm="x"', 'Content-Length: 0', 'X: y', '', 'garbage', 'HTTP/1.1', ':', 'a:b:c',
  'GET http://example.com/ HTTP/1.1', 'GET / HTTP/1.0', 'Host: example.com', 'Connection: close'];
const httpHead = fc.tuple(fc.array(fc.constantFrom(...HTTP_LINES), { maxLength: 8 }), fc.constantFrom('\r\n', '\n'), fc.boolean(), fc.string({ maxLength: 16 }))
  .map(([lines, eol, end, tail]) => Buffer.from(lines.join(eol) + (end ? eol + eol : '') + tail, 'latin1'));

/** The system as danted.conf's parser sees it, fixed (no getent, no NSS): the fuzzer measures the grammar. */
export const FIXED_LOOKUPS: SystemLookups = {
  userExists: (n) => n === 'root' || n === 'nobody',
  hostnameResolves: (n) => n === 'localhost' || n.endsWith('.test'),
  interfaceExists: (n) => n === 'lo' || n === 'eth0',
  interfaceAddresses: (n) => (n === 'lo' ? ['127.0.0.1', '::1'] : n === 'eth0' ? ['192.0.2.1'] : []),
  servicePort: (n) => ({ http: 80, ssh: 22, domain: 53, socks: 1080 } as Record<string, number>)[n],
};

const DANTED_WORDS = [
  'client', 'socks', 'pass', 'block', 'route', 'monitor', 'hostid', '{', '}', '{', '}', '\n', '\n', '\n', '\\\n', '#',
  'from:', 'to:', 'via:', 'port', '=', '!=', '>=', '<=', '<', '>', 'eq', 'ne', '-', '1-1023', 'http', '0/0', '0/8',
  '10.0.0.0/8', '10.0.0.1', '::/0', '::1', '2001:db8::/129', '.example.com', 'lo', 'eth0', 'host.test', '/', '0', '1080',
  '70000', '0x50', '08', '-1', '3/1', '2/0', 'yes', 'no', 'logoutput:', 'errorlog:', 'internal:', 'external:',
  'internal.protocol:', 'external.rotation:', 'socksmethod:', 'clientmethod:', 'method:', 'user.privileged:',
  'user.unprivileged:', 'timeout.io:', 'timeout.negotiate:', 'timeout.tcp_fin_wait:', 'debug:', 'srchost:',
  'nodnsmismatch', 'compatibility:', 'sameport', 'libwrap.hosts_access:', 'udp.connectdst:', 'command:', 'protocol:',
  'proxyprotocol:', 'log:', 'user:', 'group:', 'session.max:', 'session.throttle:', 'session.state.key:',
  'session.state.max:', 'session.state.throttle:', 'udp.portrange:', 'bandwidth:', 'redirect', 'libwrap:',
  'extension.mptcp:', 'extension.optimistic.method:', 'extension.auth.failures:', 'optimistic:', 'gssapi.servicename:',
  'external.tcp.tcp_nodelay:', 'none', 'username', 'pam.any', 'rfc931', 'gssapi', 'connect', 'bind', 'udpassociate',
  'udpreply', 'tcp', 'udp', 'socks_v5', 'error', 'ioop', 'data', 'stderr', 'syslog/local3', 'ipv4', 'ipv6', 'root',
  'nobody', 'direct', 'auto', 'on', 'from', '\x00', 'é', '"', ':', ' ',
];
const DANTED_HEAD = 'internal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none username\n';

function soup(words: readonly string[], max: number): fc.Arbitrary<string> {
  return fc.array(fc.tuple(fc.constantFrom(...words), fc.constantFrom(' ', '', '\n', ' ')), { maxLength: max })
    .map((parts) => parts.map(([w, sep]) => w + sep).join(''));
}

const dantedText = fc.oneof(
  soup(DANTED_WORDS, 40),
  soup(DANTED_WORDS, 30).map((s) => `${DANTED_HEAD}socks pass { from: 0/0 to: 0/0 ${s} }\n`),
  soup(DANTED_WORDS, 30).map((s) => `${DANTED_HEAD}${s}`),
).map((s) => Buffer.from(s, 'utf8'));
const redsocksText = fc.oneof(soup(REDSOCKS_WORDS, 50), soup(REDSOCKS_WORDS, 30).map((s) => `base { redirector = iptables; }\nredsocks { ${s} }\n`))
  .map((s) => Buffer.from(s, 'utf8'));

/** Configs: parsed whole; every byte cut only for 1 input in CONFIG_CUT_EVERY (a cut parse costs a whole one). */
export const CONFIG_CUT_EVERY = 64;

/** The check and parse count of a config target (every CONFIG_CUT_EVERY-th input is also cut at every byte). */
function configTarget(name: string, arbitrary: fc.Arbitrary<Buffer>, parse: (text: string) => unknown): FuzzTarget {
  let n = 0;
  let m = 0;
  const check = (input: Buffer): void => {
    const text = input.toString('utf8');
    const once = (t: string): void => {
      try {
        parse(t);
      } catch (e) {
        if (!(e instanceof ConfigError) || e.code.endsWith('_INTERNAL')) throw new Crash(`${(e as Error)?.stack}\n  on ${JSON.stringify(t)}`);
      }
    };
    once(text);
    if (n++ % CONFIG_CUT_EVERY === 0) for (let k = 0; k < text.length; k++) once(text.slice(0, k));
  };
  const cuts = (input: Buffer): number => (m++ % CONFIG_CUT_EVERY === 0 ? 1 + input.toString('utf8').length : 1);
  return { name, arbitrary, check, cuts };
}

const streamCuts = (b: Buffer): number => b.length + 1;

export const TARGETS: FuzzTarget[] = [
  configTarget('danted.conf', dantedText, (t) => parseDantedConfig(t, 'fuzz.conf', { lookups: FIXED_LOOKUPS })),
  configTarget('redsocks.conf', redsocksText,
    (t) => parseRedsocksConfig(t, 'fuzz.conf', { resolve: (h) => (h === 'localhost' ? { addresses: ['127.0.0.1'] } : { error: 'not found' }) })),
  { name: 'SOCKS5 greeting', arbitrary: withRaw(greeting), check: streamCheck(socks5.parseGreeting), cuts: streamCuts },
  { name: 'SOCKS5 method selection', arbitrary: withRaw(methodSelection), check: streamCheck(socks5.parseMethodSelection), cuts: streamCuts },
  { name: 'RFC 1929 request', arbitrary: withRaw(userPassRequest), check: streamCheck(socks5.parseUserPassRequest), cuts: streamCuts },
  { name: 'RFC 1929 reply', arbitrary: withRaw(userPassReply), check: streamCheck(socks5.parseUserPassReply), cuts: streamCuts },
  { name: 'SOCKS5 request', arbitrary: withRaw(socks5Request), check: streamCheck(socks5.parseRequest), cuts: streamCuts },
  { name: 'SOCKS5 reply', arbitrary: withRaw(socks5Reply), check: streamCheck(socks5.parseReply), cuts: streamCuts },
  { name: 'SOCKS4/4a request', arbitrary: withRaw(socks4Request), check: streamCheck(socks4.parseRequest), cuts: streamCuts },
  { name: 'SOCKS4 reply', arbitrary: withRaw(socks4Reply), check: streamCheck(socks4.parseReply), cuts: streamCuts },
  {
    name: 'UDP header',
    arbitrary: withRaw(udpHeader),
    // A datagram comes whole: a cut one parses (with less data) or is refused, never crashes.
    check: (b) => {
      for (let k = 0; k <= b.length; k++) run((x) => ({ ...parseUdpDatagram(x), length: x.length }), b.subarray(0, k), [ProtocolError]);
    },
    cuts: streamCuts,
  },
  {
    name: 'optimistic-connect handshake',
    arbitrary: withRaw(ocHandshake),
    check: (b) => {
      for (const e of EXPECTATIONS) {
        streamCheck((x) => parseServerHandshake(x, e))(b);
        for (let k = 0; k <= b.length; k++) run((x) => ({ ...parsePartialHandshake(x, e), length: 0 }), b.subarray(0, k), [ProtocolError]);
      }
    },
    cuts: (b) => EXPECTATIONS.length * 2 * (b.length + 1),
  },
  { name: 'HTTP CONNECT reply head', arbitrary: withRaw(httpHead), check: streamCheck(parseHttpReplyHead, [ProxyError]), cuts: streamCuts },
  { name: 'HTTP request head (http-relay)', arbitrary: withRaw(httpHead), check: streamCheck(parseRequestHead, [ProxyError]), cuts: streamCuts },
];

export interface FuzzResult {
  name: string;
  inputs: number;
  parses: number;
  crashes: number;
  /** The shrunk failing input and its error, when there was one. */
  counterexample?: string;
  seconds: number;
}

/** Runs one target for `inputs` inputs (or until `deadlineMs`), fast-check seeded with `seed`. */
export function fuzz(t: FuzzTarget, inputs: number, seed: number, deadlineMs = Infinity): FuzzResult {
  let done = 0;
  let parses = 0;
  const t0 = performance.now();
  const r = fc.check(fc.property(t.arbitrary, (b) => {
    if (Date.now() > deadlineMs) return true;
    done++;
    parses += t.cuts(b);
    t.check(b);
    return true;
  }), { numRuns: inputs, seed, endOnFailure: true });
  const seconds = (performance.now() - t0) / 1000;
  const failed = r.failed ? `${(r.errorInstance as Error)?.message ?? r.counterexample}`.slice(0, 2000) : undefined;
  return { name: t.name, inputs: done, parses, crashes: r.failed ? 1 : 0, counterexample: failed, seconds };
}
