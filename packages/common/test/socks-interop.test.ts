/**
 * The codec against real third-party peers on loopback: curl (SOCKS4, 4a, 5, 5h, RFC 1929) as a
 * client of a tiny codec-driven server, and the codec as a client of microsocks and Dante's danted
 * (sequential, and pipelined / optimistic-connect bytes that a plain server must accept).
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Command,
  DEFAULT_OC_METHOD,
  Method,
  ProtocolError,
  ReceiveBuffer,
  Relay,
  Rep,
  Socks4Rep,
  SocksAddress,
  addressFromHost,
  detectVersion,
  errnoToRep,
  encodeOptimisticHandshake,
  parseServerHandshake,
  protocolErrorToRep,
  socks4,
  socks5,
} from '@mptcp-proxy/common';

const BODY = 'hello through socks';
const RESPONSE = `HTTP/1.0 200 OK\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`;
const FAKE_DNS: Record<string, string> = { 'target.test': '127.0.0.1' };

let target: net.Server;
const targetConns = new Set<net.Socket>();
let targetPort: number;
const children: ChildProcess[] = [];
let dir: string;

function listening(srv: net.Server): Promise<number> {
  return new Promise((res) => srv.listen(0, '127.0.0.1', () => res((srv.address() as net.AddressInfo).port)));
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  const p = await listening(s);
  await new Promise((r) => s.close(r));
  return p;
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'common-interop-'));
  target = net.createServer((s) => {
    targetConns.add(s);
    s.on('close', () => targetConns.delete(s));
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n')) s.end(RESPONSE);
    });
    s.on('error', () => undefined);
  });
  targetPort = await listening(target);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  for (const s of targetConns) s.destroy();
  await new Promise((r) => target.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** A minimal SOCKS4/4a/5 server made of the codec's parsers, ReceiveBuffer and Relay. */
function codecServer(users?: Record<string, string>): net.Server {
  return net.createServer({ allowHalfOpen: true }, (client) => {
    const q = new ReceiveBuffer();
    let state: 'start' | 'greeting' | 'auth' | 'request5' | 'request4' | 'connecting' = 'start';
    const fail = (bytes?: Buffer): void => {
      client.off('data', onData);
      if (bytes) client.end(bytes);
      else client.destroy();
    };
    const connectTo = (address: SocksAddress, v: 4 | 5): void => {
      state = 'connecting';
      client.off('data', onData);
      client.pause();
      const host = address.type === 'domain' ? FAKE_DNS[address.host] : address.host;
      if (host === undefined) return fail(socks5.encodeReply(errnoToRep('ENOTFOUND')));
      const up = net.connect({ host, port: address.port, allowHalfOpen: true });
      up.once('error', () => fail(v === 5 ? socks5.encodeReply(Rep.ConnRefused) : socks4.encodeReply(Socks4Rep.Rejected)));
      up.once('connect', () => {
        up.removeAllListeners('error');
        const bound = addressFromHost(up.localAddress!, up.localPort!);
        const rel = new Relay(client, up);
        rel.startAtoB(q.drain());
        client.write(v === 5 ? socks5.encodeReply(Rep.Succeeded, bound) : socks4.encodeReply(Socks4Rep.Granted, bound));
        rel.startBtoA();
        rel.done.catch(() => undefined);
      });
    };
    const step = (): void => {
      for (;;) {
        const buf = q.peek();
        if (state === 'start') {
          const v = detectVersion(buf);
          if (v === null) return;
          state = v === 5 ? 'greeting' : 'request4';
        } else if (state === 'greeting') {
          const g = socks5.parseGreeting(buf);
          if (!g) return;
          q.consume(g.length);
          const want = users ? Method.UserPass : Method.NoAuth;
          if (!g.methods.includes(want)) return fail(socks5.encodeMethodSelection(Method.NoAcceptable));
          client.write(socks5.encodeMethodSelection(want));
          state = users ? 'auth' : 'request5';
        } else if (state === 'auth') {
          const a = socks5.parseUserPassRequest(buf);
          if (!a) return;
          q.consume(a.length);
          const ok = users![a.username.toString()] === a.password.toString();
          if (!ok) return fail(socks5.encodeUserPassReply(1));
          client.write(socks5.encodeUserPassReply(0));
          state = 'request5';
        } else if (state === 'request5') {
          const r = socks5.parseRequest(buf);
          if (!r) return;
          q.consume(r.length);
          if (r.command !== Command.Connect) return fail(socks5.encodeReply(Rep.CommandNotSupported));
          return connectTo(r.address, 5);
        } else if (state === 'request4') {
          const r = socks4.parseRequest(buf);
          if (!r) return;
          q.consume(r.length);
          return connectTo(r.address, 4);
        } else return;
      }
    };
    const onData = (c: Buffer): void => {
      q.push(c);
      try {
        step();
      } catch (e) {
        if (e instanceof ProtocolError && state === 'request5') fail(socks5.encodeReply(protocolErrorToRep(e.code)));
        else fail();
      }
    };
    client.on('data', onData);
    client.on('error', () => undefined);
  });
}

function curl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], (err, stdout) => {
      res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out: stdout });
    });
  });
}

describe('curl as a client of a codec-driven server', () => {
  let plain: net.Server;
  let authed: net.Server;
  let plainPort: number;
  let authPort: number;
  beforeAll(async () => {
    plain = codecServer();
    authed = codecServer({ alice: 'wonder land' });
    plainPort = await listening(plain);
    authPort = await listening(authed);
  });
  afterAll(async () => {
    await new Promise((r) => plain.close(r));
    await new Promise((r) => authed.close(r));
  });

  test.each([
    ['--socks5', 'ip'],
    ['--socks5-hostname', 'name'],
    ['--socks4', 'ip'],
    ['--socks4a', 'name'],
  ])('%s (%s)', async (flag, kind) => {
    const host = kind === 'ip' ? '127.0.0.1' : 'target.test';
    const r = await curl([flag, `127.0.0.1:${plainPort}`, `http://${host}:${targetPort}/`]);
    expect(r).toEqual({ code: 0, out: BODY });
  });

  test('RFC 1929: right and wrong password', async () => {
    const ok = await curl(['-x', `socks5h://alice:wonder%20land@127.0.0.1:${authPort}`, `http://target.test:${targetPort}/`]);
    expect(ok).toEqual({ code: 0, out: BODY });
    const bad = await curl(['-x', `socks5h://alice:nope@127.0.0.1:${authPort}`, `http://target.test:${targetPort}/`]);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toBe('');
  });

  test('a domain the server cannot reach gets a full REP 04 reply (curl reports it)', async () => {
    const r = await curl(['--socks5-hostname', `127.0.0.1:${plainPort}`, `http://unknown.test:${targetPort}/`]);
    expect(r.code).toBe(97); // CURLE_PROXY
  });
});

/** Everything after the handshake, once the server closed (we close too). */
async function readAll(sock: net.Socket, rb: ReceiveBuffer): Promise<string> {
  if (!rb.ended && !rb.closed) await new Promise((r) => sock.once('end', r));
  sock.end();
  return rb.drain().toString('latin1');
}

function dial(port: number): Promise<net.Socket> {
  return new Promise((res, rej) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => res(s));
    s.once('error', rej);
  });
}

const GET = Buffer.from('GET / HTTP/1.0\r\n\r\n');
const body = (http: string): string => http.slice(http.indexOf('\r\n\r\n') + 4);

describe('the codec as a client of microsocks', () => {
  let port: number;
  let authPort: number;
  beforeAll(async () => {
    port = await freePort();
    authPort = await freePort();
    children.push(spawn('microsocks', ['-i', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' }));
    children.push(spawn('microsocks', ['-i', '127.0.0.1', '-p', String(authPort), '-u', 'bob', '-P', 'pw'], { stdio: 'ignore' }));
    await waitListening(port);
    await waitListening(authPort);
  });

  test('sequential no-auth CONNECT, redsocks-style bytes', async () => {
    const s = await dial(port);
    const q = new ReceiveBuffer(s);
    s.write(socks5.encodeGreeting([Method.NoAuth]));
    expect((await q.read(socks5.parseMethodSelection)).method).toBe(Method.NoAuth);
    s.write(socks5.encodeRequest(Command.Connect, { type: 'ipv4', host: '127.0.0.1', port: targetPort }));
    const rep = await q.read(socks5.parseReply);
    expect(rep.rep).toBe(Rep.Succeeded);
    s.write(GET);
    expect(body(await readAll(s, q))).toBe(BODY);
  });

  test('sequential RFC 1929 CONNECT, and a refused destination', async () => {
    const s = await dial(authPort);
    const q = new ReceiveBuffer(s);
    s.write(socks5.encodeGreeting([Method.NoAuth, Method.UserPass]));
    expect((await q.read(socks5.parseMethodSelection)).method).toBe(Method.UserPass);
    s.write(socks5.encodeUserPassRequest('bob', 'pw'));
    expect((await q.read(socks5.parseUserPassReply)).status).toBe(0);
    s.write(socks5.encodeRequest(Command.Connect, { type: 'ipv4', host: '127.0.0.1', port: targetPort }));
    expect((await q.read(socks5.parseReply)).rep).toBe(Rep.Succeeded);
    s.write(GET);
    expect(body(await readAll(s, q))).toBe(BODY);

    const closed = await freePort();
    const s2 = await dial(port);
    const q2 = new ReceiveBuffer(s2);
    s2.write(socks5.encodeGreeting([Method.NoAuth]));
    await q2.read(socks5.parseMethodSelection);
    s2.write(socks5.encodeRequest(Command.Connect, { type: 'ipv4', host: '127.0.0.1', port: closed }));
    expect((await q2.read(socks5.parseReply)).rep).toBe(Rep.ConnRefused);
    s2.destroy();
  });
});

describe('the codec as a client of Dante (danted)', () => {
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    const conf = join(dir, 'danted.conf');
    writeFileSync(
      conf,
      [
        'logoutput: stderr',
        `internal: 127.0.0.1 port = ${port}`,
        'external: 127.0.0.1',
        'socksmethod: none',
        'clientmethod: none',
        'user.privileged: root',
        'user.unprivileged: nobody',
        'client pass { from: 0/0 to: 0/0 }',
        'socks pass { from: 0/0 to: 0/0 }',
        '',
      ].join('\n'),
    );
    children.push(spawn('danted', ['-f', conf, '-p', join(dir, 'danted.pid')], { stdio: 'ignore' }));
    await waitListening(port);
  });

  test('sequential SOCKS4 CONNECT as redsocks sends it', async () => {
    const s = await dial(port);
    const q = new ReceiveBuffer(s);
    s.write(socks4.encodeRequest(Command.Connect, { type: 'ipv4', host: '127.0.0.1', port: targetPort }, 'nobody'));
    expect((await q.read(socks4.parseReply)).rep).toBe(Socks4Rep.Granted);
    s.write(GET);
    expect(body(await readAll(s, q))).toBe(BODY);
  });

  test.each([
    ['plain pipelined', Method.NoAuth],
    ['optimistic-connect bytes {a5,00}', DEFAULT_OC_METHOD],
  ])('%s handshake with early data in one write', async (_name, method) => {
    const s = await dial(port);
    const early = GET;
    s.write(
      encodeOptimisticHandshake({ method, address: { type: 'ipv4', host: '127.0.0.1', port: targetPort }, earlyData: early }),
    );
    const rb = new ReceiveBuffer(s);
    const expectation = { authMethodOffered: false, offeredMethods: method === Method.NoAuth ? [0] : [method, 0] };
    const hs = await rb.read((b) => parseServerHandshake(b, expectation));
    // Dante does not know 0xa5 and picks 00: the bytes still work as plain pipelining
    expect(hs).toMatchObject({ method: Method.NoAuth, ok: true, reply: { rep: Rep.Succeeded } });
    expect(body(await readAll(s, rb))).toBe(BODY);
  });
});
