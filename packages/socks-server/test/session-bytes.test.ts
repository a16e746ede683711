/**
 * Byte-level session tests over real loopback sockets: split and coalesced
 * handshakes, optimistic connect (success and every failure), reply codes.
 * Each OC failure asserts that the destination (a real listener) got ZERO bytes.
 * The config has no `extension.optimistic` line: OC is on by default (issue 10) for clients the
 * client rules pass, so the contract (early bytes held until auth and the socks rules pass) is
 * proven against the default.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawClient, Sink, Fixture, ipv4Request, serverFrom, sink, sleep, userPass } from './helpers/fixture';
import { removeTempDir, tempDir, waitFor } from '@mptcp-proxy/lab';

const dir = tempDir('socks-bytes-');
afterAll(() => removeTempDir(dir));
const pwfile = join(dir, 'passwd');
const hash = execFileSync('openssl', ['passwd', '-6', '-salt', 'pepper', 'secret'], { encoding: 'utf8' }).trim();
writeFileSync(pwfile, `alice:${hash}\n`);

let dest: Sink;
let blocked: Sink;
let fx: Fixture;

function conf(): string {
  return `
internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: username none
clientmethod: none
timeout.negotiate: 2
extension.timeout.negotiate.pool: 2
extension.passwordfile: ${pwfile}
client pass { from: 0/0 to: 0/0
  log: error connect disconnect }
socks block { from: 0/0 to: 127.0.0.1/32 port = ${blocked.port}
  log: error connect }
socks pass { from: 0/0 to: 0/0
  command: connect bind udpassociate bindreply udpreply
  log: error connect disconnect }
`;
}

beforeAll(async () => {
  dest = await sink({ echo: true });
  blocked = await sink();
  fx = await serverFrom(conf());
});

afterAll(async () => {
  await fx.close();
  await dest.close();
  await blocked.close();
});

beforeEach(() => {
  dest.received.length = 0;
  dest.connections = 0;
});

const OK_REPLY_LEN = 10;

describe('plain SOCKS5 framing', () => {
  test('greeting, request and data split into single bytes', async () => {
    const c = await RawClient.connect(fx.port);
    const all = Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', dest.port), Buffer.from('hello')]);
    for (const b of all.subarray(0, 13)) {
      c.write([b]);
      await sleep(2);
    }
    expect([...(await c.read(2))]).toEqual([5, 0]);
    const rep = await c.read(OK_REPLY_LEN);
    expect(rep[1]).toBe(0);
    c.write(all.subarray(13));
    expect((await c.read(5)).toString()).toBe('hello');
    expect(dest.total().toString()).toBe('hello');
    c.destroy();
  });

  test('greeting + request + data coalesced in one write: no byte lost', async () => {
    const c = await RawClient.connect(fx.port);
    const payload = Buffer.from('GET / HTTP/1.0\r\n\r\n');
    c.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', dest.port), payload]));
    const head = await c.read(2 + OK_REPLY_LEN);
    expect(head[1]).toBe(0);
    expect(head[3]).toBe(0);
    expect((await c.read(payload.length)).equals(payload)).toBe(true);
    expect(dest.total().equals(payload)).toBe(true);
    c.destroy();
  });

  test('random split points over many runs keep every byte in order', async () => {
    for (let run = 0; run < 8; run++) {
      dest.received.length = 0;
      const c = await RawClient.connect(fx.port);
      const payload = Buffer.from(`run ${run} ${'x'.repeat(run * 37)}`);
      const all = Buffer.concat([Buffer.from([5, 2, 2, 0]), userPass('alice', 'secret'), ipv4Request(1, '127.0.0.1', dest.port), payload]);
      let off = 0;
      while (off < all.length) {
        const n = 1 + ((run * 7 + off) % 9);
        c.write(all.subarray(off, off + n));
        off += n;
        await sleep(1);
      }
      expect([...(await c.read(4))]).toEqual([5, 2, 1, 0]);
      expect((await c.read(OK_REPLY_LEN))[1]).toBe(0);
      expect((await c.read(payload.length)).equals(payload)).toBe(true);
      expect(dest.total().equals(payload)).toBe(true);
      c.destroy();
    }
  });

  test('curl-style 00 02 offer with username first picks 02, never 00', async () => {
    const c = await RawClient.connect(fx.port);
    c.write([5, 2, 0, 2]);
    expect([...(await c.read(2))]).toEqual([5, 2]);
    c.destroy();
  });

  test('unknown command gets REP 07, bad ATYP gets REP 08, both full replies', async () => {
    const a = await RawClient.connect(fx.port);
    a.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(9, '127.0.0.1', dest.port)]));
    const ra = await a.untilEnd();
    expect([...ra.subarray(0, 2)]).toEqual([5, 0]);
    expect(ra.length).toBe(2 + 10);
    expect(ra[3]).toBe(7);
    const b = await RawClient.connect(fx.port);
    b.write([5, 1, 0, 5, 1, 0, 7, 1, 2, 3, 4, 0, 80]);
    const rb = await b.untilEnd();
    expect(rb.length).toBe(12);
    expect(rb[3]).toBe(8);
  });

  test('no acceptable method: 05 FF and close', async () => {
    const c = await RawClient.connect(fx.port);
    c.write([5, 1, 0x80]);
    expect([...(await c.untilEnd())]).toEqual([5, 0xff]);
    await waitFor(() => fx.lines.some((l) => l.includes('client offered no acceptable authentication method')));
  });

  test('a client sending one byte per second is cut by timeout.negotiate', async () => {
    const c = await RawClient.connect(fx.port);
    const bytes = [5, 2, 2, 0, ...userPass('alice', 'secret')];
    let sent = 0;
    const trickle = setInterval(() => {
      if (!c.closed && sent < bytes.length) c.write([bytes[sent++]]);
    }, 1000);
    await c.untilEnd(15000);
    clearInterval(trickle);
    expect(sent).toBeLessThan(bytes.length);
    await waitFor(() => fx.lines.some((l) => /tcp\/accept \]: .*negotiate timeout after \d+ seconds/.test(l)), 5000, 'log line');
  });
});

describe('optimistic connect (A5/A6)', () => {
  test('A5: one write, coalesced 05 A5 + reply, exact early bytes at the destination', async () => {
    const early = Buffer.from('early-bytes-\x00\x05\x01-not-a-request');
    const c = await RawClient.connect(fx.port);
    c.write(Buffer.concat([Buffer.from([5, 2, 0xa5, 0]), ipv4Request(1, '127.0.0.1', dest.port), early]));
    const head = await c.read(2 + OK_REPLY_LEN);
    expect([...head.subarray(0, 4)]).toEqual([5, 0xa5, 5, 0]);
    expect((await c.read(early.length)).equals(early)).toBe(true);
    await waitFor(() => dest.total().length === early.length);
    expect(dest.total().equals(early)).toBe(true);
    c.destroy();
  });

  test('A6: method, auth status and reply coalesced; later data streams in order', async () => {
    const c = await RawClient.connect(fx.port);
    c.write(Buffer.concat([Buffer.from([5, 2, 0xa6, 2]), userPass('alice', 'secret'), ipv4Request(1, '127.0.0.1', dest.port), Buffer.from('one,')]));
    c.write(Buffer.from('two'));
    const head = await c.read(4 + OK_REPLY_LEN);
    expect([...head.subarray(0, 6)]).toEqual([5, 0xa6, 1, 0, 5, 0]);
    expect((await c.read(7)).toString()).toBe('one,two');
    c.destroy();
  });

  test('A6 auth failure: status 01, close, zero early bytes and no connection at the destination', async () => {
    const c = await RawClient.connect(fx.port);
    c.write(Buffer.concat([Buffer.from([5, 2, 0xa6, 2]), userPass('alice', 'WRONG'), ipv4Request(1, '127.0.0.1', dest.port), Buffer.from('secret early data')]));
    const got = await c.untilEnd();
    expect([...got]).toEqual([5, 0xa6, 1, 1]);
    await sleep(100);
    expect(dest.connections).toBe(0);
    expect(dest.total().length).toBe(0);
    expect(fx.lines.some((l) => l.includes('authentication failed for user "alice"'))).toBe(true);
  });

  test('rule block: REP 02 and zero early bytes at the (listening) destination', async () => {
    blocked.received.length = 0;
    const c = await RawClient.connect(fx.port);
    c.write(Buffer.concat([Buffer.from([5, 2, 0xa5, 0]), ipv4Request(1, '127.0.0.1', blocked.port), Buffer.from('early'), Buffer.from([5, 1, 0])]));
    const got = await c.untilEnd();
    expect([...got.subarray(0, 4)]).toEqual([5, 0xa5, 5, 2]);
    expect(got.length).toBe(2 + 10);
    await sleep(100);
    expect(blocked.connections).toBe(0);
    expect(blocked.total().length).toBe(0);
    expect(fx.lines.some((l) => l.includes(`block(1): tcp/connect ]:`) && l.includes(`127.0.0.1.${blocked.port}`))).toBe(true);
  });

  test('connect refused: REP 05, early data discarded and never parsed as a request', async () => {
    const closed = await sink();
    const port = closed.port;
    await closed.close();
    const c = await RawClient.connect(fx.port);
    // The early data is itself a valid request to `dest`; it must not be acted on.
    const smuggled = Buffer.concat([ipv4Request(1, '127.0.0.1', dest.port), Buffer.from('smuggled')]);
    c.write(Buffer.concat([Buffer.from([5, 2, 0xa5, 0]), ipv4Request(1, '127.0.0.1', port), smuggled]));
    const got = await c.untilEnd();
    expect([...got.subarray(0, 4)]).toEqual([5, 0xa5, 5, 5]);
    expect(got.length).toBe(12);
    await sleep(100);
    expect(dest.connections).toBe(0);
    expect(dest.total().length).toBe(0);
    expect(fx.lines.some((l) => l.includes('remote peer error (Connection refused)'))).toBe(true);
  });

  test('early data beyond the cap is held back, not dropped (all bytes arrive)', async () => {
    const big = Buffer.alloc(300 * 1024, 7);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    const c = await RawClient.connect(fx.port);
    c.write(Buffer.concat([Buffer.from([5, 2, 0xa5, 0]), ipv4Request(1, '127.0.0.1', dest.port), big]));
    const head = await c.read(12);
    expect(head[3]).toBe(0);
    const echoed = await c.read(big.length, 15000);
    expect(echoed.equals(big)).toBe(true);
    c.destroy();
  });

  test('plain clients are unaffected when OC is on: 00 offer gets 00', async () => {
    const c = await RawClient.connect(fx.port);
    c.write([5, 1, 0]);
    expect([...(await c.read(2))]).toEqual([5, 0]);
    c.destroy();
  });
});

describe('timeouts and OC limits', () => {
  test('timeout.io cuts an idle relayed connection with "i/o timeout"', async () => {
    const d = await sink();
    const f = await serverFrom(`internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: none
timeout.io: 1
client pass { from: 0/0 to: 0/0
  log: error disconnect }
socks pass { from: 0/0 to: 0/0
  log: connect disconnect error }
`);
    const c = await RawClient.connect(f.port);
    c.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', d.port), Buffer.from('a')]));
    expect((await c.read(12))[3]).toBe(0);
    await c.untilEnd(10000);
    await waitFor(() => f.lines.some((l) => /tcp\/connect \]: 0 -> .* -> 1, 1 -> .*: i\/o timeout\./.test(l)));
    await f.close();
    await d.close();
  });

  test('per-client cap on pending OC connects: the excess request gets REP 01, zero bytes sent', async () => {
    const d = await sink();
    const f = await serverFrom(`internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: none
extension.optimistic: yes
client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0 }
`, { ocLimits: { maxPendingPerClient: 1 } });
    // A name that needs the resolver keeps the first request pending while the second arrives.
    const name = Buffer.from('localhost');
    const domainReq = Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([d.port >> 8, d.port & 255])]);
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    a.write(Buffer.concat([Buffer.from([5, 1, 0xa5]), domainReq, Buffer.from('A')]));
    b.write(Buffer.concat([Buffer.from([5, 1, 0xa5]), ipv4Request(1, '127.0.0.1', d.port), Buffer.from('B')]));
    const ra = await a.read(12);
    const rb = await b.read(4);
    const reps = [ra[3], rb[3]].sort();
    // Whichever came second while the other was pending is refused; if they did not overlap, both pass.
    expect(reps[0]).toBe(0);
    expect([0, 1]).toContain(reps[1]);
    await waitFor(() => d.total().length >= (reps[1] === 0 ? 2 : 1));
    expect(['A', 'B', 'AB', 'BA']).toContain(d.total().toString());
    if (reps[1] === 1) expect(d.total().length).toBe(1);
    a.destroy();
    b.destroy();
    await f.close();
    await d.close();
  });
});

test('the pending-OC cap is per destination: connects hanging on a dead one do not refuse the client elsewhere', async () => {
  // A destination that never answers: a listener whose accept queue is full drops further SYNs.
  const py = spawn('python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\n'
    + 'print(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const deadPort = Number(await new Promise<string>((r) => py.stdout!.once('data', (b: Buffer) => r(b.toString()))));
  const fillers = [await RawClient.connect(deadPort)];
  const d = await sink();
  const f = await serverFrom(`internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: none
extension.optimistic: yes
client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0 }
`, { ocLimits: { maxPendingPerClient: 1 } });
  try {
    const hung = await RawClient.connect(f.port);
    hung.write(Buffer.concat([Buffer.from([5, 1, 0xa5]), ipv4Request(1, '127.0.0.1', deadPort), Buffer.from('x')]));
    await waitFor(() => f.srv.clientList().some((l) => l.includes(': connecting')), 5000, 'the hanging connect');
    const ok = await RawClient.connect(f.port);
    ok.write(Buffer.concat([Buffer.from([5, 1, 0xa5]), ipv4Request(1, '127.0.0.1', d.port), Buffer.from('y')]));
    expect([...(await ok.read(12)).subarray(0, 4)]).toEqual([5, 0xa5, 5, 0]);
    await waitFor(() => d.total().toString() === 'y');
    // A second connect to the dead destination is over the cap.
    const over = await RawClient.connect(f.port);
    over.write(Buffer.concat([Buffer.from([5, 1, 0xa5]), ipv4Request(1, '127.0.0.1', deadPort), Buffer.from('z')]));
    expect((await over.read(4))[3]).toBe(1);
    [hung, ok, over].forEach((c) => c.destroy());
  } finally {
    await f.close();
    await d.close();
    fillers.forEach((c) => c.destroy());
    py.kill();
  }
});

test('IPv6: internal ::1, external ::1, ATYP 04 CONNECT to an IPv6 destination', async () => {
  const d = await sink({ echo: true, host: '::1' });
  const f = await serverFrom(`internal.protocol: ipv4 ipv6
internal: ::1 port = 1080
external.protocol: ipv4 ipv6
external: ::1
socksmethod: none
client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0
  log: connect }
`);
  const c = await RawClient.connect(f.port, '::1');
  const req = Buffer.alloc(22);
  req.set([5, 1, 0, 4]);
  req[19] = 1; // ::1
  req.writeUInt16BE(d.port, 20);
  c.write(Buffer.concat([Buffer.from([5, 1, 0]), req, Buffer.from('six')]));
  const head = await c.read(2 + 22);
  expect(head[3]).toBe(0);
  expect(head[5]).toBe(4); // BND is IPv6
  expect((await c.read(3)).toString()).toBe('six');
  await waitFor(() => f.lines.some((l) => l.includes(`-> ::1.`) && l.includes(`::1.${d.port}`)));
  c.destroy();
  await f.close();
  await d.close();
});
