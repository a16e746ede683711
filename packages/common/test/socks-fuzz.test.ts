/**
 * Split-write fuzzing: every message and coalesced sequences are fed through ReceiveBuffer in every
 * 2-way split and many random chunkings; the parsed results and the leftover bytes must not change.
 */
import {
  Command,
  DEFAULT_OC_AUTH_METHOD,
  DEFAULT_OC_METHOD,
  HandshakeExpectation,
  Method,
  ReceiveBuffer,
  SocksAddress,
  encodeOptimisticHandshake,
  parsePartialHandshake,
  parseServerHandshake,
  socks4,
  socks5,
} from '@mptcp-proxy/common';

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

/** All 2-way splits, all 3-way splits for short inputs, then random chunkings (incl. 1-byte). */
function* chunkings(buf: Buffer, seed = 7): Generator<Buffer[]> {
  yield [buf];
  yield [...buf].map((b) => Buffer.from([b]));
  for (let i = 1; i < buf.length; i++) yield [buf.subarray(0, i), buf.subarray(i)];
  if (buf.length <= 40) {
    for (let i = 1; i < buf.length; i++)
      for (let j = i + 1; j < buf.length; j++) yield [buf.subarray(0, i), buf.subarray(i, j), buf.subarray(j)];
  }
  const r = rng(seed);
  for (let k = 0; k < 60; k++) {
    const out: Buffer[] = [];
    let o = 0;
    while (o < buf.length) {
      const n = 1 + r(Math.min(buf.length - o, 1 + r(24)));
      out.push(buf.subarray(o, o + n));
      o += n;
    }
    yield out;
  }
}

type Parser<T> = (b: Buffer) => (T & { length: number }) | null;

/** Parses one message from a stream delivered as `chunks`; returns it and the leftover bytes. */
function feedOne<T>(chunks: Buffer[], parse: Parser<T>): { msg: T & { length: number }; rest: Buffer } {
  const q = new ReceiveBuffer();
  let msg: (T & { length: number }) | null = null;
  for (const c of chunks) {
    q.push(c);
    if (msg === null) {
      msg = parse(q.peek());
      if (msg !== null) q.consume(msg.length);
    }
  }
  if (msg === null) throw new Error('message never completed');
  return { msg, rest: q.drain() };
}

const trailer = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
const addrs: SocksAddress[] = [
  { type: 'ipv4', host: '192.0.2.33', port: 443 },
  { type: 'ipv6', host: '2001:db8::1:2', port: 80 },
  { type: 'domain', host: 'www.example.org', port: 8443 },
];

describe('single messages survive every split, with trailing bytes intact', () => {
  const cases: Array<[string, Buffer, Parser<unknown>]> = [
    ['greeting', socks5.encodeGreeting([0, 2, 0xa5, 0xa6]), socks5.parseGreeting as Parser<unknown>],
    ['method selection', socks5.encodeMethodSelection(0xa6), socks5.parseMethodSelection as Parser<unknown>],
    ['userpass request', socks5.encodeUserPassRequest('user\u00e9', 'p@ss:word'), socks5.parseUserPassRequest as Parser<unknown>],
    ['userpass reply', socks5.encodeUserPassReply(1), socks5.parseUserPassReply as Parser<unknown>],
    ...addrs.map((a): [string, Buffer, Parser<unknown>] => [`request ${a.type}`, socks5.encodeRequest(1, a), socks5.parseRequest as Parser<unknown>]),
    ...addrs.map((a): [string, Buffer, Parser<unknown>] => [`reply ${a.type}`, socks5.encodeReply(0, a), socks5.parseReply as Parser<unknown>]),
    ['socks4 request', socks4.encodeRequest(1, addrs[0], 'someone'), socks4.parseRequest as Parser<unknown>],
    ['socks4a request', socks4.encodeRequest(1, addrs[2], 'someone'), socks4.parseRequest as Parser<unknown>],
    ['socks4 reply', socks4.encodeReply(90, addrs[0]), socks4.parseReply as Parser<unknown>],
  ];
  test.each(cases)('%s', (_name, msg, parse) => {
    const whole = parse(msg);
    expect(whole).not.toBeNull();
    const stream = Buffer.concat([msg, trailer]);
    let n = 0;
    for (const chunks of chunkings(stream)) {
      const { msg: got, rest } = feedOne(chunks, parse);
      expect(got).toEqual(whole);
      expect(rest.equals(trailer)).toBe(true);
      n++;
    }
    expect(n).toBeGreaterThan(stream.length);
  });
});

/** A server-side reader: greeting -> [RFC 1929 when 02/a6 chosen] -> request -> early data. */
function serverRead(chunks: Buffer[], select: (methods: number[]) => number) {
  const q = new ReceiveBuffer();
  let state: 'greeting' | 'auth' | 'request' | 'data' = 'greeting';
  const seen: Record<string, unknown> = {};
  for (const c of chunks) {
    q.push(c);
    for (;;) {
      if (state === 'greeting') {
        const g = socks5.parseGreeting(q.peek());
        if (!g) break;
        q.consume(g.length);
        seen.greeting = g.methods;
        const m = select(g.methods);
        state = m === Method.UserPass || m === DEFAULT_OC_AUTH_METHOD ? 'auth' : 'request';
      } else if (state === 'auth') {
        const a = socks5.parseUserPassRequest(q.peek());
        if (!a) break;
        q.consume(a.length);
        seen.auth = [a.username.toString(), a.password.toString()];
        state = 'request';
      } else if (state === 'request') {
        const r = socks5.parseRequest(q.peek());
        if (!r) break;
        q.consume(r.length);
        seen.request = { command: r.command, address: r.address };
        state = 'data';
      } else break;
    }
  }
  seen.state = state;
  seen.early = q.drain();
  return seen;
}

describe('coalesced client handshakes (greeting + auth + request + early data)', () => {
  const early = Buffer.concat([trailer, Buffer.from([0, 5, 1, 0, 1, 0xff])]); // early data that looks like SOCKS
  const variants = [
    { name: 'OC no auth', opts: { method: DEFAULT_OC_METHOD } },
    { name: 'OC auth', opts: { method: DEFAULT_OC_AUTH_METHOD, auth: { user: 'alice', pass: 's3cret' } } },
    { name: 'plain pipelined', opts: { method: Method.NoAuth } },
    { name: 'plain pipelined auth', opts: { method: Method.UserPass, auth: { user: 'u', pass: '' } } },
  ];
  for (const v of variants) {
    for (const address of addrs) {
      test(`${v.name} to ${address.type}`, () => {
        const bytes = encodeOptimisticHandshake({ ...v.opts, address, earlyData: early });
        const select = (ms: number[]): number => ms[0];
        const ref = serverRead([bytes], select);
        expect(ref.state).toBe('data');
        expect(ref.request).toEqual({ command: Command.Connect, address });
        expect((ref.early as Buffer).equals(early)).toBe(true);
        if (v.opts.auth) expect(ref.auth).toEqual([v.opts.auth.user, v.opts.auth.pass]);
        for (const chunks of chunkings(bytes, bytes.length)) {
          const got = serverRead(chunks, select);
          expect(got).toEqual(ref);
        }
      });
    }
  }
  test('bytes of the OC no-auth handshake match docs/optimistic-connect.md §3', () => {
    const b = encodeOptimisticHandshake({ method: 0xa5, address: addrs[0], earlyData: Buffer.from('hi') });
    expect(b.toString('hex')).toBe('0502a500' + '05010001c0000221' + '01bb' + '6869');
    const a = encodeOptimisticHandshake({ method: 0xa6, auth: { user: 'u', pass: 'p' }, address: addrs[0] });
    expect(a.toString('hex')).toBe('0502a602' + '0101750170' + '05010001c000022101bb');
  });
});

describe('server answers (parseServerHandshake over a ReceiveBuffer) under every chunking', () => {
  const downstream = Buffer.from('HTTP/1.1 200 OK\r\n\r\n\x05\x00');
  const bnd: SocksAddress = { type: 'ipv4', host: '198.51.100.7', port: 40000 };
  const cases: Array<{ name: string; bytes: Buffer; expect: HandshakeExpectation; want: object; rest: Buffer }> = [
    {
      name: 'OC success + data',
      bytes: Buffer.concat([socks5.encodeMethodSelection(0xa5), socks5.encodeReply(0, bnd), downstream]),
      expect: { authMethodOffered: false, offeredMethods: [0xa5, 0] },
      want: { method: 0xa5, reply: { rep: 0, address: bnd }, ok: true },
      rest: downstream,
    },
    {
      name: 'OC auth success + data',
      bytes: Buffer.concat([socks5.encodeMethodSelection(0xa6), socks5.encodeUserPassReply(0), socks5.encodeReply(0, addrs[1]), downstream]),
      expect: { authMethodOffered: true, offeredMethods: [0xa6, 2] },
      want: { method: 0xa6, authStatus: 0, reply: { rep: 0, address: addrs[1] }, ok: true },
      rest: downstream,
    },
    {
      name: 'plain server picks 02 and refuses the connect',
      bytes: Buffer.concat([socks5.encodeMethodSelection(2), socks5.encodeUserPassReply(0), socks5.encodeReply(5)]),
      expect: { authMethodOffered: true },
      want: { method: 2, authStatus: 0, reply: { rep: 5, address: { type: 'ipv4', host: '0.0.0.0', port: 0 } }, ok: false },
      rest: Buffer.alloc(0),
    },
    {
      name: 'auth failure stops before the reply',
      bytes: Buffer.concat([socks5.encodeMethodSelection(0xa6), socks5.encodeUserPassReply(1)]),
      expect: { authMethodOffered: true },
      want: { method: 0xa6, authStatus: 1, ok: false },
      rest: Buffer.alloc(0),
    },
    {
      name: 'no acceptable methods',
      bytes: socks5.encodeMethodSelection(0xff),
      expect: { authMethodOffered: false },
      want: { method: 0xff, ok: false },
      rest: Buffer.alloc(0),
    },
  ];
  test.each(cases)('$name', ({ bytes, expect: ex, want, rest }) => {
    for (const chunks of chunkings(bytes, 3)) {
      const { msg, rest: got } = feedOne(chunks, (b) => parseServerHandshake(b, ex));
      expect(msg).toMatchObject(want);
      expect(got.equals(rest)).toBe(true);
    }
  });
  test('method not matching what was pipelined throws', () => {
    expect(() => parseServerHandshake(socks5.encodeMethodSelection(0), { authMethodOffered: true })).toThrow(
      expect.objectContaining({ code: 'ESOCKS_METHOD_UNEXPECTED' }),
    );
    expect(() => parseServerHandshake(socks5.encodeMethodSelection(0x80), { authMethodOffered: false, offeredMethods: [0xa5, 0] })).toThrow(
      expect.objectContaining({ code: 'ESOCKS_METHOD_UNEXPECTED' }),
    );
  });
  test('truncated failure reply is visible on EOF via parsePartialHandshake()', () => {
    const ex = { authMethodOffered: false };
    expect(parseServerHandshake(Buffer.from([5, 0xa5, 5]), ex)).toBeNull();
    expect(parsePartialHandshake(Buffer.from([5, 0xa5, 5]), ex)).toEqual({ method: 0xa5 });
    expect(parseServerHandshake(Buffer.from([5, 0xa5, 5, 4]), ex)).toBeNull();
    expect(parsePartialHandshake(Buffer.from([5, 0xa5, 5, 4]), ex)).toEqual({ method: 0xa5, rep: 4 });
  });
});
