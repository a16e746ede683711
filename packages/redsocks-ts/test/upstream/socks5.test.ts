/**
 * socks5 upstream, plain mode: the exact bytes redsocks 0.5 sends, one message at a time,
 * each reply awaited (docs/redsocks-compat.md), against a real loopback peer.
 */
import { socks5Upstream } from '../../src/upstream/socks5';
import {
  OK_REPLY,
  ScriptedServer,
  appData,
  connectBytes,
  harness,
  hex,
  testSection,
  type Harness,
} from '../helpers/upstream';

const DEST = { address: '192.0.2.7', port: 8080 };

let server: ScriptedServer | undefined;
let h: Harness | undefined;
/** A fresh protocol object (and so a fresh server-capabilities cache) for each test. */
let socks5 = socks5Upstream();

afterEach(async () => {
  h?.close();
  h = undefined;
  await server?.close();
  server = undefined;
  socks5 = socks5Upstream();
});

describe('socks5 plain mode (redsocks bytes)', () => {
  test('no auth: 05 01 00, then CONNECT with ATYP 1, each after its reply; early data after the reply', async () => {
    const seenAtReply: string[] = [];
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(3);
      seenAtReply.push(hex(c.received));
      await c.write([5, 0]);
      await c.bytes(13);
      seenAtReply.push(hex(c.received));
      await c.write([...OK_REPLY, ...Buffer.from('hello')]);
      await c.bytes(13 + 4);
      await c.write('!');
    });
    h = await harness(testSection({ port: server.port }), DEST);
    h.app.write('PING');
    const t = await h.run(socks5);
    expect(seenAtReply).toEqual([hex([5, 1, 0]), hex([5, 1, 0, ...connectBytes(DEST.address, DEST.port)])]);
    expect(t.leftover.toString()).toBe('hello');
    expect((await appData(h, 6)).toString()).toBe('hello!');
    expect(server.conns[0].received.subarray(13).toString()).toBe('PING');
    expect(h.dials).toEqual([{ fastOpen: false }]);
    expect(h.streamedEarly).toBe(true);
  });

  test('login + password: 05 02 00 02, RFC 1929 01 ULEN USER PLEN PASS, then CONNECT', async () => {
    const seenAtReply: string[] = [];
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(4);
      seenAtReply.push(hex(c.received));
      await c.write([5, 2]);
      await c.bytes(4 + 11);
      seenAtReply.push(hex(c.received.subarray(4)));
      await c.write([1, 0]);
      await c.bytes(4 + 11 + 10);
      seenAtReply.push(hex(c.received.subarray(15)));
      await c.write(OK_REPLY);
    });
    h = await harness(testSection({ port: server.port, login: 'user', password: 'pass' }), DEST);
    const t = await h.run(socks5);
    expect(seenAtReply).toEqual([
      hex([5, 2, 0, 2]),
      hex([1, 4, ...Buffer.from('user'), 4, ...Buffer.from('pass')]),
      hex(connectBytes(DEST.address, DEST.port)),
    ]);
    expect(t.leftover.length).toBe(0);
  });

  test('login without password: credentials are dropped, greeting is 05 01 00', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(3);
      await c.write([5, 0]);
      await c.bytes(13);
      await c.write(OK_REPLY);
    });
    h = await harness(testSection({ port: server.port, login: 'user' }), DEST);
    await h.run(socks5);
    expect(hex(server.conns[0].received.subarray(0, 3))).toBe('050100');
  });

  test('replies split into single-byte segments, with a domain BND.ADDR', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(3);
      await c.writeSplit([5, 0]);
      await c.bytes(13);
      await c.writeSplit([5, 0, 0, 3, 7, ...Buffer.from('example'), 0x1f, 0x90, ...Buffer.from('xy')]);
    });
    h = await harness(testSection({ port: server.port }), DEST);
    const t = await h.run(socks5);
    // Bytes past the reply are the client's (the leftover, then the relay): none lost, none extra.
    expect(t.leftover.length).toBeLessThanOrEqual(2);
    expect((await appData(h, 2)).toString()).toBe('xy');
  });

  test('method reply and CONNECT reply coalesced with data do not lose bytes', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(3);
      await c.write([5, 0]);
      await c.bytes(13);
      await c.write([5, 0, 0, 4, ...new Array(16).fill(0), 0, 0, ...Buffer.from('v6-data')]);
    });
    h = await harness(testSection({ port: server.port }), DEST);
    const t = await h.run(socks5);
    expect(t.leftover.toString()).toBe('v6-data');
  });

  test('REP != 0: rejects with redsocks text, FIN (no reset), nothing reaches the app', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(3);
      await c.write([5, 0]);
      await c.bytes(13);
      await c.write([5, 5, 0, 1, 0, 0, 0, 0, 0, 0, ...Buffer.from('junk')]);
    });
    h = await harness(testSection({ port: server.port }), DEST);
    await expect(h.run(socks5)).rejects.toMatchObject({
      message: 'Socks5 server status: connection refused (5)',
      code: 'ESOCKS5_STATUS',
      resetClient: false,
    });
    expect((await appData(h, 1)).length).toBe(0);
  });

  test('truncated failure reply (05 02 then EOF) still reports the status', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(3);
      await c.write([5, 0]);
      await c.bytes(13);
      await c.write([5, 2]);
      c.socket.end();
    });
    h = await harness(testSection({ port: server.port }), DEST);
    await expect(h.run(socks5)).rejects.toMatchObject({
      message: 'Socks5 server status: connection not allowed by ruleset (2)',
    });
  });

  test.each([
    ['server refuses all methods (FF)', [5, 0xff], true, 'Socks5 server refused all our auth methods.'],
    ['server asks for 02 without configured credentials', [5, 2], false, 'Socks5 server requested unexpected auth method...'],
    ['wrong method reply version', [4, 0], false, 'Socks5 server reported unexpected auth methods reply version...'],
  ])('%s', async (_name, reply, end, message) => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(3);
      await c.write(reply);
      if (end) c.socket.end();
    });
    h = await harness(testSection({ port: server.port }), DEST);
    await expect(h.run(socks5)).rejects.toMatchObject({ message });
    // nothing after the greeting: no auth, no CONNECT
    expect(server.conns[0].received.length).toBe(3);
  });

  test('auth failure: status reported, CONNECT never sent', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(4);
      await c.write([5, 2]);
      await c.bytes(15);
      await c.write([1, 1]);
      c.socket.end();
    });
    h = await harness(testSection({ port: server.port, login: 'user', password: 'pass' }), DEST);
    await expect(h.run(socks5)).rejects.toMatchObject({ message: 'Socks5 auth failure, status 1' });
    await server.conns[0].eof();
    expect(server.conns[0].received.length).toBe(15);
  });

  test('EOF before any reply', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(3);
      c.socket.end();
    });
    h = await harness(testSection({ port: server.port }), DEST);
    await expect(h.run(socks5)).rejects.toMatchObject({ message: "Can't get expected amount of data" });
  });

  test('fastopen = on asks the dialer for TFO in plain mode too', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(3);
      await c.write([5, 0]);
      await c.bytes(13);
      await c.write(OK_REPLY);
    });
    h = await harness(testSection({ port: server.port, fastopen: true }), DEST);
    await h.run(socks5);
    expect(h.dials).toEqual([{ fastOpen: true }]);
  });
});
