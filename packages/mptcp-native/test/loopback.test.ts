/** In-process tests on loopback: the adopted fd behaves as a normal net.Socket, and nothing leaks. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { once } from 'node:events';
import { addonStatus, connect, isMptcp, listen, mptcpInfo, socketProtocol, subflows, localAddressOf, originalDst } from 'mptcp-native';
import { recordFacts } from './helpers';
import { native } from '../src/native';
import { fdOf } from '../src/socket-fd';

const servers: net.Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function echoServer(opts: Parameters<typeof listen>[0]): Promise<{ server: net.Server; port: number; accepted: net.Socket[] }> {
  const accepted: net.Socket[] = [];
  const server = await listen(opts, (s) => {
    accepted.push(s);
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  });
  servers.push(server);
  return { server, port: (server.address() as net.AddressInfo).port, accepted };
}

async function roundTrip(s: net.Socket, msg: string): Promise<string> {
  s.write(msg);
  let got = '';
  while (got.length < msg.length) {
    const [d] = await once(s, 'data');
    got += String(d);
  }
  return got;
}

test('the addon is loaded from build/Release', () => {
  const st = addonStatus();
  expect(st.loaded).toBe(true);
  expect((st as { path?: string }).path).toMatch(/build\/Release\/mptcp_native\.node$/);
});

test('MPTCP listener + MPTCP client on loopback: connected socket with addresses, options, info', async () => {
  const { server, port, accepted } = await echoServer({ host: '127.0.0.1', port: 0, mptcp: 'on', backlog: 64, reusePort: true, fastOpen: 8 });
  expect(server.listening).toBe(true);
  expect(socketProtocol(server)).toBe(262);
  const s = await connect({ host: '127.0.0.1', port, mptcp: 'on', noDelay: true });
  expect(s.connecting).toBe(false);
  expect(s.remoteAddress).toBe('127.0.0.1');
  expect(s.remotePort).toBe(port);
  expect(s.localAddress).toBe('127.0.0.1');
  expect(s.localPort).toBeGreaterThan(0);
  expect(localAddressOf(s)).toEqual({ address: '127.0.0.1', port: s.localPort, family: 4 });
  // Node's own TCP calls must work on an MPTCP socket (TCP_KEEP* are supported on 6.x).
  expect(() => s.setKeepAlive(true, 1000)).not.toThrow();
  expect(() => s.setNoDelay(true)).not.toThrow();
  const b = native()!;
  const c = b.constants;
  expect(b.getsockoptInt(fdOf(s), c.SOL_SOCKET, c.SO_KEEPALIVE)).toBe(1);
  expect(b.getsockoptInt(fdOf(s), c.IPPROTO_TCP, c.TCP_NODELAY)).toBe(1);
  expect(await roundTrip(s, 'hello mptcp')).toBe('hello mptcp');
  const info = mptcpInfo(s);
  expect(info).not.toBeNull();
  expect(info!.subflows).toBe(1);
  expect(info!.token).not.toBe(0);
  expect(info!.bytesSent).toBe(11);
  expect(isMptcp(s)).toBe(true);
  const sf = subflows(s);
  expect(sf).toHaveLength(1);
  expect(sf[0].local).toEqual({ address: '127.0.0.1', port: s.localPort });
  expect(sf[0].remote).toEqual({ address: '127.0.0.1', port });
  expect(sf[0].state).toBe(1);
  expect(accepted).toHaveLength(1);
  expect(isMptcp(accepted[0])).toBe(true);
  // SO_ORIGINAL_DST on an MPTCP-accepted socket: the explanatory error.
  expect(() => originalDst(accepted[0])).toThrow(expect.objectContaining({ code: 'EMPTCP_ORIGINAL_DST' }));
  s.destroy();
});

test('plain TCP client to the MPTCP listener gets a plain TCP socket', async () => {
  const { port, accepted } = await echoServer({ host: '127.0.0.1', port: 0, mptcp: 'on' });
  const c = net.connect({ host: '127.0.0.1', port });
  await once(c, 'connect');
  expect(await roundTrip(c, 'tcp')).toBe('tcp');
  expect(socketProtocol(accepted[0])).toBe(6);
  expect(mptcpInfo(accepted[0])).toBeNull();
  c.destroy();
});

test("mptcp: 'off' gives a TCP socket, and an MPTCP client to a net server falls back", async () => {
  const server = net.createServer((s) => s.pipe(s));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const off = await connect({ host: '127.0.0.1', port, mptcp: 'off' });
  expect(socketProtocol(off)).toBe(6);
  expect(isMptcp(off)).toBe(false);
  off.destroy();
  const fb = await connect({ host: '127.0.0.1', port, mptcp: 'on' });
  expect(socketProtocol(fb)).toBe(262);
  expect(await roundTrip(fb, 'fallback')).toBe('fallback');
  expect(mptcpInfo(fb)).toBeNull();
  expect(subflows(fb)).toEqual([]);
  fb.destroy();
});

test('IPv6 loopback, hostnames and a bound localAddress', async () => {
  const { port } = await echoServer({ host: '::1', port: 0, mptcp: 'on', ipv6Only: true });
  const s6 = await connect({ host: '::1', port, mptcp: 'on' });
  expect(s6.remoteAddress).toBe('::1');
  expect(s6.remoteFamily).toBe('IPv6');
  expect(await roundTrip(s6, 'v6')).toBe('v6');
  expect(isMptcp(s6)).toBe(true);
  s6.destroy();
  const v4 = await echoServer({ host: '127.0.0.1', port: 0, mptcp: 'on' });
  const byName = await connect({ host: 'localhost', port: v4.port, localAddress: '127.0.0.2' });
  expect(byName.remoteAddress).toBe('127.0.0.1');
  expect(byName.localAddress).toBe('127.0.0.2');
  expect(await roundTrip(byName, 'named')).toBe('named');
  byName.destroy();
});

test('refused connect on loopback looks like Node\'s error', async () => {
  const tmp = net.createServer();
  tmp.listen(0, '127.0.0.1');
  await once(tmp, 'listening');
  const port = (tmp.address() as net.AddressInfo).port;
  await new Promise((r) => tmp.close(r));
  await expect(connect({ host: '127.0.0.1', port, mptcp: 'on' })).rejects.toMatchObject({
    code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port, message: `connect ECONNREFUSED 127.0.0.1:${port}`,
  });
});

test('fastOpen resolves at once; a refused SYN then surfaces as the socket error', async () => {
  const tmp = net.createServer();
  tmp.listen(0, '127.0.0.1');
  await once(tmp, 'listening');
  const port = (tmp.address() as net.AddressInfo).port;
  await new Promise((r) => tmp.close(r));
  const s = await connect({ host: '127.0.0.1', port, mptcp: 'on', fastOpen: true });
  s.write('syn data');
  const [err] = await once(s, 'error');
  expect(err).toMatchObject({ code: 'ECONNREFUSED' });
});

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

test('(6) 2000 connects and closes leak no fd', async () => {
  const { port, accepted } = await echoServer({ host: '127.0.0.1', port: 0, mptcp: 'on', backlog: 1024 });
  const closedPort = await (async () => {
    const t = net.createServer();
    t.listen(0, '127.0.0.1');
    await once(t, 'listening');
    const p = (t.address() as net.AddressInfo).port;
    await new Promise((r) => t.close(r));
    return p;
  })();
  // warm up once so lazily opened fds (addon, loop internals) are counted in "before"
  (await connect({ host: '127.0.0.1', port, mptcp: 'on' })).destroy();
  await new Promise((r) => setTimeout(r, 50));
  const before = fdCount();
  const N = 2000;
  const BATCH = 50;
  let refused = 0;
  for (let i = 0; i < N; i += BATCH) {
    await Promise.all(Array.from({ length: BATCH }, async (_, j) => {
      if ((i + j) % 10 === 9) {
        // every tenth attempt fails: the error path must close its fd too
        await connect({ host: '127.0.0.1', port: closedPort, mptcp: 'on' }).catch(() => refused++);
        return;
      }
      const s = await connect({ host: '127.0.0.1', port, mptcp: 'on' });
      s.destroy();
      await once(s, 'close');
    }));
  }
  // wait until the server side has closed every accepted socket
  const deadline = Date.now() + 20000;
  while (accepted.some((s) => !s.destroyed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const after = fdCount();
  recordFacts('fdLeak', { connects: N, refusedAmongThem: refused, fdBefore: before, fdAfter: after });
  expect(refused).toBe(N / 10);
  expect(accepted.every((s) => s.destroyed)).toBe(true);
  expect(after).toBeLessThanOrEqual(before);
}, 120000);
