/**
 * The table `mptcp-gateway setup` writes, applied by the CLI in a gateway namespace, does what
 * it promises for every LAN flow, IPv4 and IPv6 (packages/redsocks-ts/src/gateway/nft-rules.ts):
 *
 *   client ns (eth0 10.77.0.2, fd77::2) -- lan0 gateway ns wan0 -- wan ns ("the internet": owns
 *   10.77.0.1, fd77::1                  198.18.0.1     198.18.0.2   203.0.113.0/24, 2001:db8:113::/48,
 *                                       2001:db8:18::1 2001:db8:18::2 and the private 192.168.50.0/24)
 *
 * Stand-ins for the daemons on the gateway answer with the original destination they see: a
 * TCP listener on [::]:12345 (SO_ORIGINAL_DST, v4 and v6), the TPROXY UDP echo of mptcp-native's
 * tests on :10000, a DNS stand-in on :5353. The internet answers "server" on TCP 80 and echoes
 * UDP on 443 and 5000.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { Netns, ROOT, destroyAll, gatewayCliArgv, tempDir, veth, waitFor } from '@mptcp-proxy/lab';
import { spawnSync } from 'node:child_process';

const TSX_CJS = require.resolve('tsx/cjs', { paths: [ROOT] });
const UDP_ECHO = path.join(ROOT, 'packages/mptcp-native/test/fixtures/udp-tproxy-echo.ts');

/**
 * TCP: one line per connection. mode redirect (a transparent listener, as redsocks-ts' with
 * redirector = generic): "proxy <original dst>" for a REDIRECTed connection (SO_ORIGINAL_DST),
 * "tproxy <local address>" for a TPROXY'd one; plain: "server".
 */
const TCP_STANDIN = String.raw`
import socket, struct, sys
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
if mode == 'redirect': s.setsockopt(socket.IPPROTO_IPV6, 75, 1)  # IPV6_TRANSPARENT (both families)
s.bind(('::', port))
s.listen(64)
def tproxied(c):
    a, p = c.getsockname()[:2]
    a = a[7:] if a.startswith('::ffff:') else a
    return 'tproxy %s' % (('[%s]:%d' if ':' in a else '%s:%d') % (a, p))
while True:
    c, peer = s.accept()
    if mode == 'redirect' and c.getsockname()[1] != port:
        msg = tproxied(c)
    elif mode == 'redirect':
        if peer[0].startswith('::ffff:'):
            raw = c.getsockopt(socket.SOL_IP, 80, 16)
            p, a = struct.unpack('!2xH4s8x', raw)
            msg = 'proxy %s:%d' % (socket.inet_ntoa(a), p)
        else:
            raw = c.getsockopt(socket.IPPROTO_IPV6, 80, 28)
            p = struct.unpack('!H', raw[2:4])[0]
            msg = 'proxy [%s]:%d' % (socket.inet_ntop(socket.AF_INET6, raw[8:24]), p)
    else:
        msg = 'server'
    c.sendall((msg + '\n').encode())
    c.close()
`;

/**
 * UDP (and TCP for DNS): answers every datagram with `reply` (or an echo when reply is "echo"),
 * on the addresses given (a socket bound to the wildcard would answer from another address).
 */
const UDP_STANDIN = String.raw`
import socket, sys, threading
port, reply = int(sys.argv[1]), sys.argv[2]
hosts = sys.argv[4].split(',') if len(sys.argv) > 4 else ['0.0.0.0', '::']
def udp(fam, host):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    while True:
        d, a = s.recvfrom(65535)
        s.sendto(d if reply == 'echo' else reply.encode(), a)
def tcp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('::', port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(reply.encode()); c.close()
for h in hosts:
    threading.Thread(target=udp, args=(socket.AF_INET6 if ':' in h else socket.AF_INET, h), daemon=True).start()
if len(sys.argv) > 3 and sys.argv[3] == 'tcp': threading.Thread(target=tcp, daemon=True).start()
threading.Event().wait()
`;

/** One datagram (or COUNT, back to back): "reply <data> from <addr>", "refused <ms>" (ICMP unreachable) or "timeout" each. */
const UDP_PROBE = String.raw`
import socket, sys, time
host, port, msg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
for i in range(int(sys.argv[4]) if len(sys.argv) > 4 else 1):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.connect((host, port))
    t0 = time.monotonic()
    s.send(msg.encode())
    try:
        d, a = s.recvfrom(65535)
        print('reply %s from %s' % (d.decode(), a[0]))
    except ConnectionRefusedError:
        print('refused %.3f' % ((time.monotonic() - t0) * 1000))
    except socket.timeout:
        print('timeout')
    s.close()
`;

let client: Netns;
let gw: Netns;
let wan: Netns;
let state: string;
let probe: string;

function setup(extra: string[]): void {
  const argv = [
    ...gatewayCliArgv(), 'setup', '--wan', 'isp=wan0,198.18.0.1,198.18.0.2', '--lan', 'lan0', '--redsocks-port', '12345',
    '--proxy', '203.0.113.10:1080', '--state', state, ...extra,
  ];
  const r = spawnSync('ip', ['netns', 'exec', gw.name, ...argv], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`setup failed: ${r.stderr}${r.stdout}`);
}

function tcp(ns: Netns, host: string, port: number, waitS = 3): string {
  return ns.exec(`ncat --recv-only -w ${waitS} ${host} ${port} </dev/null 2>&1 || true`).trim();
}

function udp(ns: Netns, host: string, port: number, msg: string): string {
  return ns.exec(`python3 ${probe} ${host} ${port} ${msg}`).trim();
}

beforeAll(async () => {
  client = Netns.create('stc');
  gw = Netns.create('stg');
  wan = Netns.create('stw');
  const dir = tempDir('steering-');
  state = path.join(dir, 'state.json');
  probe = path.join(dir, 'udp-probe.py');
  fs.writeFileSync(probe, UDP_PROBE);
  veth(client, 'eth0', '10.77.0.2/24', gw, 'lan0', '10.77.0.1/24');
  veth(gw, 'wan0', '198.18.0.1/30', wan, 'eth0', '198.18.0.2/30');
  client.exec('ip -6 addr add fd77::2/64 dev eth0 nodad && ip route add default via 10.77.0.1 && ip -6 route add default via fd77::1');
  gw.exec('ip -6 addr add fd77::1/64 dev lan0 nodad && ip -6 addr add 2001:db8:18::1/64 dev wan0 nodad');
  gw.exec('ip route add default via 198.18.0.2 && ip -6 route add default via 2001:db8:18::2 && sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1');
  wan.exec('ip -6 addr add 2001:db8:18::2/64 dev eth0 nodad && ip route add local 203.0.113.0/24 dev lo && ip route add local 192.168.50.0/24 dev lo');
  wan.exec('ip -6 route add local 2001:db8:113::/48 dev lo && ip route add 10.77.0.0/24 via 198.18.0.1 && ip -6 route add fd77::/64 via 2001:db8:18::1');
  wan.exec('sysctl -qw net.ipv6.ip_nonlocal_bind=1 net.ipv4.ip_nonlocal_bind=1');
  wan.spawn(['python3', '-c', TCP_STANDIN, 'plain', '80']);
  const internet = '203.0.113.5,192.168.50.1,2001:db8:113::5';
  wan.spawn(['python3', '-c', UDP_STANDIN, '443', 'echo', 'udp', internet]);
  wan.spawn(['python3', '-c', UDP_STANDIN, '5000', 'echo', 'udp', internet]);
  gw.spawn(['python3', '-c', TCP_STANDIN, 'redirect', '12345']);
  gw.spawn(['python3', '-c', UDP_STANDIN, '5353', 'dns', 'tcp']);
  gw.spawn(['node', '-r', TSX_CJS, UDP_ECHO, '10000', '0.0.0.0', '::'], { cwd: ROOT });
  for (const [ns, port] of [[wan, 80], [gw, 12345], [gw, 5353]] as const) {
    await waitFor(() => ns.exec(`ss -Hltn 'sport = :${port}'`, { allowFail: true }).includes(`:${port}`), 10000, `listener :${port}`);
  }
  await waitFor(() => gw.exec("ss -Huln 'sport = :10000'", { allowFail: true }).includes(':10000'), 20000, 'the TPROXY UDP stand-in');
  setup(['--dns-port', '5353', '--udp-port', '10000']);
}, 90000);

afterAll(() => destroyAll());

describe('TCP', () => {
  test.each([
    ['an internet address (IPv4)', '203.0.113.5', 'proxy 203.0.113.5:80'],
    ['an internet address (IPv6)', '2001:db8:113::5', 'proxy [2001:db8:113::5]:80'],
    ['a private destination bypasses', '192.168.50.1', 'server'],
    ['the SOCKS server bypasses', '203.0.113.10', 'server'],
  ])('%s', (_what, host, want) => {
    expect(tcp(client, host, 80)).toBe(want);
  });

  test('the listener takes only redirected connections: direct ones from the LAN or the WAN are reset', () => {
    expect(tcp(client, '10.77.0.1', 12345)).toMatch(/refused/i);
    expect(tcp(client, 'fd77::1', 12345)).toMatch(/refused/i);
    expect(tcp(wan, '198.18.0.1', 12345)).toMatch(/refused/i);
  });

  test("the gateway's own traffic (every daemon's) is never redirected", () => {
    expect(tcp(gw, '203.0.113.5', 80)).toBe('server');
    expect(tcp(gw, '2001:db8:113::5', 80)).toBe('server');
  });
});

describe('DNS', () => {
  test('LAN DNS to any resolver, UDP and TCP, v4 and v6, reaches the forwarder; the answer seems to come from that resolver', () => {
    expect(udp(client, '203.0.113.53', 53, 'q')).toBe('reply dns from 203.0.113.53');
    expect(udp(client, '192.168.50.53', 53, 'q')).toBe('reply dns from 192.168.50.53');
    expect(udp(client, '10.77.0.1', 53, 'q')).toBe('reply dns from 10.77.0.1');
    expect(udp(client, '2001:db8:113::53', 53, 'q')).toBe('reply dns from 2001:db8:113::53');
    expect(tcp(client, '203.0.113.53', 53)).toBe('dns');
  });

  test('the forwarder port answers the LAN only: not the WAN side (no open resolver)', () => {
    expect(udp(client, '10.77.0.1', 5353, 'q')).toBe('reply dns from 10.77.0.1');
    expect(udp(wan, '198.18.0.1', 5353, 'q')).toBe('timeout');
    expect(tcp(wan, '198.18.0.1', 5353, 1)).not.toBe('dns');
  });
});

describe('UDP and QUIC', () => {
  test('LAN UDP goes to redudp by TPROXY (v4 and v6); the reply comes from the destination', () => {
    expect(udp(client, '203.0.113.5', 5000, 'u4')).toBe('reply echo:u4 from 203.0.113.5');
    expect(udp(client, '2001:db8:113::5', 5000, 'u6')).toBe('reply echo:u6 from 2001:db8:113::5');
    expect(udp(client, '192.168.50.1', 5000, 'private')).toBe('reply private from 192.168.50.1');
  });

  test('only TPROXY\'d datagrams reach redudp: a direct one is dropped', () => {
    expect(udp(client, '10.77.0.1', 10000, 'direct')).toBe('timeout');
  });

  test('QUIC (UDP 443) gets ICMP port-unreachable within a few milliseconds, v4 and v6; private destinations are left alone', () => {
    const times: number[] = [];
    for (const host of ['203.0.113.5', '2001:db8:113::5']) {
      const r = udp(client, host, 443, 'quic');
      expect(r).toMatch(/^refused /);
      times.push(Number(r.split(' ')[1]));
    }
    expect(Math.max(...times)).toBeLessThan(20);
    expect(udp(client, '192.168.50.1', 443, 'lan-quic')).toBe('reply lan-quic from 192.168.50.1');
  });

  test('a burst of QUIC attempts is refused every time (setup lifts the kernel\'s per-host ICMP limit: 1/s, burst 6)', () => {
    expect(gw.exec('sysctl -n net.ipv4.icmp_ratelimit net.ipv6.icmp.ratelimit').split('\n').map((l) => l.trim()).filter(Boolean)).toEqual(['0', '0']);
    const out = client.exec(`python3 ${probe} 203.0.113.5 443 burst 20`);
    expect(out.trim().split('\n').map((l) => l.split(' ')[0])).toEqual(Array(20).fill('refused'));
  });

  test('--quic direct lets QUIC out as it is; --quic redudp sends it to redudp; setup twice changes nothing', () => {
    setup(['--dns-port', '5353', '--udp-port', '10000', '--quic', 'direct']);
    expect(udp(client, '203.0.113.5', 443, 'q1')).toBe('reply q1 from 203.0.113.5');
    setup(['--dns-port', '5353', '--udp-port', '10000', '--quic', 'redudp']);
    expect(udp(client, '203.0.113.5', 443, 'q2')).toBe('reply echo:q2 from 203.0.113.5');
    const again = spawnSync('ip', ['netns', 'exec', gw.name, ...gatewayCliArgv(), 'setup', '--wan', 'isp=wan0,198.18.0.1,198.18.0.2', '--lan', 'lan0',
      '--redsocks-port', '12345', '--proxy', '203.0.113.10:1080', '--state', state, '--dns-port', '5353', '--udp-port', '10000', '--quic', 'redudp'], { encoding: 'utf8', cwd: ROOT });
    expect(again.stdout).toContain('nothing to do');
  });

  test('--ipv4-only: IPv6 TCP and UDP go out untouched', () => {
    setup(['--ipv4-only']);
    expect(tcp(client, '2001:db8:113::5', 80)).toBe('server');
    expect(udp(client, '2001:db8:113::5', 443, 'q6')).toBe('reply q6 from 2001:db8:113::5');
    expect(tcp(client, '203.0.113.5', 80)).toBe('proxy 203.0.113.5:80');
  });

  test('--tproxy: LAN TCP reaches the listener by TPROXY, v4 and v6, with its destination as the local address; bypasses and the guard hold', () => {
    setup(['--tproxy', '--dns-port', '5353', '--udp-port', '10000']);
    expect(tcp(client, '203.0.113.5', 80)).toBe('tproxy 203.0.113.5:80');
    expect(tcp(client, '2001:db8:113::5', 80)).toBe('tproxy [2001:db8:113::5]:80');
    expect(tcp(client, '192.168.50.1', 80)).toBe('server');
    expect(tcp(client, '10.77.0.1', 12345)).toMatch(/refused/i);
    expect(tcp(client, 'fd77::1', 12345)).toMatch(/refused/i);
  });
});
