/** The redsocks-ts binary: flags, exit codes, daemon + pidfile, signals (loopback only). */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor, ROOT, tsEntry } from '@mptcp-proxy/lab';

const CLI = tsEntry('packages/redsocks-ts/src/cli.ts');
/** Not under systemd, even when the suite itself runs in a unit (daemon = on would be ignored). */
const NO_SYSTEMD: NodeJS.ProcessEnv = { ...process.env, INVOCATION_ID: '', NOTIFY_SOCKET: '' };
const run = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(CLI[0], [...CLI.slice(1), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30000, env: NO_SYSTEMD });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rts-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const GOOD = (log: string, daemon: string): string =>
  `base {\n  log_info = on;\n  log = "file:${log}";\n  daemon = ${daemon};\n  redirector = iptables;\n}\n` +
  'redsocks {\n  local_ip = 127.0.0.1;\n  local_port = 0;\n  ip = 127.0.0.1;\n  port = 1080;\n  type = socks5;\n}\n';

test('-h, -? and unknown flags print the usage and exit 0; -v prints the version', () => {
  for (const f of ['-h', '-?', '-x']) {
    const r = run([f]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: redsocks-ts \[-\?hvt\] \[-c config\] \[-p pidfile\]/);
  }
  const v = run(['-v']);
  expect(v.status).toBe(0);
  expect(v.stdout).toMatch(/^redsocks-ts\/\d+\.\d+\.\d+/);
});

test('-t: 0 for a good config, 1 with redsocks\' message for a bad one', () => {
  const good = path.join(dir, 'good.conf');
  fs.writeFileSync(good, GOOD(path.join(dir, 'x.log'), 'off'));
  expect(run(['-t', '-c', good]).status).toBe(0);
  const bad = path.join(dir, 'bad.conf');
  fs.writeFileSync(bad, 'base {\n  # not a comment\n}\n');
  const r = run(['-t', '-c', bad]);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/file parsing error at line 2: /);
});

test('-t prints every line redsocks prints for a rejected file (the cascade too)', () => {
  const f = path.join(dir, 'nored.conf');
  fs.writeFileSync(f, 'base { log_debug = on; }\n');
  const r = run(['-t', '-c', f]);
  expect(r.status).toBe(1);
  expect(r.stderr.startsWith('file parsing error at line 1: no `redirector` set\nfile parsing error at line 1: section->onexit failed\n')).toBe(true);
});

test('start checks: -t skips a missing base section (as redsocks) but not an unusable log target (exit 1, redsocks\' text)', () => {
  const nobase = path.join(dir, 'nobase.conf');
  fs.writeFileSync(nobase, GOOD(path.join(dir, 'n.log'), 'off').replace(/^base \{[^}]*\}\n/, ''));
  expect(run(['-t', '-c', nobase]).status).toBe(0);
  const r1 = run(['-c', nobase]);
  expect(r1.status).toBe(1);
  expect(r1.stderr).toContain('there is no configured instance of `base`, check config file');
  const badlog = path.join(dir, 'badlog.conf');
  fs.writeFileSync(badlog, GOOD(path.join(dir, 'b.log'), 'off').replace(/log = "[^"]*"/, 'log = "syslog:bogus"'));
  // redsocks -t passes it and then fails at start; redsocks-ts -t fails as its start would.
  const t2 = run(['-t', '-c', badlog]);
  expect(t2.status).toBe(1);
  expect(t2.stderr).toMatch(/log_preopen\(syslog:bogus, \.\.\.\): unknown syslog facility/);
  const r2 = run(['-c', badlog]);
  expect(r2.status).toBe(1);
  expect(r2.stderr).toMatch(/syslog:bogus/);
  const nofile = path.join(dir, 'nofile.conf');
  fs.writeFileSync(nofile, GOOD(path.join(dir, 'b.log'), 'off').replace(/log = "[^"]*"/, 'log = "file:"'));
  const t3 = run(['-t', '-c', nofile]);
  expect(t3.status).toBe(1);
  expect(t3.stderr).toContain('log_preopen(file:, ...): no file name');
});

test('daemon = on: the parent exits 0, the child writes -p PIDFILE, dumps on SIGUSR1, stops on SIGTERM', async () => {
  const log = path.join(dir, 'd.log');
  const conf = path.join(dir, 'd.conf');
  const pidfile = path.join(dir, 'd.pid');
  fs.writeFileSync(conf, GOOD(log, 'on'));
  expect(run(['-c', conf, '-p', pidfile]).status).toBe(0);
  const pid = Number(await waitFor(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim(), 20000, 'pidfile'));
  expect(fs.readFileSync(pidfile, 'utf8')).toBe(`${pid}\n`);
  // own session (setsid), working directory /
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  expect(Number(stat[3])).toBe(pid);
  expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/');
  const text = (): string => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
  await waitFor(() => /redsocks started, conn_max=\d+/.test(text()), 10000, 'started line');
  process.kill(pid, 'SIGUSR1');
  await waitFor(() => /End of client list\. 0 clients\./.test(text()), 10000, 'dump');
  expect(text()).toMatch(/Dumping client list for socks5 at 127\.0\.0\.1:\d+:/);
  process.kill(pid, 'SIGTERM');
  await waitFor(() => !fs.existsSync(`/proc/${pid}`), 10000, 'daemon exit');
  expect(text()).toMatch(/redsocks goes down/);
});

test('SIGHUP reopens the log file (logrotate moved it away)', async () => {
  const log = path.join(dir, 'rot.log');
  const conf = path.join(dir, 'rot.conf');
  fs.writeFileSync(conf, GOOD(log, 'off'));
  const child = spawn(CLI[0], [...CLI.slice(1), '-c', conf], { cwd: ROOT, stdio: 'ignore' });
  try {
      const text = (f: string): string => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
      await waitFor(() => /redsocks started/.test(text(log)), 20000, 'started line');
      fs.renameSync(log, `${log}.1`);
      child.kill('SIGHUP');
      await waitFor(() => /configuration reloaded/.test(text(log)), 10000, 'reload line in the new file');
      child.kill('SIGUSR1');
      await waitFor(() => /End of client list/.test(text(log)), 10000, 'dump in the new file');
      expect(text(`${log}.1`)).toMatch(/redsocks started/);
      expect(text(`${log}.1`)).not.toMatch(/End of client list/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
});

test('daemon = on under systemd (INVOCATION_ID set): stays in the foreground as the main process, says so once', async () => {
  const log = path.join(dir, 'sd.log');
  const conf = path.join(dir, 'sd.conf');
  fs.writeFileSync(conf, GOOD(log, 'on'));
  const child = spawn(CLI[0], [...CLI.slice(1), '-c', conf], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, INVOCATION_ID: 'f00d' } });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const text = (): string => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
    await waitFor(() => /redsocks started/.test(text()), 20000, 'started line');
    expect(child.exitCode).toBeNull();
    expect(text().match(/daemon = on is ignored under systemd/g)).toHaveLength(1);
    // the process systemd watches is the daemon itself (no detached child)
    expect(fs.readlinkSync(`/proc/${child.pid}/cwd`)).toBe(ROOT);
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
});

test('log = stderr on the journal (JOURNAL_STREAM names it): lines carry journald priorities', async () => {
  const errFile = path.join(dir, 'journal.txt');
  const conf = path.join(dir, 'j.conf');
  fs.writeFileSync(conf, GOOD('unused', 'off').replace(/log = "[^"]*"/, 'log = stderr'));
  const fd = fs.openSync(errFile, 'w');
  const st = fs.fstatSync(fd, { bigint: true });
  const child = spawn(CLI[0], [...CLI.slice(1), '-c', conf], { cwd: ROOT, stdio: ['ignore', 'ignore', fd], env: { ...NO_SYSTEMD, JOURNAL_STREAM: `${st.dev}:${st.ino}` } });
  fs.closeSync(fd);
  const exited = new Promise((r) => child.once('exit', r));
  const text = (): string => fs.readFileSync(errFile, 'utf8');
  await waitFor(() => /redsocks started/.test(text()), 20000, 'started line');
  child.kill('SIGTERM');
  await exited;
  // notice = 5; the rest of the line is redsocks' own
  expect(text()).toMatch(/^<5>\d+\.\d{6} notice \S+ \S+ redsocks started, conn_max=\d+$/m);
  expect(text()).toMatch(/^<5>\d+\.\d{6} notice .* redsocks goes down$/m);
});

test('-N 2: two workers listen on one port (SO_REUSEPORT), the supervisor holds -p PIDFILE, SIGTERM stops all', async () => {
  const net = await import('node:net');
  // a free port for both workers (local_port = 0 would give each worker its own)
  const port = await new Promise<number>((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  const log = path.join(dir, 'n.log');
  const conf = path.join(dir, 'n.conf');
  const pidfile = path.join(dir, 'n.pid');
  fs.writeFileSync(conf, GOOD(log, 'off').replace('local_port = 0', `local_port = ${port}`));
  const child = spawn(CLI[0], [...CLI.slice(1), '-c', conf, '-p', pidfile, '-N', '2'], { cwd: ROOT, env: NO_SYSTEMD, stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const text = (): string => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
  try {
  await waitFor(() => /worker 1\/2/.test(text()) && /worker 2\/2/.test(text()), 30000, 'both workers started');
  expect(fs.readFileSync(pidfile, 'utf8')).toBe(`${child.pid}\n`);
  // two listening sockets on the port, each in its own worker (a child of the supervisor)
  const owners = new Set<number>();
  for (const pid of fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number)) {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let link: string;
      try {
        link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed since the listing (a probe's or a pooled connection's fd)
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode && fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => {
        const f = l.trim().split(/\s+/);
        return f[9] === inode && f[3] === '0A' && parseInt(f[1].split(':')[1], 16) === port;
      })) owners.add(pid);
    }
  }
  expect(owners.size).toBe(2);
  process.kill(child.pid!, 'SIGTERM');
  expect(await exited).toBe(0);
  expect(fs.existsSync(pidfile)).toBe(false);
  expect(text().match(/redsocks goes down/g)).toHaveLength(2);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL'); // a failed expectation must not leave the workers to hold jest
  }
});

test('-N needs a number of workers: exit 1 naming the value', () => {
  for (const v of ['0', 'x', '1000']) {
    const r = run(['-N', v, '-c', '/nonexistent.conf']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`-N ${v}: expected a number of workers (1 to 999)`);
  }
});

test('a bad MPTCP_SPLICE_ON refuses to start, naming the variable', () => {
  const conf = path.join(dir, 'env.conf');
  fs.writeFileSync(conf, GOOD(path.join(dir, 'env.log'), 'off'));
  const r = spawnSync(CLI[0], [...CLI.slice(1), '-c', conf], { cwd: ROOT, encoding: 'utf8', timeout: 30000, env: { ...NO_SYSTEMD, MPTCP_SPLICE_ON: 'bogus' } });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('MPTCP_SPLICE_ON=bogus: expected loop or thread');
});
