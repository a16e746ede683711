/**
 * socks-server without the mptcp-native addon (MPTCP_NATIVE_PATH points at a missing file):
 * a config that needs it (passwords, MPTCP forced on, TFO, syslog, -N) fails at -V and at start,
 * naming file:line and the fix, instead of a server that rejects every correct password. A
 * config that needs nothing from it still serves plain TCP, and a SIGHUP to one that does is
 * refused while the old config keeps serving.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killOnExit, removeTempDir, stopProcess, tempDir, waitFor } from '@mptcp-proxy/lab';
import { RawClient, ipv4Request, sink, type Sink, freePort } from './helpers/fixture';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'packages', 'socks-server', 'src', 'cli.ts');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const NO_ADDON = { ...process.env, MPTCP_NATIVE_PATH: '/nonexistent/mptcp-native' };
const dir = tempDir('socks-addon-');
afterAll(() => removeTempDir(dir));

function write(name: string, settings: string, port = 1080): string {
  const f = join(dir, name);
  writeFileSync(f, `internal: 127.0.0.1 port = ${port}\nexternal: 127.0.0.1\n${settings}\nclient pass { from: 0/0 to: 0/0 }\nsocks pass { from: 0/0 to: 0/0 }\n`);
  return f;
}

const verify = (args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stderr: string } => {
  const r = spawnSync(TSX, [CLI, ...args], { encoding: 'utf8', env, timeout: 30000 });
  return { status: r.status, stderr: r.stderr };
};

test('system passwords, MPTCP forced on, TFO, syslog: -V fails naming each line and the fix', () => {
  const f = write('needs.conf', 'socksmethod: username\nextension.mptcp: on\nextension.mptcp.external: on\nextension.fastopen: 16\nlogoutput: syslog stderr');
  expect(verify(['-V', '-f', f]).status).toBe(0);
  const r = verify(['-V', '-f', f], NO_ADDON);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/danted\[\d+\]: error: this configuration needs the mptcp-native addon:\n/);
  expect(r.stderr).toContain(`${f}:3: socksmethod: username (getspnam and crypt(3) for system passwords)`);
  expect(r.stderr).toContain(`${f}:4: extension.mptcp: on (IPPROTO_MPTCP listeners); or set extension.mptcp: auto (plain TCP)`);
  expect(r.stderr).toContain(`${f}:5: extension.mptcp.external: on (IPPROTO_MPTCP connections); or set extension.mptcp.external: auto`);
  expect(r.stderr).toContain(`${f}:6: extension.fastopen: 16 (TCP_FASTOPEN on the listeners); or set extension.fastopen: 0`);
  expect(r.stderr).toContain(`${f}:7: logoutput: syslog (the /dev/log datagram socket); or set logoutput: stderr`);
  expect(r.stderr).toContain('mptcp_native.node is not loaded: native addon not loaded; tried /nonexistent/mptcp-native/mptcp_native.node: not found');
  expect(r.stderr).toContain('apt-get install python3 make g++ libcrypt-dev && cd ');
  expect(r.stderr).toContain('alert: mother[1/1]: shutting down');
});

test('a password file needs crypt(3): the start fails too, and -N 2 needs SO_REUSEPORT', () => {
  const pw = join(dir, 'passwd');
  writeFileSync(pw, '');
  const f = write('pwfile.conf', `logoutput: stderr\nsocksmethod: username\nextension.passwordfile: ${pw}`);
  const r = verify(['-f', f], NO_ADDON);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`${f}:4: socksmethod: username (crypt(3) for the hashes of extension.passwordfile)`);
  expect(r.stderr).not.toContain('running');
  const plain = write('plain-n2.conf', 'logoutput: stderr\nsocksmethod: none');
  const n = verify(['-V', '-N', '2', '-f', plain], NO_ADDON);
  expect(n.status).toBe(1);
  expect(n.stderr).toContain('command line: -N 2 (SO_REUSEPORT, so the workers share the port); or set one process (no -N)');
});

describe('a config that needs nothing from the addon', () => {
  let child: ChildProcess;
  let dest: Sink;
  let port: number;
  let file: string;
  const logfile = join(dir, 'plain.log');
  // tsx runs the script in a child node; the pidfile names the real server.
  const pidfile = join(dir, 'plain.pid');
  const serverPid = (): number => Number(readFileSync(pidfile, 'utf8').trim());
  const logText = (): string => (existsSync(logfile) ? readFileSync(logfile, 'utf8') : '');

  async function connectThrough(): Promise<number[]> {
    const c = await RawClient.connect(port);
    c.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', dest.port)]));
    const r = await c.read(12);
    c.destroy();
    return [r[1], r[3]];
  }

  beforeAll(async () => {
    dest = await sink();
    port = await freePort();
    file = write('plain.conf', `logoutput: ${logfile}\nsocksmethod: none`, port);
    expect(verify(['-V', '-f', file], NO_ADDON).status).toBe(0);
    child = killOnExit(spawn(TSX, [CLI, '-f', file, '-p', pidfile], { stdio: ['ignore', 'ignore', 'pipe'], env: NO_ADDON }));
    await waitFor(() => logText().includes('running'), 30000, 'server start');
  }, 40000);

  afterAll(async () => {
    if (existsSync(pidfile)) process.kill(serverPid(), 'SIGTERM');
    await stopProcess(child);
    await dest?.close();
  });

  test('starts and serves plain TCP', async () => {
    expect(await connectThrough()).toEqual([0, 0]);
  });

  test('SIGHUP to a config that needs the addon is refused, naming the line; the old config keeps serving', async () => {
    writeFileSync(file, readFileSync(file, 'utf8').replace('socksmethod: none', 'socksmethod: username'));
    process.kill(serverPid(), 'SIGHUP');
    await waitFor(() => logText().includes('keeping the old configuration'), 10000, 'reload refusal');
    expect(logText()).toContain(`${file}:4: socksmethod: username (getspnam and crypt(3) for system passwords)`);
    expect(await connectThrough()).toEqual([0, 0]);
  });
});
