/**
 * An MPTCP client in one namespace reaches socks-server in another over two
 * veth links: the connection gets 2 subflows, data is relayed, and with
 * extension.fastopen the listener accepts SYN data (kernel TFO counters).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Netns, veth, waitFor, removeTempDir, tempDir } from '@mptcp-proxy/lab';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = join(ROOT, 'packages', 'socks-server', 'src', 'cli.ts');
const CLIENT = join(ROOT, 'packages', 'socks-server', 'test', 'fixtures', 'mptcp-client.ts');
const dir = tempDir('socks-mptcp-');
afterAll(() => removeTempDir(dir));

let c: Netns;
let s: Netns;
let server: ChildProcess;
let echo: ChildProcess;
let log = '';

function runClient(mode = ''): { subflows?: number; rep?: number; echoed?: string; error?: string } {
  const out = c.exec(`${TSX} ${CLIENT} 10.71.1.2 1080 127.0.0.1 7007 ${mode}`, { allowFail: true });
  return JSON.parse(out.trim().split('\n').pop() || '{}');
}

beforeAll(async () => {
  c = Netns.create('ssmc');
  s = Netns.create('ssms');
  veth(c, 'c1', '10.71.1.1/24', s, 's1', '10.71.1.2/24');
  veth(c, 'c2', '10.71.2.1/24', s, 's2', '10.71.2.2/24');
  for (const ns of [c, s]) {
    ns.exec('sysctl -qw net.mptcp.enabled=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0');
    ns.exec('ip mptcp limits set subflow 2 add_addr_accepted 2');
  }
  c.exec('ip mptcp endpoint add 10.71.2.1 dev c2 subflow');
  c.exec('sysctl -qw net.ipv4.tcp_fastopen=1');
  s.exec('sysctl -qw net.ipv4.tcp_fastopen=3');
  const conf = join(dir, 'danted.conf');
  writeFileSync(conf, `logoutput: stderr
internal: 0.0.0.0 port = 1080
external: 127.0.0.1
socksmethod: none
extension.fastopen: 16
extension.mptcp.external: on
client pass { from: 0/0 to: 0/0
  log: error }
socks pass { from: 0/0 to: 0/0
  log: connect disconnect error }
`);
  // The destination is an MPTCP listener too, so the outbound leg (extension.mptcp.external) can be MPTCP.
  const native = join(ROOT, 'packages', 'mptcp-native', 'dist', 'index.js');
  echo = s.spawn(['node', '-e', `require(${JSON.stringify(native)}).listen({ host: '127.0.0.1', port: 7007, mptcp: 'on' })` +
    `.then((srv) => srv.on('connection', (c) => { c.on('error', () => {}); c.pipe(c); }))`]);
  server = s.spawn([TSX, CLI, '-f', conf]);
  server.stderr!.on('data', (d) => (log += d.toString()));
  await waitFor(() => log.includes('running'), 40000, 'socks-server in the namespace');
}, 60000);

afterAll(() => {
  server?.kill('SIGKILL');
  echo?.kill('SIGKILL');
  c?.destroy();
  s?.destroy();
});

test('MPTCP client gets 2 subflows to socks-server and data is relayed', async () => {
  const joins0 = s.counter('MPTcpExtMPJoinSynRx');
  const outbound0 = s.counter('MPTcpExtMPCapableSYNTX');
  const r = runClient();
  expect(r.error).toBeUndefined();
  expect(r.rep).toBe(0);
  expect(r.echoed).toBe('ping over mptcp');
  expect(r.subflows).toBe(2);
  expect(s.counter('MPTcpExtMPJoinSynRx')).toBeGreaterThan(joins0);
  expect(s.counter('MPTcpExtMPCapableSYNRX')).toBeGreaterThan(0);
  // extension.mptcp.external: the server's own connect to the destination is MPTCP.
  expect(s.counter('MPTcpExtMPCapableSYNTX')).toBeGreaterThan(outbound0);
  await waitFor(() => log.includes('tcp/connect ['), 10000, 'connect log line');
  expect(log).toMatch(/pass\(1\): tcp\/connect \[: 10\.71\.1\.1\.\d+ 10\.71\.1\.2\.1080 -> 127\.0\.0\.1\.\d+ 127\.0\.0\.1\.7007/);
}, 60000);

test('extension.fastopen: the listener takes SYN data once the client has a cookie', () => {
  const passive0 = s.counter('TcpExtTCPFastOpenPassive');
  const first = runClient('tfo'); // fetches the cookie
  expect(first.echoed).toBe('ping over mptcp');
  const second = runClient('tfo'); // greeting+request+data in the SYN
  expect(second.rep).toBe(0);
  expect(second.echoed).toBe('ping over mptcp');
  expect(s.counter('TcpExtTCPFastOpenPassive')).toBeGreaterThan(passive0);
}, 60000);
