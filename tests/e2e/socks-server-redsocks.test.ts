/**
 * The real C redsocks 0.5 (Debian) as a client of socks-server: a client
 * namespace with an nftables REDIRECT to redsocks, which speaks SOCKS5 (with
 * and without RFC 1929) and SOCKS4 to our server in a second namespace.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Netns, veth, waitFor, removeTempDir, tempDir } from '@mptcp-proxy/lab';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = join(ROOT, 'packages', 'socks-server', 'src', 'cli.ts');
const dir = tempDir('socks-redsocks-');
afterAll(() => removeTempDir(dir));

let cl: Netns;
let sv: Netns;
const procs: ChildProcess[] = [];
let serverLog = '';
let redsocksLog = '';

beforeAll(async () => {
  cl = Netns.create('ssrc');
  sv = Netns.create('ssrs');
  veth(cl, 'eth0', '10.72.0.1/24', sv, 'eth0', '10.72.0.2/24');
  const hash = sv.exec(`openssl passwd -6 -salt redsocks r3dpass`).trim();
  writeFileSync(join(dir, 'passwd'), `rs:${hash}\n`);
  writeFileSync(join(dir, 'danted.conf'), `logoutput: stderr
internal: 10.72.0.2 port = 1080
external: 10.72.0.2
socksmethod: username none
extension.passwordfile: ${join(dir, 'passwd')}
client pass { from: 10.72.0.0/24 to: 0/0
  log: error }
socks pass { from: 0/0 to: 0/0
  log: connect disconnect error }
`);
  writeFileSync(join(dir, 'redsocks.conf'), `base {
  log_debug = off;
  log_info = on;
  log = "stderr";
  daemon = off;
  redirector = iptables;
}
redsocks {
  local_ip = 127.0.0.1;
  local_port = 12345;
  ip = 10.72.0.2;
  port = 1080;
  type = socks5;
}
redsocks {
  local_ip = 127.0.0.1;
  local_port = 12346;
  ip = 10.72.0.2;
  port = 1080;
  type = socks5;
  login = "rs";
  password = "r3dpass";
}
redsocks {
  local_ip = 127.0.0.1;
  local_port = 12347;
  ip = 10.72.0.2;
  port = 1080;
  type = socks4;
}
`);
  writeFileSync(join(dir, 'redirect.nft'), `table ip rsnat {
  chain out {
    type nat hook output priority -100;
    meta l4proto tcp ip daddr 10.72.0.2 tcp dport 8080 redirect to :12345
    meta l4proto tcp ip daddr 10.72.0.2 tcp dport 8081 redirect to :12346
    meta l4proto tcp ip daddr 10.72.0.2 tcp dport 8082 redirect to :12347
  }
}
`);
  cl.exec(`nft -f ${join(dir, 'redirect.nft')}`);
  const origin = "const h=require('http');for(const p of [8080,8081,8082])h.createServer((q,s)=>s.end('origin '+p+' '+q.url)).listen(p,'10.72.0.2')";
  procs.push(sv.spawn(['node', '-e', origin]));
  const srv = sv.spawn([TSX, CLI, '-f', join(dir, 'danted.conf')]);
  srv.stderr!.on('data', (d) => (serverLog += d.toString()));
  procs.push(srv);
  const rs = cl.spawn(['redsocks', '-c', join(dir, 'redsocks.conf')]);
  rs.stderr!.on('data', (d) => (redsocksLog += d.toString()));
  procs.push(rs);
  await waitFor(() => serverLog.includes('running'), 40000, 'socks-server');
  await waitFor(() => redsocksLog.includes('redsocks started'), 10000, 'redsocks');
}, 60000);

afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  cl?.destroy();
  sv?.destroy();
});

const curl = (port: number, path: string): string => cl.exec(`curl -s -m 10 http://10.72.0.2:${port}${path}`, { allowFail: true });

test('redsocks socks5 (no auth) through socks-server', async () => {
  expect(curl(8080, '/plain')).toBe('origin 8080 /plain');
  await waitFor(() => serverLog.includes('tcp/connect [: 10.72.0.1.'), 10000, 'connect line');
  expect(serverLog).toMatch(/pass\(1\): tcp\/connect \[: 10\.72\.0\.1\.\d+ 10\.72\.0\.2\.1080 -> 10\.72\.0\.2\.\d+ 10\.72\.0\.2\.8080/);
});

test('redsocks socks5 with login/password (RFC 1929, password file)', async () => {
  expect(curl(8081, '/auth')).toBe('origin 8081 /auth');
  await waitFor(() => serverLog.includes('username%rs@10.72.0.1.'), 10000, 'authenticated connect line');
});

test('redsocks socks4 through socks-server', () => {
  expect(curl(8082, '/v4')).toBe('origin 8082 /v4');
});
