/**
 * The daemon as an operator runs it: nothing a client sends may take the process down (a UDP
 * datagram to port 0 killed socks-server with every session in it, with no login needed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { encodeUdpDatagram } from '@mptcp-proxy/common';
import { killOnExit, removeTempDir, tempDir, waitFor } from '@mptcp-proxy/lab';
import { RawClient, ipv4Request, sink, type Sink } from './helpers/fixture';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'packages', 'socks-server', 'src', 'cli.ts');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const dir = tempDir('socks-hd-');
chmodSync(dir, 0o755);

let child: ChildProcess;
let dest: Sink;
let port: number;
const logfile = join(dir, 'd.log');
const errfile = join(dir, 'd.err');
const pidfile = join(dir, 'd.pid');
const logText = (): string => (existsSync(logfile) ? readFileSync(logfile, 'utf8') : '');
const serverPid = (): number => Number(readFileSync(pidfile, 'utf8').trim());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  dest = await sink();
  port = await new Promise<number>((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
  writeFileSync(file, conf());
  child = killOnExit(spawn(TSX, [CLI, '-f', file, '-p', pidfile], { stdio: ['ignore', 'ignore', 'pipe'] }));
  await waitFor(() => logText().includes('running'), 30000, 'server start');
}, 40000);

const file = join(dir, 'd.conf');
const conf = (): string => `logoutput: ${logfile}
errorlog: ${errfile}
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0
  command: connect udpassociate udpreply
  log: connect disconnect error }
`;

afterAll(async () => {
  if (existsSync(pidfile) && alive(serverPid())) process.kill(serverPid(), 'SIGKILL');
  if (child.exitCode === null) child.kill('SIGKILL');
  await dest.close();
  removeTempDir(dir);
});

test('UDP datagrams to port 0, by address and by hostname, without a login: the daemon keeps serving', async () => {
  const pid = serverPid();
  const ctl = await RawClient.connect(port);
  ctl.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(3, '0.0.0.0', 0)]));
  const head = await ctl.read(12);
  expect(head[3]).toBe(0);
  const relayPort = head.readUInt16BE(10);
  const u = dgram.createSocket('udp4');
  u.bind(0, '127.0.0.1');
  await once(u, 'listening');
  for (const addr of [{ type: 'ipv4' as const, host: '127.0.0.1', port: 0 }, { type: 'domain' as const, host: 'localhost', port: 0 }]) {
    u.send(encodeUdpDatagram(addr, Buffer.from('boom')), relayPort, '127.0.0.1');
  }
  // A CONNECT through the same daemon afterwards: the datagrams were handled before it.
  await new Promise((r) => setTimeout(r, 300));
  const c = await RawClient.connect(port);
  c.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', dest.port)]));
  expect([...(await c.read(2))]).toEqual([5, 0]);
  expect((await c.read(10))[1]).toBe(0);
  expect(alive(pid)).toBe(true);
  expect(ctl.closed).toBe(false);
  expect(logText()).not.toMatch(/internal error|ERR_SOCKET_BAD_PORT/);
  c.destroy();
  ctl.destroy();
  u.close();
});

test('errorlog: gets the error lines (a SIGHUP with a broken config), not the client events', async () => {
  writeFileSync(file, `${conf()}\nnot dante at all\n`);
  process.kill(serverPid(), 'SIGHUP');
  await waitFor(() => logText().includes('keeping the old configuration'), 15000, 'reload failure');
  const err = await waitFor(() => (existsSync(errfile) && readFileSync(errfile, 'utf8').includes('keeping the old configuration')
    ? readFileSync(errfile, 'utf8') : ''), 5000, 'the errorlog line');
  expect(err).toMatch(/error: .*d\.conf: problem on line \d+ near token "not"/);
  expect(err).not.toMatch(/info: |tcp\/accept|tcp\/connect/);
  expect(logText()).toMatch(/info: pass\(1\): tcp\/connect/);
  writeFileSync(file, conf());
});
