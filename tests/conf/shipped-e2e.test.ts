/**
 * The shipped configs, run as shipped: a LAN client's curl goes through
 * conf/nftables/gateway-redirect.nft -> redsocks-ts with conf/redsocks.conf -> MPTCP over two
 * WAN links -> socks-server with conf/danted.conf -> a web server. Only the password file path
 * (a test must not write /etc) and the password differ from the shipped files: redsocks-ts
 * refuses to start with the samples' placeholder `CHANGE-ME`. The namespaces use the very
 * addresses and interface names the files name (wan1/wan2, 192.0.2.10, 198.51.100.20,
 * 203.0.113.10, eth0), so the test also proves the placeholders are consistent with each other.
 *
 *   client ns         gateway ns                           server ns
 *   eth0 10.77.0.2 -- lan0 10.77.0.1
 *                     wan1 192.0.2.10     -------------- eth0 192.0.2.1
 *                     wan2 198.51.100.20  -------------- eth1 198.51.100.1
 *                                                        lo: 203.0.113.10 (socks-server :1080)
 *                                                            203.0.113.80 (web :8080)
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Netns, destroyAll, veth, waitFor } from '@mptcp-proxy/lab';

const ROOT = path.resolve(__dirname, '../..');
const CLI = {
  redsocks: path.join(ROOT, 'packages/redsocks-ts/dist/cli.js'),
  socks: path.join(ROOT, 'packages/socks-server/dist/cli.js'),
};
const PAGE = 'shipped configs work\n';
/** Replaces the samples' placeholder password, which redsocks-ts refuses to start with. */
const PASSWORD = 'Shipped-e2e-9';

let tmp: string;
let client: Netns;
let gw: Netns;
let server: Netns;
const logs: Record<string, string> = { redsocks: '', socks: '' };
const daemons: ChildProcess[] = [];

function start(ns: Netns, name: 'redsocks' | 'socks', argv: string[]): ChildProcess {
  const child = ns.spawn(['node', ...argv], { cwd: ROOT });
  child.stdout?.on('data', (d: Buffer) => (logs[name] += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (logs[name] += d.toString()));
  daemons.push(child);
  return child;
}

async function listening(ns: Netns, port: number, child?: ChildProcess, name = ''): Promise<void> {
  await waitFor(() => {
    if (child && child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${logs[name]}`);
    return ns.exec(`ss -Hltn 'sport = :${port}'`, { allowFail: true }).includes(`:${port}`);
  }, 20000, `${name || 'listener'} on :${port}`);
}

function curl(ns: Netns, url: string): { status: number | null; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns.name, 'curl', '-sS', '--max-time', '15', url], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  for (const f of Object.values(CLI)) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shipped-e2e-'));
  client = Netns.create('sc');
  gw = Netns.create('sg');
  server = Netns.create('ss');
  veth(client, 'eth0', '10.77.0.2/24', gw, 'lan0', '10.77.0.1/24');
  veth(gw, 'wan1', '192.0.2.10/24', server, 'eth0', '192.0.2.1/24');
  veth(gw, 'wan2', '198.51.100.20/24', server, 'eth1', '198.51.100.1/24');
  client.exec('ip route add default via 10.77.0.1');
  // The gateway as docs/packaging.md sets it up by hand: sysctls, one endpoint and one
  // source route per extra ISP, and the nftables file.
  gw.exec(`sysctl -q -p ${ROOT}/conf/sysctl.d/90-mptcp-gateway.conf`);
  gw.exec('ip route add default via 192.0.2.1 dev wan1');
  gw.exec('ip route add default via 198.51.100.1 dev wan2 table 102 && ip rule add from 198.51.100.20 table 102');
  gw.exec('ip mptcp endpoint add 198.51.100.20 dev wan2 subflow && ip mptcp limits set subflow 2 add_addr_accepted 2');
  gw.exec(`nft -f ${ROOT}/conf/nftables/gateway-redirect.nft`);
  server.exec(`sysctl -q -p ${ROOT}/conf/sysctl.d/90-mptcp-server.conf`);
  server.exec('sysctl -qw net.ipv4.conf.all.rp_filter=0');
  server.exec('ip addr add 203.0.113.10/32 dev lo && ip addr add 203.0.113.80/32 dev lo');
  server.exec('ip mptcp limits set subflow 2 add_addr_accepted 2');
  server.exec('ip route add 10.77.0.0/24 via 192.0.2.10'); // so a LAN-sourced client is refused, not unrouted

  fs.writeFileSync(path.join(tmp, 'index.html'), PAGE);
  server.spawn(['/usr/bin/python3', '-m', 'http.server', '--bind', '203.0.113.80', '--directory', tmp, '8080']);

  // redsocks.conf's credentials, in the password file danted.conf points at.
  const hash = spawnSync('openssl', ['passwd', '-6', PASSWORD], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(path.join(tmp, 'passwd'), `gateway:${hash}\n`);
  const danted = fs.readFileSync(path.join(ROOT, 'conf/danted.conf'), 'utf8');
  expect(danted).toContain('extension.passwordfile: /etc/socks-server/passwd');
  fs.writeFileSync(path.join(tmp, 'danted.conf'), danted.replace('/etc/socks-server/passwd', path.join(tmp, 'passwd')));
  fs.chmodSync(tmp, 0o755); // read again as user.unprivileged on SIGHUP

  const socks = start(server, 'socks', [CLI.socks, '-f', path.join(tmp, 'danted.conf')]);
  await listening(server, 8080);
  await listening(server, 1080, socks, 'socks');
  const redsocksConf = fs.readFileSync(path.join(ROOT, 'conf/redsocks.conf'), 'utf8');
  expect(redsocksConf).toContain('password = "CHANGE-ME";');
  fs.writeFileSync(path.join(tmp, 'redsocks.conf'), redsocksConf.replace('password = "CHANGE-ME";', `password = "${PASSWORD}";`));
  const redsocks = start(gw, 'redsocks', [CLI.redsocks, '-c', path.join(tmp, 'redsocks.conf')]);
  await listening(gw, 12345, redsocks, 'redsocks');
}, 60000);

afterAll(() => {
  for (const d of daemons) d.kill('SIGKILL');
  destroyAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('a LAN client reaches the web through redsocks-ts and socks-server, the shipped configs', () => {
  const r = curl(client, 'http://203.0.113.80:8080/index.html');
  expect([r.status, r.out, logs]).toEqual([0, PAGE, logs]);
  expect(curl(client, 'http://203.0.113.80:8080/index.html').out).toBe(PAGE);
});

test('the upstream connection is MPTCP and joins the second WAN', async () => {
  // A slow download keeps the connection open long enough to look at it.
  fs.writeFileSync(path.join(tmp, 'big.bin'), Buffer.alloc(8 << 20));
  const dl = client.spawn(['curl', '-sS', '--limit-rate', '2M', '-o', '/dev/null', 'http://203.0.113.80:8080/big.bin']);
  try {
    // MPTCP subflows are TCP sockets with the mptcp ULP (path probes are plain TCP).
    const subflowPeers = (): string[] => {
      const out = server.exec("ss -Htni state established '( sport = :1080 )'", { allowFail: true });
      const peers: string[] = [];
      let peer = '';
      for (const line of out.split('\n')) {
        const m = /\s(\d+\.\d+\.\d+\.\d+):\d+\s*$/.exec(line);
        if (m) peer = m[1];
        else if (line.includes('tcp-ulp-mptcp') && peer) peers.push(peer);
      }
      return peers;
    };
    const peers = await waitFor(() => {
      const p = subflowPeers();
      return p.includes('192.0.2.10') && p.includes('198.51.100.20') ? p : undefined;
    }, 15000, 'MPTCP subflows from both WAN addresses');
    expect(new Set(peers)).toEqual(new Set(['192.0.2.10', '198.51.100.20']));
    expect(server.exec("ss -HMtn state established '( sport = :1080 )'")).toMatch(/192\.0\.2\.10:\d+/);
  } finally {
    dl.kill('SIGKILL');
  }
});

test('socks-server refuses what the shipped config forbids', async () => {
  // From the gateway itself (an allowlisted WAN address), with the right password:
  const via = (url: string, user = `gateway:${PASSWORD}`, from = '192.0.2.10'): { status: number | null; out: string } => {
    const r = spawnSync('ip', ['netns', 'exec', gw.name, 'curl', '-sS', '--max-time', '10', '--interface', from,
      '--socks5-hostname', `${user}@203.0.113.10:1080`, url], { encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  expect(via('http://203.0.113.80:8080/index.html').out).toBe(PAGE);
  expect(via('http://203.0.113.80:8080/index.html', 'gateway:wrong').status).toBe(97);
  for (const url of ['http://127.0.0.1:1080/', 'http://localhost:1080/', 'http://192.0.2.1:22/', 'http://10.77.0.1:12345/']) {
    const r = via(url);
    // REP 2: connection not allowed by ruleset (curl prints the code)
    expect([url, r.status, /Can't complete SOCKS5 connection to .*\(2\)/.test(r.out)]).toEqual([url, 97, true]);
  }
  // A client outside the allowlist (the gateway's LAN address is not on it) is refused at accept.
  const lan = spawnSync('ip', ['netns', 'exec', gw.name, 'curl', '-sS', '--max-time', '10', '--interface', '10.77.0.1',
    '--socks5-hostname', `gateway:${PASSWORD}@203.0.113.10:1080`, 'http://203.0.113.80:8080/'], { encoding: 'utf8' });
  expect([lan.status, lan.stdout]).toEqual([97, '']);
  expect(lan.stderr).toMatch(/reset|closed/i);
  await waitFor(() => /block\(\d+\): tcp\/accept \]: 10\.77\.0\.1\.\d+ /.test(logs.socks), 5000, 'the client-rule block log line');
});
