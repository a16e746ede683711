/**
 * socks5 upstream, optimistic connect and the `auto` probe (docs/optimistic-connect.md), byte level,
 * against a real loopback peer that records what arrived before each answer.
 */
import { waitFor } from '@mptcp-proxy/lab';
import { socks5Upstream } from '../../src/upstream/socks5';
import { ServerCapabilities, serverKey } from '../../src/upstream/server-capabilities';
import { earlyDataIsIdempotent, earlyDataMayRideSyn } from '../../src/upstream/fastopen-policy';
import {
  OK_REPLY,
  ScriptedServer,
  appData,
  connectBytes,
  harness,
  hex,
  testSection,
  type Harness,
  type PeerConn,
} from '../helpers/upstream';

const DEST = { address: '198.51.100.9', port: 443 };
const REQ = connectBytes(DEST.address, DEST.port);
const CREDS = [1, 4, ...Buffer.from('user'), 4, ...Buffer.from('pass')];

let server: ScriptedServer | undefined;
const hs: Harness[] = [];
/** A fresh cache and protocol object for each test (the daemon owns one of each). */
let caps = new ServerCapabilities();
let socks5 = socks5Upstream(caps);

afterEach(async () => {
  for (const h of hs.splice(0)) h.close();
  await server?.close();
  server = undefined;
  caps = new ServerCapabilities();
  socks5 = socks5Upstream(caps);
});

/** Until the first connection at the scripted server has delivered `n` bytes. */
const serverReceived = (n: number): Promise<boolean> =>
  waitFor(() => (server?.conns[0]?.received.length ?? 0) >= n, 10000, `${n} bytes at the server`);

/**
 * Writes `first`, starts the handshake, writes `second` once `first` reached the server (greeting
 * with one method + CONNECT = 14 bytes before it), and returns the stream bytes the server got.
 */
async function streamTwo(h: Harness, first: string, second: string): Promise<string> {
  h.app.write(first);
  const run = h.run(socks5);
  await serverReceived(14 + first.length);
  h.app.write(second);
  await run;
  return server!.conns[0].received.subarray(14).toString();
}

/** A plain RFC 1928 server's side of redsocks' sequential exchange: greeting, then CONNECT. */
async function answerSequential(c: PeerConn): Promise<void> {
  await c.bytes(3);
  await c.write([5, 0]);
  await c.bytes(13); // greeting + CONNECT so far
  await c.write(OK_REPLY);
}

async function make(over: Parameters<typeof testSection>[0]): Promise<Harness> {
  const h = await harness(testSection({ optimistic: 'on', optimisticGatherMs: 2000, ...over }), DEST);
  hs.push(h);
  return h;
}

describe('optimistic connect', () => {
  test('no auth: greeting {A5,00} + CONNECT + early data in ONE write; coalesced answer', async () => {
    const early = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    const first = Buffer.from([5, 2, 0xa5, 0, ...REQ, ...early]);
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(first.length);
      await c.write([5, 0xa5, ...OK_REPLY, ...Buffer.from('HTTP/1.1 200 OK')]);
    });
    const h = await make({ port: server.port });
    h.app.write(early);
    const t = await h.run(socks5);
    const conn = server.conns[0];
    expect(hex(conn.chunks[0])).toBe(hex(first));
    expect(t.leftover.toString()).toBe('HTTP/1.1 200 OK');
    expect((await appData(h, 15)).toString()).toBe('HTTP/1.1 200 OK');
    expect(caps.get(serverKey('127.0.0.1', server.port))).toBe('oc');
  });

  test('auth: {A6,02} + RFC 1929 + CONNECT + data in one write; answer split byte by byte', async () => {
    const early = Buffer.from('hello');
    const first = Buffer.from([5, 2, 0xa6, 2, ...CREDS, ...REQ, ...early]);
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(first.length);
      await c.writeSplit([5, 0xa6, 1, 0, ...OK_REPLY, ...Buffer.from('ok')]);
    });
    const h = await make({ port: server.port, login: 'user', password: 'pass' });
    h.app.write(early);
    await h.run(socks5);
    expect(hex(server.conns[0].chunks[0])).toBe(hex(first));
    expect((await appData(h, 2)).toString()).toBe('ok');
  });

  test('custom method numbers from the config', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(4 + 10 + 1);
      await c.write([5, 0xc1, ...OK_REPLY]);
    });
    const h = await make({ port: server.port, optimisticMethod: 0xc1, optimisticAuthMethod: 0xc2 });
    h.app.write('x');
    await h.run(socks5);
    expect(hex(server.conns[0].received.subarray(0, 4))).toBe('0502c100');
  });

  test('later client data streams before the reply arrives', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(4 + 10 + 5);
      await c.write([5, 0xa5]);
      // Only answer CONNECT once the second client write got here without a reply.
      await c.bytes(4 + 10 + 5 + 6);
      await c.write(OK_REPLY);
    });
    expect(await streamTwo(await make({ port: server.port }), 'first', 'second')).toBe('firstsecond');
  });

  test('a known OC server gets later data before even the method reply', async () => {
    caps.clear();
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(4 + 10 + 3 + 4);
      await c.write([5, 0xa5, ...OK_REPLY]);
    });
    caps.set(serverKey('127.0.0.1', server.port), 'oc', 60);
    expect(await streamTwo(await make({ port: server.port }), 'one', 'two!')).toBe('onetwo!');
  });

  test('REP != 0: rejects with resetClient, the app gets an RST and no byte', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(4 + 10 + 4);
      await c.write([5, 0xa5, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0, ...Buffer.from('must not reach the app')]);
    });
    const h = await make({ port: server.port });
    h.app.write('data');
    const reset = new Promise<string | undefined>((r) => h.app.once('error', (e: NodeJS.ErrnoException) => r(e.code)));
    await expect(h.run(socks5)).rejects.toMatchObject({
      message: 'Socks5 server status: connection not allowed by ruleset (2)',
      resetClient: true,
      rep: 2,
    });
    expect(await reset).toBe('ECONNRESET');
    expect(h.appReceived().length).toBe(0);
  });

  test('auth failure under A6: resetClient, nothing relayed', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(4 + CREDS.length + 10 + 1);
      await c.write([5, 0xa6, 1, 1]);
      c.socket.end();
    });
    const h = await make({ port: server.port, login: 'user', password: 'pass' });
    h.app.write('z');
    await expect(h.run(socks5)).rejects.toMatchObject({ message: 'Socks5 auth failure, status 1', resetClient: true });
    expect(h.appReceived().length).toBe(0);
  });

  test('a plain server picking 00 pipelines fine: works, cached as "pipeline"', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(4 + 10 + 3);
      await c.write([5, 0]);
      await c.write([...OK_REPLY, ...Buffer.from('pong')]);
    });
    const h = await make({ port: server.port });
    h.app.write('abc');
    await h.run(socks5);
    expect((await appData(h, 4)).toString()).toBe('pong');
    expect(caps.get(serverKey('127.0.0.1', server.port))).toBe('pipeline');
  });

  test('no client bytes within optimistic_gather_ms: handshake goes alone', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(14);
      await c.write([5, 0xa5, ...OK_REPLY]);
      await c.bytes(14 + 5);
    });
    const h = await make({ port: server.port, optimisticGatherMs: 1 });
    await h.run(socks5);
    h.app.write('later');
    await server.conns[0].bytes(19);
    expect(hex(server.conns[0].chunks[0])).toBe(hex([5, 2, 0xa5, 0, ...REQ]));
  });

  test('EOF before the method reply with non-replayable early data: reset, cached sequential', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(4 + 10 + 4);
      c.socket.end();
    });
    const h = await make({ port: server.port });
    h.app.write('POST');
    await expect(h.run(socks5)).rejects.toMatchObject({ resetClient: true, code: 'ESOCKS5_PIPELINE' });
    expect(caps.get(serverKey('127.0.0.1', server.port))).toBe('sequential');
  });

  test('EOF before the method reply with a TLS ClientHello: replayed on a sequential retry', async () => {
    const hello = Buffer.from([0x16, 3, 1, 0, 4, 1, 2, 3, 4]);
    server = await ScriptedServer.start(async (c, i) => {
      if (i === 0) {
        await c.bytes(4 + 10 + hello.length);
        c.socket.end();
        return;
      }
      await answerSequential(c);
    });
    const h = await make({ port: server.port });
    h.app.write(hello);
    await h.run(socks5);
    const second = server.conns[1];
    await second.bytes(13 + hello.length);
    expect(hex(second.received)).toBe(hex([5, 1, 0, ...REQ, ...hello]));
  });

  test('a cached "sequential" server gets redsocks plain bytes even with optimistic = on', async () => {
    server = await ScriptedServer.start(answerSequential);
    caps.set(serverKey('127.0.0.1', server.port), 'sequential', 60);
    const h = await make({ port: server.port });
    await h.run(socks5);
    expect(hex(server.conns[0].chunks[0])).toBe('050100');
  });
});

describe('optimistic = auto', () => {
  test('probes once with a pipelined handshake without data, then uses OC', async () => {
    server = await ScriptedServer.start(async (c) => {
      await c.bytes(14);
      await c.write([5, 0xa5, ...OK_REPLY]);
    });
    const h1 = await make({ port: server.port, optimistic: 'auto' });
    h1.app.write('abcd');
    await h1.run(socks5);
    // the probe carried no client data: it followed the reply
    expect(hex(server.conns[0].chunks[0])).toBe(hex([5, 2, 0xa5, 0, ...REQ]));
    await server.conns[0].bytes(18);
    expect(server.conns[0].received.subarray(14).toString()).toBe('abcd');
    expect(caps.get(serverKey('127.0.0.1', server.port))).toBe('oc');

    const h2 = await make({ port: server.port, optimistic: 'auto' });
    h2.app.write('efgh');
    await h2.run(socks5);
    expect(hex(server.conns[1].chunks[0])).toBe(hex([5, 2, 0xa5, 0, ...REQ, ...Buffer.from('efgh')]));
  });

  test('a probe cut before the method reply falls back to sequential and caches it', async () => {
    server = await ScriptedServer.start(async (c, i) => {
      if (i === 0) {
        await c.bytes(14);
        c.socket.destroy();
        return;
      }
      await answerSequential(c);
    });
    const h = await make({ port: server.port, optimistic: 'auto' });
    h.app.write('data');
    await h.run(socks5);
    expect(hex(server.conns[1].chunks[0])).toBe('050100');
    await server.conns[1].bytes(17);
    expect(server.conns[1].received.subarray(13).toString()).toBe('data');
    expect(caps.get(serverKey('127.0.0.1', server.port))).toBe('sequential');
  });

  test('a server that answers the probe\'s method but sits on its request (microsocks #105): a sequential race wins within a second', async () => {
    server = await ScriptedServer.start(async (c, i) => {
      if (i === 0) {
        // answers the greeting, then ignores the CONNECT that came in the same segment
        await c.bytes(14);
        await c.write([5, 0]);
        return;
      }
      await answerSequential(c);
    });
    const h = await make({ port: server.port, optimistic: 'auto' });
    h.app.write('data');
    const t0 = Date.now();
    await h.run(socks5);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(hex(server.conns[1].chunks[0])).toBe('050100');
    await server.conns[1].bytes(17);
    expect(server.conns[1].received.subarray(13).toString()).toBe('data');
    // the stuck probe connection is closed, the verdict cached
    await server.conns[0].eof();
    expect(caps.get(serverKey('127.0.0.1', server.port))).toBe('sequential');
  });

  test('a probe answered with garbage falls back to sequential', async () => {
    server = await ScriptedServer.start(async (c, i) => {
      if (i === 0) {
        await c.bytes(14);
        await c.write('HTTP/1.0 400 Bad Request\r\n\r\n');
        c.socket.end();
        return;
      }
      await answerSequential(c);
    });
    const h = await make({ port: server.port, optimistic: 'auto' });
    await h.run(socks5);
    expect(server.conns.length).toBe(2);
    expect(caps.get(serverKey('127.0.0.1', server.port))).toBe('sequential');
  });

  test('optimistic = off never offers A5', async () => {
    server = await ScriptedServer.start(answerSequential);
    const h = await make({ port: server.port, optimistic: 'off' });
    await h.run(socks5);
    expect(hex(server.conns[0].chunks[0])).toBe('050100');
  });
});

describe('TFO replay policy', () => {
  test('a TLS ClientHello or an allowlisted port may ride the SYN; other data may not', () => {
    expect(earlyDataMayRideSyn(Buffer.from([0x16, 3, 1]), 443, [])).toBe(true);
    expect(earlyDataMayRideSyn(Buffer.from('GET /'), 80, [])).toBe(false);
    expect(earlyDataMayRideSyn(Buffer.from('GET /'), 80, [80])).toBe(true);
    expect(earlyDataMayRideSyn(Buffer.alloc(0), 80, [80])).toBe(false);
    expect(earlyDataIsIdempotent(Buffer.from([0x16]))).toBe(true);
    expect(earlyDataIsIdempotent(Buffer.from('POST'))).toBe(false);
  });
});
