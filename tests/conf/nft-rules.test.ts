/**
 * The shipped nftables files, loaded unchanged into a gateway namespace, do what their
 * comments and the paired redsocks configs promise:
 *
 *   client ns (eth0 10.77.0.2) -- lan0 gateway ns wan0 -- wan ns ("the internet": owns
 *   10.77.0.1                    198.18.0.1  198.18.0.2    203.0.113.0/24 and 192.168.50.0/24)
 *
 * The listener on the gateway is a stand-in for redsocks-ts that answers with the original
 * destination it sees (SO_ORIGINAL_DST for REDIRECT, getsockname for TPROXY), so the test needs
 * no daemon. Every other TCP server answers "server".
 */
import { Netns, destroyAll, veth, waitFor } from '@mptcp-proxy/lab';

const PROXY_PORT = 12345; // the files' define; namespaces make it private to this test
const ROOT = `${__dirname}/../..`;

/** A one-line-per-connection TCP server: mode redirect|tproxy|plain. */
const LISTENER = String.raw`
import socket, struct, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if mode == 'tproxy':
    s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
s.bind((host, port))
s.listen(64)
while True:
    c, _ = s.accept()
    if mode == 'redirect':
        raw = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
        p, a = struct.unpack('!2xH4s8x', raw)
        msg = 'proxy %s:%d' % (socket.inet_ntoa(a), p)
    elif mode == 'tproxy':
        a, p = c.getsockname()
        msg = 'proxy %s:%d' % (a, p)
    else:
        msg = 'server'
    c.sendall((msg + '\n').encode())
    c.close()
`;

interface Lab {
  client: Netns;
  gw: Netns;
  wan: Netns;
}

function listen(ns: Netns, mode: string, host: string, port: number): void {
  ns.spawn(['/usr/bin/python3', '-c', LISTENER, mode, host, String(port)]);
}

async function listening(ns: Netns, port: number): Promise<void> {
  await waitFor(() => ns.exec(`ss -Hltn 'sport = :${port}'`, { allowFail: true }).includes(`:${port}`), 10000, `listener on ${port}`);
}

/** What a TCP client gets: the server's one line, or the connect error. */
function fetch(ns: Netns, host: string, port: number, asUser?: number): string {
  const who = asUser === undefined ? '' : `setpriv --reuid=${asUser} --regid=${asUser} --clear-groups `;
  return ns.exec(`${who}ncat --recv-only -w 5 ${host} ${port} </dev/null 2>&1 || true`).trim();
}

async function buildLab(): Promise<Lab> {
  const client = Netns.create('nftc');
  const gw = Netns.create('nftg');
  const wan = Netns.create('nftw');
  veth(client, 'eth0', '10.77.0.2/24', gw, 'lan0', '10.77.0.1/24');
  veth(gw, 'wan0', '198.18.0.1/30', wan, 'eth0', '198.18.0.2/30');
  client.exec('ip route add default via 10.77.0.1');
  gw.exec('ip route add default via 198.18.0.2 && sysctl -qw net.ipv4.ip_forward=1');
  wan.exec('ip route add local 203.0.113.0/24 dev lo && ip route add local 192.168.50.0/24 dev lo && ip route add 10.77.0.0/24 via 198.18.0.1');
  listen(wan, 'plain', '0.0.0.0', 80);
  await listening(wan, 80);
  return { client, gw, wan };
}

afterAll(() => destroyAll());

describe('conf/nftables/gateway-redirect.nft (pairs with conf/redsocks.conf)', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await buildLab();
    lab.gw.exec(`nft -f ${ROOT}/conf/nftables/gateway-redirect.nft`);
    listen(lab.gw, 'redirect', '0.0.0.0', PROXY_PORT); // redsocks.conf: local_ip = 0.0.0.0
    await listening(lab.gw, PROXY_PORT);
  });

  test('LAN TCP to the internet is redirected, with its original destination', () => {
    expect(fetch(lab.client, '203.0.113.99', 80)).toBe('proxy 203.0.113.99:80');
    expect(fetch(lab.client, '203.0.113.7', 8080)).toMatch(/^proxy 203\.0\.113\.7:8080$/);
  });

  test('the SOCKS server and private destinations are not redirected', () => {
    expect(fetch(lab.client, '203.0.113.10', 80)).toBe('server');
    expect(fetch(lab.client, '192.168.50.1', 80)).toBe('server');
  });

  test('nobody reaches the listener without a redirect: LAN and WAN get a reset', () => {
    expect(fetch(lab.client, '10.77.0.1', PROXY_PORT)).toMatch(/Connection refused/);
    expect(fetch(lab.wan, '198.18.0.1', PROXY_PORT)).toMatch(/Connection refused/);
    expect(fetch(lab.gw, '127.0.0.1', PROXY_PORT)).toMatch(/Connection refused/);
  });

  test("the gateway's own TCP: root (the daemon) goes direct, other users through the proxy", () => {
    expect(fetch(lab.gw, '203.0.113.99', 80)).toBe('server');
    expect(fetch(lab.gw, '203.0.113.99', 80, 65534)).toBe('proxy 203.0.113.99:80');
    expect(fetch(lab.gw, '203.0.113.10', 80, 65534)).toBe('server');
  });

  test('loading the file again replaces the table (idempotent)', () => {
    lab.gw.exec(`nft -f ${ROOT}/conf/nftables/gateway-redirect.nft`);
    const tables = lab.gw.exec('nft list tables').trim().split('\n');
    expect(tables).toEqual(['table ip redsocks_lan']);
    expect(lab.gw.exec('nft list chain ip redsocks_lan prerouting').match(/redirect to/g)).toHaveLength(1);
    expect(fetch(lab.client, '203.0.113.99', 80)).toBe('proxy 203.0.113.99:80');
  });
});

describe('conf/nftables/gateway-tproxy.nft (pairs with conf/redsocks-tproxy.conf)', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await buildLab();
    lab.gw.exec(`nft -f ${ROOT}/conf/nftables/gateway-tproxy.nft`);
    // The two lines the file's header asks for.
    lab.gw.exec('ip rule add fwmark 0x4d50 lookup 99 && ip route add local 0.0.0.0/0 dev lo table 99');
    listen(lab.gw, 'tproxy', '127.0.0.1', PROXY_PORT); // redsocks-tproxy.conf: local_ip = 127.0.0.1
    await listening(lab.gw, PROXY_PORT);
  });

  test('LAN TCP reaches the loopback listener with its destination intact (getsockname)', () => {
    expect(fetch(lab.client, '203.0.113.99', 80)).toBe('proxy 203.0.113.99:80');
    expect(fetch(lab.client, '203.0.113.7', 8080)).toBe('proxy 203.0.113.7:8080');
  });

  test('the SOCKS server and private destinations are not intercepted', () => {
    expect(fetch(lab.client, '203.0.113.10', 80)).toBe('server');
    expect(fetch(lab.client, '192.168.50.1', 80)).toBe('server');
  });

  test("the loopback listener cannot be reached from the LAN or the WAN, and the gateway's own TCP is untouched", () => {
    expect(fetch(lab.client, '10.77.0.1', PROXY_PORT)).toMatch(/Connection refused/);
    expect(fetch(lab.wan, '198.18.0.1', PROXY_PORT)).toMatch(/Connection refused/);
    expect(fetch(lab.gw, '203.0.113.99', 80, 65534)).toBe('server');
  });
});
