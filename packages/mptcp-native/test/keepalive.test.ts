/** setTcpKeepalive/getTcpKeepalive on real loopback sockets, read back with getsockopt. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { connect, fdOf, getTcpKeepalive, isMptcp, listen, setTcpKeepalive } from 'mptcp-native';

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function pair(mptcp: 'on' | 'off'): Promise<net.Socket> {
  const server = await listen({ host: '127.0.0.1', port: 0, mptcp }, (s) => {
    sockets.push(s);
    s.on('error', () => undefined);
  });
  servers.push(server);
  const c = await connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, mptcp });
  sockets.push(c);
  return c;
}

const sysctl = (name: string): number => Number(fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'));

test('a fresh TCP socket reports keepalive off and the kernel default timers', async () => {
  const c = await pair('off');
  expect(getTcpKeepalive(c)).toEqual({
    enabled: false,
    idleS: sysctl('tcp_keepalive_time'),
    intervalS: sysctl('tcp_keepalive_intvl'),
    probes: sysctl('tcp_keepalive_probes'),
  });
});

test('sets SO_KEEPALIVE and the three timers on a TCP socket (by socket and by fd)', async () => {
  const c = await pair('off');
  setTcpKeepalive(c, { idleS: 30, intervalS: 7, probes: 4 });
  expect(getTcpKeepalive(c)).toEqual({ enabled: true, idleS: 30, intervalS: 7, probes: 4 });
  setTcpKeepalive(fdOf(c), { idleS: 600 });
  expect(getTcpKeepalive(fdOf(c))).toEqual({ enabled: true, idleS: 600, intervalS: 7, probes: 4 });
  setTcpKeepalive(c, false);
  expect(getTcpKeepalive(c)).toEqual({ enabled: false, idleS: 600, intervalS: 7, probes: 4 });
});

test('works on an MPTCP socket', async () => {
  const c = await pair('on');
  expect(isMptcp(c)).toBe(true);
  setTcpKeepalive(c, { idleS: 45, intervalS: 5, probes: 3 });
  expect(getTcpKeepalive(c)).toEqual({ enabled: true, idleS: 45, intervalS: 5, probes: 3 });
});

test('bad values throw ERR_INVALID_ARG_VALUE before any syscall', async () => {
  const c = await pair('off');
  for (const bad of [{ idleS: -1 }, { intervalS: 1.5 }, { probes: 128 }, { idleS: 32768 }]) {
    expect(() => setTcpKeepalive(c, bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  }
  expect(getTcpKeepalive(c).enabled).toBe(false);
});

test('syscall errors are Node-style errno errors', () => {
  const u = fs.openSync('/dev/null', 'r');
  try {
    expect(() => setTcpKeepalive(u, { idleS: 10 })).toThrow(expect.objectContaining({ code: 'ENOTSOCK', syscall: 'setsockopt' }));
    expect(() => getTcpKeepalive(u)).toThrow(expect.objectContaining({ code: 'ENOTSOCK', syscall: 'getsockopt' }));
  } finally {
    fs.closeSync(u);
  }
});
