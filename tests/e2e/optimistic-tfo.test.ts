/**
 * TCP Fast Open for the upstream leg (docs/optimistic-connect.md §7), shown by kernel counters in a
 * namespace pair: client net.ipv4.tcp_fastopen=1 (0x1 client), server =2 (0x2 server), cookies on.
 * The first connection fetches the cookie; the next ones carry the SOCKS handshake in the SYN,
 * and a TLS ClientHello (replay-safe) rides along in the same SYN. That is with `mptcp = off`:
 * on an MPTCP connection the dialer never uses TFO (after a SYN with data, Linux 6.18's MPTCP
 * receives at a fraction of the link rate; packages/redsocks-ts/docs/optimistic-connect.md), which the last
 * test checks.
 */
import { Netns, veth, destroyAll, waitFor } from '@mptcp-proxy/lab';
import { NsProc } from '../../packages/redsocks-ts/test/dial/netns-rpc';

jest.setTimeout(90000);

let cli: Netns;
let srv: Netns;
let peer: NsProc;
let client: NsProc;
let mptcpClient: NsProc;

/** TcpExt counters of a namespace, from its own /proc/net/netstat. */
function tcpExt(ns: Netns): Record<string, number> {
  const lines = ns.exec('cat /proc/net/netstat').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

function delta(a: Record<string, number>, b: Record<string, number>, key: string): number {
  return (b[key] ?? 0) - (a[key] ?? 0);
}

const TLS_HELLO = '160301000401020304';
const REQ_HEX = '0502a50005010001c0000201' + '01bb';

beforeAll(async () => {
  cli = Netns.create('f2tc');
  srv = Netns.create('f2ts');
  veth(cli, 'c1', '10.2.1.1/24', srv, 's1', '10.2.1.2/24');
  cli.exec('sysctl -qw net.ipv4.tcp_fastopen=1 net.mptcp.enabled=1');
  srv.exec('sysctl -qw net.ipv4.tcp_fastopen=2 net.mptcp.enabled=1');
  peer = NsProc.start(srv, 'netns-socks-peer.ts', { host: '10.2.1.2', port: 1080, fastOpen: 16, mptcp: 'on' });
  await peer.waitLine((l) => l.event === 'listening');
  client = NsProc.start(cli, 'netns-dial-runner.ts', {
    ip: '10.2.1.2',
    port: 1080,
    mptcp: 'off',
    optimistic: 'on',
    fastopen: true,
    // wait for the LAN client's bytes however loaded the machine is (wait() ends at the first byte)
    optimisticGatherMs: 2000,
  });
  await client.waitLine((l) => l.ready === true);
  mptcpClient = NsProc.start(cli, 'netns-dial-runner.ts', { ip: '10.2.1.2', port: 1080, mptcp: 'on', optimistic: 'on', fastopen: true, optimisticGatherMs: 2000 });
  await mptcpClient.waitLine((l) => l.ready === true);
});

afterAll(() => {
  peer?.kill();
  client?.kill();
  mptcpClient?.kill();
  destroyAll();
});

type Result = { ok: boolean; err?: string };

test('cookie on the first connection, then the SOCKS handshake and a ClientHello ride the SYN', async () => {
  const s0 = tcpExt(srv);
  const c0 = tcpExt(cli);
  const first = (await client.call({ op: 'dial', n: 1, hex: TLS_HELLO })).results as Result[];
  expect(first.map((r) => r.ok)).toEqual([true]);
  const s1 = tcpExt(srv);
  const c1 = tcpExt(cli);
  expect(delta(s0, s1, 'TCPFastOpenCookieReqd')).toBe(1);
  expect(delta(s0, s1, 'TCPFastOpenPassive')).toBe(0);
  expect(delta(c0, c1, 'TCPFastOpenActive')).toBe(0);

  const next = (await client.call({ op: 'dial', n: 2, hex: TLS_HELLO })).results as Result[];
  expect(next.map((r) => r.ok)).toEqual([true, true]);
  const s2 = tcpExt(srv);
  const c2 = tcpExt(cli);
  expect(delta(c1, c2, 'TCPFastOpenActive')).toBe(2);
  expect(delta(s1, s2, 'TCPFastOpenPassive')).toBe(2);
  expect(delta(c1, c2, 'TCPFastOpenActiveFail')).toBe(0);

  // The server's first read of a TFO connection is the SYN payload: handshake + ClientHello.
  // the peer's log lines travel on another pipe than the runner's answer: wait for them
  await waitFor(() => peer.all((l) => l.event === 'conn').length >= 3, 10000, 'three peer connections');
  const conns = peer.all((l) => l.event === 'conn');
  expect(conns.length).toBe(3);
  expect(conns[1].first).toBe(REQ_HEX + TLS_HELLO);
  expect(conns[2].first).toBe(REQ_HEX + TLS_HELLO);
});

test('replay-unsafe early data stays out of the SYN; the handshake still rides it', async () => {
  const s0 = tcpExt(srv);
  const res = (await client.call({ op: 'dial', n: 1, payload: 'GET / HTTP/1.1\r\n\r\n' })).results as Result[];
  expect(res.map((r) => r.ok)).toEqual([true]);
  const s1 = tcpExt(srv);
  expect(delta(s0, s1, 'TCPFastOpenPassive')).toBe(1);
  await waitFor(() => peer.all((l) => l.event === 'stream').length >= 4, 10000, 'the fourth stream');
  const conn = peer.all((l) => l.event === 'conn').pop()!;
  // the first segment starts with the handshake; the request never precedes it
  expect(String(conn.first).startsWith(REQ_HEX)).toBe(true);
  const stream = peer.all((l) => l.event === 'stream').pop()!;
  expect(stream.dest).toBe('192.0.2.1:443');
});

test('an MPTCP upstream never uses TFO, even with fastopen = on (and a cookie in the cache)', async () => {
  const c0 = tcpExt(cli);
  const res = (await mptcpClient.call({ op: 'dial', n: 2, hex: TLS_HELLO })).results as Result[];
  expect(res.map((r) => r.ok)).toEqual([true, true]);
  const c1 = tcpExt(cli);
  expect(delta(c0, c1, 'TCPFastOpenActive')).toBe(0);
  expect(delta(c0, c1, 'TCPFastOpenCookieReqd')).toBe(0);
});
