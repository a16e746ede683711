/**
 * socks-server vs Dante's danted, both run as separate daemons on loopback in the same run.
 * Prints a table; never asserts.
 *
 *   bulk    one CONNECT, BULK_MB downloaded through it; MB/s and server CPU s/GB
 *           (utime+stime+cutime+cstime from /proc/<pid>/stat of every server process)
 *   rate    RATE_CLIENTS concurrent clients for RATE_SECONDS: handshake, 1 byte reply, close
 *   idle    IDLE_CONNS relayed connections held open; PSS per connection from
 *           /proc/<pid>/smaps_rollup summed over every server process
 *
 * Usage: npx tsx bench/socks-server-bench.ts   (env: BULK_MB=2048 RATE_CLIENTS=32 RATE_SECONDS=5 IDLE_CONNS=2000,
 *        RTS_BENCH_METRICS=on for ours with extension.metrics)
 * The client and the origin are bench/loadgen.c (plain RFC 1928, no pipelining), identical
 * for both servers and cheap enough that the servers get the CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds, processTree, pssKb } from './proc-stats';
import { runLoadgen, type BulkResult, type ConnResult, type IdleResult } from './loadgen';
import { machineState, withHaltPoll } from './machine-state';
import { shebangFlags } from './bin-flags';

const BULK_MB = Number(process.env.BULK_MB ?? 2048);
const RATE_CLIENTS = Number(process.env.RATE_CLIENTS ?? 32);
const RATE_SECONDS = Number(process.env.RATE_SECONDS ?? 5);
const IDLE_CONNS = Number(process.env.IDLE_CONNS ?? 2000);
const WORKERS = Number(process.env.WORKERS ?? cpus().length);
const ROOT = join(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'socks-bench-'));

/**
 * The floor: the least a Node SOCKS5 CONNECT relay can do (no rules, logs, timeouts or
 * accounting; assumes whole messages). What Node itself costs per connection on this machine.
 */
const FLOOR_JS = `
const net = require('net'), fs = require('fs');
const [port, pidfile] = process.argv.slice(1);
net.createServer({ allowHalfOpen: true, noDelay: true }, (c) => {
  let st = 0;
  c.on('error', () => c.destroy());
  c.on('data', function greet(b) {
    if (st++ === 0) return void c.write(Buffer.from([5, 0]));
    c.removeListener('data', greet);
    c.pause();
    const u = net.connect({ host: b[4] + '.' + b[5] + '.' + b[6] + '.' + b[7], port: b.readUInt16BE(8), allowHalfOpen: true, noDelay: true }, () => {
      c.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
      c.pipe(u);
      u.pipe(c);
      c.resume();
    });
    u.on('error', () => c.destroy());
    u.on('close', () => c.destroy());
    c.on('close', () => u.destroy());
  });
}).listen(Number(port), '127.0.0.1', () => fs.writeFileSync(pidfile, String(process.pid)));
`;

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type DaemonName = 'socks-server' | 'danted' | 'node-floor';

interface Daemon {
  name: string;
  port: number;
  pid: number;
  proc: ChildProcess;
  pids(): number[];
  stop(): Promise<void>;
}

function conf(port: number, metrics = false): string {
  return `logoutput: ${join(dir, 'unused.log')}${metrics ? '\nextension.metrics: 127.0.0.1 port = 0' : ''}
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: root
timeout.negotiate: 30
timeout.io: 0
client pass {
  from: 0/0 to: 0/0
  log: error
}
socks pass {
  from: 0/0 to: 0/0
  log: error
}
`;
}

async function waitPid(file: string): Promise<number> {
  for (let i = 0; i < 600; i++) {
    if (existsSync(file)) {
      const v = Number(readFileSync(file, 'utf8').trim());
      if (v > 0) return v;
    }
    await sleep(50);
  }
  throw new Error(`no pid in ${file}`);
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

async function startDaemon(name: DaemonName, workers = 1): Promise<Daemon> {
  const port = await freePort();
  const file = join(dir, `${name}-${workers}.conf`);
  const pidfile = join(dir, `${name}-${workers}.pid`);
  // RTS_BENCH_METRICS=on: ours with its metrics endpoint on (not scraped)
  writeFileSync(file, conf(port, name === 'socks-server' && process.env.RTS_BENCH_METRICS === 'on'));
  const n = workers > 1 ? ['-N', String(workers)] : [];
  // Ours runs compiled (dist/, from `tsc -b`) like the C binary; tsx only if there is no build.
  const dist = join(ROOT, 'packages/socks-server/dist/cli.js');
  const argv = name === 'danted'
    ? ['danted', ['-f', file, '-p', pidfile, ...n]] as const
    : name === 'node-floor'
    ? [process.execPath, ['--max-semi-space-size=1', '-e', FLOOR_JS, String(port), pidfile]] as const
    : existsSync(dist)
      ? [process.execPath, [...shebangFlags(dist), dist, '-f', file, '-p', pidfile, ...n]] as const
      : [join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'packages/socks-server/src/cli.ts'), '-f', file, '-p', pidfile, ...n]] as const;
  const proc = spawn(argv[0], [...argv[1]], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = await waitPid(pidfile);
  await waitListening(port);
  await sleep(300);
  return {
    name, port, pid, proc,
    pids: () => processTree(pid),
    stop: async () => {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await new Promise((r) => {
        if (proc.exitCode !== null) r(null);
        proc.once('exit', r);
        setTimeout(() => {
          proc.kill('SIGKILL');
          r(null);
        }, 5000);
      });
    },
  };
}

const socks = (d: Daemon): string[] => ['--socks', `127.0.0.1:${d.port}`];

async function bulk(d: Daemon, originPort: number): Promise<{ mbps: number; cpuPerGb: number }> {
  const cpu0 = cpuSeconds(d.pids());
  const r = await runLoadgen(['client', 'bulk', '127.0.0.1', originPort, ...socks(d), 1, BULK_MB * 2 ** 20]).next<BulkResult>();
  if (r.failed || !r.bytes) throw new Error(`bulk through ${d.name} failed`);
  const cpu = cpuSeconds(d.pids()) - cpu0;
  return { mbps: r.bytes / 2 ** 20 / r.secs, cpuPerGb: cpu / (r.bytes / 2 ** 30) };
}

async function rate(d: Daemon, originPort: number): Promise<{ rate: number; errors: number; cpuMs: number }> {
  const cpu0 = cpuSeconds(d.pids());
  const r = await runLoadgen(['client', 'conn', '127.0.0.1', originPort, ...socks(d), RATE_CLIENTS, RATE_SECONDS]).next<ConnResult>();
  return { rate: r.done / r.secs, errors: r.failed, cpuMs: ((cpuSeconds(d.pids()) - cpu0) * 1000) / Math.max(1, r.done) };
}

async function idle(d: Daemon, originPort: number): Promise<number> {
  // Warm up (JIT, Dante's first children), then measure the delta of the held connections.
  const hold = async (n: number): Promise<() => Promise<void>> => {
    const g = runLoadgen(['client', 'idle', '127.0.0.1', originPort, ...socks(d), n]);
    const r = await g.next<IdleResult>();
    if (r.held !== n) throw new Error(`idle: only ${r.held} of ${n} connections through ${d.name}`);
    return async () => {
      g.proc.stdin!.end('x\n');
      await g.exited;
    };
  };
  await (await hold(50))();
  await sleep(1500);
  const before = pssKb(d.pids());
  const release = await hold(IDLE_CONNS);
  await sleep(1000);
  const after = pssKb(d.pids());
  await release();
  await sleep(1000);
  return ((after - before) * 1024) / IDLE_CONNS;
}

function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
}

async function main(): Promise<void> {
  const before = machineState();
  await withHaltPoll(() => measureAll(before));
}

async function measureAll(before: string): Promise<void> {
  const origin = runLoadgen(['origin', 0]);
  const originPort = (await origin.next<{ port: number }>()).port;

  type Result = { mbps: number; cpuPerGb: number; rate: number; rateErr: number; cpuMs: number; pss: number };
  const results: Record<string, Result> = {};
  const runs: [string, DaemonName, number][] = [
    ['socks-server', 'socks-server', 1],
    [`socks-server -N ${WORKERS}`, 'socks-server', WORKERS],
    ['danted', 'danted', 1],
    ['node floor (reference)', 'node-floor', 1],
  ];
  for (const [label, name, workers] of runs) {
    const d = await startDaemon(name, workers);
    process.stderr.write(`${label}: pid ${d.pid} port ${d.port}\n`);
    const b = await bulk(d, originPort);
    process.stderr.write(`${label}: bulk ${b.mbps.toFixed(0)} MB/s, ${b.cpuPerGb.toFixed(2)} CPU s/GB\n`);
    const r = await rate(d, originPort);
    process.stderr.write(`${label}: rate ${r.rate.toFixed(0)}/s, ${r.cpuMs.toFixed(3)} CPU ms/conn\n`);
    const p = name === 'node-floor' ? NaN : await idle(d, originPort);
    process.stderr.write(`${label}: pss ${p.toFixed(0)} B/conn\n`);
    results[label] = { mbps: b.mbps, cpuPerGb: b.cpuPerGb, rate: r.rate, rateErr: r.errors, cpuMs: r.cpuMs, pss: p };
    await d.stop();
  }
  // The ceiling: the same client straight to the origin, no proxy at all. A proxy adds a
  // second TCP connection and a relay hop, so no proxy can exceed these numbers.
  const NO_PROXY = 'no proxy (ceiling)';
  {
    const b = await runLoadgen(['client', 'bulk', '127.0.0.1', originPort, 1, BULK_MB * 2 ** 20]).next<BulkResult>();
    const r = await runLoadgen(['client', 'conn', '127.0.0.1', originPort, RATE_CLIENTS, RATE_SECONDS]).next<ConnResult>();
    results[NO_PROXY] = { mbps: b.bytes / 2 ** 20 / b.secs, cpuPerGb: NaN, rate: r.done / r.secs, rateErr: r.failed, cpuMs: NaN, pss: NaN };
    process.stderr.write(`${NO_PROXY}: bulk ${results[NO_PROXY].mbps.toFixed(0)} MB/s, rate ${results[NO_PROXY].rate.toFixed(0)}/s\n`);
  }
  origin.proc.kill();
  const labels = [...runs.map(([label]) => label), NO_PROXY];

  const t = results.danted;
  const w = [34, 24, 10, 12, 10];
  const out = [
    `socks-server vs danted on loopback (${BULK_MB} MB bulk, ${RATE_CLIENTS} clients x ${RATE_SECONDS}s, ${IDLE_CONNS} idle conns; ` +
      `${cpus().length} CPUs, ${before})`,
    row(['metric', 'server', 'value', 'ours/Dante', 'target'], w),
  ];
  const metric = (title: string, key: keyof Result, digits: number, target: string, scale = 1): void => {
    for (const label of labels) {
      const v = results[label][key] / scale;
      if (Number.isNaN(v)) continue;
      const ratio = label === 'danted' ? '' : (results[label][key] / t[key]).toFixed(2);
      out.push(row([title, label, v.toFixed(digits), ratio, label.startsWith('socks-server') ? target : ''], w));
    }
  };
  metric('bulk throughput (MB/s)', 'mbps', 0, '>= 2');
  metric('server CPU (s/GB)', 'cpuPerGb', 2, '');
  metric(`new connections/s (${RATE_CLIENTS} clients)`, 'rate', 0, '>= 4');
  metric('server CPU per connection (ms)', 'cpuMs', 3, '');
  metric(`PSS per idle conn (KB, ${IDLE_CONNS})`, 'pss', 1, '<= 16 KB', 1024);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
