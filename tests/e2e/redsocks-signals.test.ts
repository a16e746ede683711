/**
 * Operations surface, for redsocks-ts and the C redsocks alike: SIGUSR1 client dump,
 * conn_max / fd-limit back-off and recovery, and SIGHUP (we reload; redsocks dies).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  dantedConf, stopProcess, waitFor, CLIENT_IP, makeTopology, ORIGIN_IP, originScript, PROXY_IP,
  redirectRules, redsocksBase, redsocksSection, spawnIn, tsEntry, waitListening, writeFile, type Daemon,
  type Triangle,
} from '@mptcp-proxy/lab';

type Impl = 'redsocks-ts' | 'redsocks';
const IMPLS: Impl[] = ['redsocks-ts', 'redsocks'];

function conf(log: string, instances: Array<[number, number]>, base = '', extra = ''): string {
  return redsocksBase(log, base) + instances.map(([lp, up]) => redsocksSection(lp, up, 'socks5', extra)).join('');
}

let topo: Triangle;
let danted: Daemon;

beforeAll(async () => {
  topo = makeTopology('rsig');
  spawnIn(topo.srv, ['node', '-e', originScript([8001, 8002], 7007)]);
  danted = spawnIn(topo.srv, ['danted', '-f', writeFile(topo.dir, 'd.conf', dantedConf({ internal: PROXY_IP, port: 1080, users: true }))]);
  for (const p of [8001, 7007, 1080]) await waitListening(topo.srv, p);
  redirectRules(topo.gw, topo.dir, [[8001, 12001], [7007, 12001], [8002, 12002]]);
}, 60000);

afterAll(() => topo?.destroy());

function startImpl(impl: Impl, name: string, text: string, wrap: string[] = []): { rs: Daemon; log: () => string; conf: string } {
  const logFile = path.join(topo.dir, `${name}.log`);
  const file = writeFile(topo.dir, `${name}.conf`, text.replace('@LOG@', logFile));
  const argv = impl === 'redsocks' ? ['redsocks', '-c', file] : [...tsEntry('packages/redsocks-ts/src/cli.ts'), '-c', file];
  const rs = spawnIn(topo.gw, [...wrap, ...argv]);
  return { rs, conf: file, log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '') };
}

const stop = (rs: Daemon): Promise<void> => stopProcess(rs.proc);

/** An ncat client held open through the gateway; resolves once an echo came back. On a
 * time-out the error carries what ncat printed and `diag()` (the daemon's log and fds). */
async function holdClient(diag: () => string = () => ''): Promise<ChildProcess> {
  const p = topo.client.spawn(['ncat', ORIGIN_IP, '7007'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let got = '';
  let err = '';
  p.stdout?.on('data', (d) => (got += d.toString()));
  p.stderr?.on('data', (d) => (err += d.toString()));
  p.stdin?.write('ping\n');
  try {
    await waitFor(() => got.includes('ping'), 10000, 'echo through redsocks');
  } catch (e) {
    p.kill();
    throw new Error(`${String(e)}; ncat exit ${p.exitCode}, stderr: ${err.trim() || '(none)'}\n${diag()}`);
  }
  return p;
}

/** The daemon's open fds and the tail of its log, for a failure message. */
function daemonState(rs: Daemon, log: () => string): string {
  let fds = '?';
  try {
    fds = fs.readdirSync(`/proc/${rs.proc.pid}/fd`).map((f) => {
      try {
        return fs.readlinkSync(`/proc/${rs.proc.pid}/fd/${f}`).replace(/:\[\d+\]$/, '');
      } catch {
        return '?';
      }
    }).join(' ');
  } catch {
    /* exited */
  }
  return `fds: ${fds}\noutput: ${rs.output().slice(-2000)}\nlog tail:\n${log().split('\n').slice(-30).join('\n')}\ndanted: ${danted.output().slice(-2000)}`;
}

const curlOk = (port: number, maxTime = 5): boolean =>
  topo.client.exec(`curl -sS --max-time ${maxTime} http://${ORIGIN_IP}:${port}/z`, { allowFail: true }) === 'hello /z';

describe.each(IMPLS)('%s', (impl) => {
  test('SIGUSR1 dumps the client list in redsocks format', async () => {
    // splice = off: the C dump then prints the buffered form, the only one redsocks-ts has
    const { rs, log } = startImpl(impl, `${impl}-usr1`, conf('@LOG@', [[12001, 1080]], '', '  splice = off;\n'));
    try {
      await waitListening(topo.gw, 12001, 20000);
      const c = await holdClient();
      rs.proc.kill('SIGUSR1');
      await waitFor(() => /End of client list\. 1 clients\./.test(log()), 5000, 'dump end');
      const text = log();
      expect(text).toMatch(/Dumping client list for socks5 at 0\.0\.0\.0:12001:/);
      expect(text).toMatch(
        new RegExp(
          `\\[${CLIENT_IP}:\\d+->${ORIGIN_IP}:7007\\]: client: \\d+ \\(R/W\\), relay: \\d+ \\(R/W\\), age: \\d+\\.\\d{6} sec, idle: \\d+\\.\\d{6} sec\\.`,
        ),
      );
      c.kill();
    } finally {
      await stop(rs);
    }
  });

  test('fd limit: conn_max from RLIMIT_NOFILE, back-off, then recovery', async () => {
    const text = conf('@LOG@', [[12001, 1080]], '  max_accept_backoff = 200;\n');
    const { rs, log } = startImpl(impl, `${impl}-fd`, text, ['prlimit', '--nofile=64:64']);
    const held: ChildProcess[] = [];
    try {
      await waitListening(topo.gw, 12001, 20000);
      await waitFor(() => /redsocks started, conn_max=(\d+)/.exec(log()), 5000, 'started line');
      const connMax = Number(/redsocks started, conn_max=(\d+)/.exec(log())![1]);
      expect(connMax).toBe(8); // (64 - 64/4) / 6, splice on by default
      for (let i = 0; i < connMax; i++) held.push(await holdClient(() => `client ${i + 1} of ${connMax}\n${daemonState(rs, log)}`));
      // one more: over the limit, it waits in the backlog or is refused while we back off
      held.push(topo.client.spawn(['ncat', ORIGIN_IP, '7007'], { stdio: ['pipe', 'pipe', 'pipe'] }));
      await waitFor(() => /reached redsocks_conn_max limit, \d+ connections/.test(log()), 10000, 'limit line');
      await waitFor(() => /accept: backing off for \d+\.\d{6}s/.test(log()), 10000, 'back-off line');
      for (const c of held) c.kill();
      await waitFor(() => curlOk(8001), 15000, 'a new client after recovery');
    } finally {
      for (const c of held) c.kill();
      await stop(rs);
    }
  });

  test('connpres_idle_timeout: at redsocks_conn_max, clients idle for that long are dropped', async () => {
    const text = conf('@LOG@', [[12001, 1080]], '  redsocks_conn_max = 2;\n  connpres_idle_timeout = 1;\n');
    const { rs, log } = startImpl(impl, `${impl}-idle`, text);
    const held: ChildProcess[] = [];
    try {
      await waitListening(topo.gw, 12001, 20000);
      held.push(await holdClient(), await holdClient());
      await waitFor(() => /reached redsocks_conn_max limit, 2 connections/.test(log()), 5000, 'limit line');
      // the back-off retries apply the pressure again until a client has been idle for 1 s
      await waitFor(() => /dropped connections idle for 1\+ seconds/.test(log()), 10000, 'dropped line');
      expect(log()).toMatch(
        new RegExp(`\\[${CLIENT_IP}:\\d+->${ORIGIN_IP}:7007\\]: dropping client \\([R-]/[W-]\\), relay \\([R-]/[W-]\\), idle [1-9]\\.\\d{6}s`),
      );
      if (impl === 'redsocks-ts') {
        // accepting resumes once the drop brought us under the limit
        await waitFor(() => curlOk(8001), 10000, 'a new client after the drop');
      } else {
        // redsocks 0.5 keeps its listeners disabled after a connpres drop (the "stops relaying
        // after a while" reports, darkk/redsocks#99 #121 #132): a new client is not accepted
        expect(curlOk(8001, 2)).toBe(false);
      }
    } finally {
      for (const c of held) c.kill();
      await stop(rs);
    }
  });

  test('SIGHUP: redsocks-ts reloads atomically; the C redsocks dies', async () => {
    const { rs, log, conf: file } = startImpl(impl, `${impl}-hup`, conf('@LOG@', [[12001, 1080]]));
    try {
      await waitListening(topo.gw, 12001, 20000);
      expect(curlOk(8001)).toBe(true);
      expect(curlOk(8002, 2)).toBe(false);
      const logFile = path.join(topo.dir, `${impl}-hup.log`);
      fs.writeFileSync(file, conf(logFile, [[12001, 1080], [12002, 1080]]));
      rs.proc.kill('SIGHUP');
      if (impl === 'redsocks') {
        // redsocks 0.5 installs no SIGHUP handler: the default action ends it
        await waitFor(() => rs.proc.signalCode === 'SIGHUP' || rs.proc.exitCode !== null, 5000, 'redsocks exit');
        expect(rs.proc.signalCode).toBe('SIGHUP');
        return;
      }
      await waitFor(() => /configuration reloaded/.test(log()), 10000, 'reload line');
      await waitListening(topo.gw, 12002, 5000);
      expect(curlOk(8002)).toBe(true);
      // a broken file: the running config stays, and the log says where and why
      fs.writeFileSync(file, conf(logFile, [[12001, 1080]]).replace('daemon = off;', 'daemon = off; # no hash comments'));
      rs.proc.kill('SIGHUP');
      await waitFor(() => /reload failed, keeping the running configuration: .*:\d+: /.test(log()), 10000, 'reload failure line');
      expect(rs.proc.exitCode).toBeNull();
      expect(curlOk(8001)).toBe(true);
      expect(curlOk(8002)).toBe(true);
    } finally {
      await stop(rs);
    }
  });
});
