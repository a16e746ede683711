/**
 * The socks-server command line as an operator uses it: -V, -p, SIGUSR1,
 * SIGHUP with a broken and a good config, SIGTERM drain + exit 0.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killOnExit, removeTempDir, tempDir, tempSystemUser, type TempUser, waitFor } from '@mptcp-proxy/lab';
import { RawClient, ipv4Request, sink, type Sink, freePort } from './helpers/fixture';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'packages', 'socks-server', 'src', 'cli.ts');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const dir = tempDir('socks-cli-');
// The server re-reads its config as user.unprivileged after the drop (as from /etc/danted.conf).
chmodSync(dir, 0o755);
const PRIVS = 'user.privileged: root\nuser.unprivileged: nobody';
afterAll(() => removeTempDir(dir));

/** Kills a server by the pid in its pidfile (tsx's child node, or a -D supervisor) if it still runs. */
function killFromPidfile(pidfile: string): void {
  try {
    process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGKILL');
  } catch {
    // gone already
  }
}

function conf(port: number, logfile: string, extraSocks = '', privileges = ''): string {
  return `logoutput: ${logfile}
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: none username
clientmethod: none
${privileges}
client pass {
  from: 0/0 to: 0/0
  log: connect disconnect error
}
${extraSocks}
socks pass {
  from: 0/0 to: 0/0
  log: connect disconnect error
}
`;
}

describe('socks-server -V', () => {
  test('good config: rc 0; syntax error: rc 1 with file:line and the token', () => {
    const good = join(dir, 'good.conf');
    writeFileSync(good, conf(1080, join(dir, 'unused.log')));
    const ok = spawnSync(TSX, [CLI, '-V', '-f', good], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, `internal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nfoo: bar\n`);
    const ko = spawnSync(TSX, [CLI, '-V', '-f', bad], { encoding: 'utf8' });
    expect(ko.status).toBe(1);
    expect(ko.stderr).toMatch(/danted\[\d+\]: error: .*bad\.conf: problem on line 3 near token "foo/);
    expect(ko.stderr).toContain('alert: mother[1/1]: shutting down');
    const missing = spawnSync(TSX, [CLI, '-V', '-f', join(dir, 'nope.conf')], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('could not open config file');
  });

  test('a missing password file fails -V (start-up would fail on it)', () => {
    const file = join(dir, 'nopw.conf');
    const pwfile = join(dir, 'no-such-passwd');
    writeFileSync(file, conf(1080, join(dir, 'unused.log')).replace('clientmethod: none', `clientmethod: none\nextension.passwordfile: ${pwfile}`));
    const r = spawnSync(TSX, [CLI, '-V', '-f', file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`could not open password file: ENOENT: no such file or directory, open '${pwfile}'`);
  });
});

describe('socks-server daemon signals', () => {
  let child: ChildProcess;
  let user: TempUser;
  let sysUser = '';
  let dest: Sink;
  let port: number;
  const file = join(dir, 'run.conf');
  const logfile = join(dir, 'run.log');
  const pidfile = join(dir, 'run.pid');
  // tsx runs the script in a child node; the pidfile names the real server.
  const serverPid = (): number => Number(readFileSync(pidfile, 'utf8').trim());
  const logText = (): string => (existsSync(logfile) ? readFileSync(logfile, 'utf8') : '');

  async function connectThrough(): Promise<number> {
    const c = await RawClient.connect(port);
    c.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', dest.port)]));
    const r = await c.read(12);
    c.destroy();
    return r[3];
  }

  beforeAll(async () => {
    dest = await sink();
    port = await freePort();
    writeFileSync(file, conf(port, logfile, '', PRIVS));
    user = tempSystemUser('ssc', 'Cli-pass9');
    sysUser = user.name;
    child = killOnExit(spawn(TSX, [CLI, '-f', file, '-p', pidfile], { stdio: ['ignore', 'ignore', 'pipe'] }));
    await waitFor(() => logText().includes('running'), 30000, 'server start');
  }, 40000);

  afterAll(async () => {
    if (existsSync(pidfile)) killFromPidfile(pidfile);
    if (child && child.exitCode === null) child.kill('SIGKILL');
    user?.remove();
    await dest?.close();
  });

  test('user.unprivileged: every uid is nobody, no capability left; system passwords through the privileged helper', async () => {
    const status = readFileSync(`/proc/${serverPid()}/status`, 'utf8');
    expect(/^Uid:\s+(.*)$/m.exec(status)![1].split(/\s+/)).toEqual(['65534', '65534', '65534', '65534']);
    expect(/^Gid:\s+(.*)$/m.exec(status)![1].split(/\s+/)).toEqual(['65534', '65534', '65534', '65534']);
    expect(/^CapPrm:\s+(\w+)/m.exec(status)![1]).toMatch(/^0+$/);
    expect(/^CapEff:\s+(\w+)/m.exec(status)![1]).toMatch(/^0+$/);
    const c = await RawClient.connect(port);
    const u = Buffer.from(sysUser);
    const p = Buffer.from('Cli-pass9');
    c.write(Buffer.concat([Buffer.from([5, 1, 2, 1, u.length]), u, Buffer.from([p.length]), p, ipv4Request(1, '127.0.0.1', dest.port)]));
    const r = await c.read(14);
    expect([...r.subarray(0, 4)]).toEqual([5, 2, 1, 0]);
    expect(r[5]).toBe(0);
    c.destroy();
  });

  test('pidfile holds the server pid and a client gets through', async () => {
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    expect(pid).toBeGreaterThan(1);
    expect(await connectThrough()).toBe(0);
  });

  test('SIGUSR1 lists the clients', async () => {
    const accepts = (): number => logText().split('\n').filter((l) => l.includes('tcp/accept [')).length;
    // earlier tests' clients are in the log already: wait for this one's own accept line
    const before = accepts();
    const idle = await RawClient.connect(port);
    idle.write([5]);
    await waitFor(() => accepts() > before);
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    process.kill(pid, 'SIGUSR1');
    await waitFor(() => /client 127\.0\.0\.1\.\d+ on 127\.0\.0\.1\.\d+: greeting/.test(logText()), 10000, 'client list');
    expect(logText()).toMatch(/sockd: \d+ clients?/);
    idle.destroy();
  });

  test('SIGHUP with a broken config keeps the old one and says where', async () => {
    writeFileSync(file, `${conf(port, logfile, '', PRIVS)}\nthis is not dante\n`);
    process.kill(serverPid(), 'SIGHUP');
    await waitFor(() => logText().includes('keeping the old configuration'), 15000, 'reload failure');
    expect(logText()).toMatch(/error: .*run\.conf: problem on line \d+ near token/);
    expect(await connectThrough()).toBe(0);
  });

  test('SIGHUP with a good config applies it to new clients', async () => {
    const blockRule = `socks block {\n  from: 0/0 to: 127.0.0.1/32 port = ${dest.port}\n  log: connect error\n}\n`;
    writeFileSync(file, conf(port, logfile, blockRule, PRIVS));
    process.kill(serverPid(), 'SIGHUP');
    await waitFor(() => logText().includes('sighup(): reloaded configuration'), 15000, 'reload');
    expect(await connectThrough()).toBe(2);
  });

  test('SIGTERM drains and exits 0, removing the pidfile', async () => {
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    process.kill(serverPid(), 'SIGTERM');
    expect(await exited).toBe(0);
    expect(logText()).toContain('sigterm(): exiting on signal 15');
    // Removed by the shell the server left running as root before its privilege drop, once it is gone.
    await waitFor(() => !existsSync(pidfile), 5000, 'the pidfile to go');
  });
});

const textOf = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');

/** A foreground server (under tsx) named `name`, running once its log says so; stop() kills it. */
async function foregroundServer(name: string, flags: string[] = [], env: NodeJS.ProcessEnv = process.env) {
  const logfile = join(dir, `${name}.log`);
  const file = join(dir, `${name}.conf`);
  const pidfile = join(dir, `${name}.pid`);
  writeFileSync(file, conf(await freePort(), logfile));
  const child = killOnExit(spawn(TSX, [CLI, ...flags, '-f', file, '-p', pidfile], { stdio: 'ignore', env }));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await waitFor(() => textOf(logfile).includes('running'), 30000, 'server start');
  return {
    child,
    logfile,
    // tsx runs the script in a child node; the pidfile names the real server
    pid: Number(textOf(pidfile).trim()),
    stop: async () => {
      killFromPidfile(pidfile);
      await exited;
    },
  };
}

describe('socks-server and logrotate', () => {
  test('SIGHUP reopens the logoutput file that was moved away', async () => {
    const srv = await foregroundServer('rotated');
    try {
      renameSync(srv.logfile, `${srv.logfile}.1`);
      process.kill(srv.pid, 'SIGHUP');
      await waitFor(() => textOf(srv.logfile).includes('sighup(): reloaded configuration'), 15000, 'reload line in the new file');
      expect(textOf(`${srv.logfile}.1`)).toContain('running');
      expect(textOf(`${srv.logfile}.1`)).not.toContain('sighup()');
    } finally {
      await srv.stop();
    }
  });
});

describe('socks-server -D under systemd', () => {
  test('NOTIFY_SOCKET set: -D is ignored, the server stays in the foreground and says so once', async () => {
    const srv = await foregroundServer('systemd', ['-D'], { ...process.env, NOTIFY_SOCKET: '/nonexistent/notify' });
    try {
      expect(srv.child.exitCode).toBeNull();
      expect(textOf(srv.logfile).match(/-D is ignored under systemd/g)).toHaveLength(1);
      // the server is tsx's child: the pid systemd would watch stays its parent
      expect(readFileSync(`/proc/${srv.child.pid}/task/${srv.child.pid}/children`, 'utf8').trim()).toBe(String(srv.pid));
    } finally {
      await srv.stop();
    }
  });
});

describe('socks-server -D -N 2', () => {
  test('daemonizes (parent exits 0), two workers share the port, SIGTERM stops all', async () => {
    const dest = await sink();
    const port = await freePort();
    const logfile = join(dir, 'workers.log');
    const pidfile = join(dir, 'workers.pid');
    const file = join(dir, 'workers.conf');
    writeFileSync(file, conf(port, logfile));
    let workers: number[] = [];
    try {
      // not under systemd, even when the suite runs in a unit (-D would be ignored)
      const env = { ...process.env, INVOCATION_ID: '', NOTIFY_SOCKET: '' };
      const r = spawnSync(TSX, [CLI, '-D', '-N', '2', '-f', file, '-p', pidfile], { encoding: 'utf8', timeout: 30000, env });
      expect(r.status).toBe(0);
      const log = (): string => (existsSync(logfile) ? readFileSync(logfile, 'utf8') : '');
      await waitFor(() => log().includes('socks-server[1/2]') && log().includes('socks-server[2/2]'), 40000, 'two workers');
      const supervisor = Number(readFileSync(pidfile, 'utf8').trim());
      workers = readFileSync(`/proc/${supervisor}/task/${supervisor}/children`, 'utf8').trim().split(/\s+/).map(Number);
      expect(workers.length).toBe(2);
      for (let i = 0; i < 6; i++) {
        const c = await RawClient.connect(port);
        c.write(Buffer.concat([Buffer.from([5, 1, 0]), ipv4Request(1, '127.0.0.1', dest.port)]));
        expect((await c.read(12))[3]).toBe(0);
        c.destroy();
      }
      process.kill(supervisor, 'SIGTERM');
      await waitFor(() => !existsSync(pidfile) && workers.every((w) => !existsSync(`/proc/${w}`)), 20000, 'shutdown');
    } finally {
      // a failed run must not leave the daemon behind
      if (existsSync(pidfile)) killFromPidfile(pidfile);
      for (const w of workers) {
        try {
          process.kill(w, 'SIGKILL');
        } catch {
          // exited
        }
      }
      await dest.close();
    }
  }, 90000);
});
