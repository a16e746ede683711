/**
 * socks-server vs Dante's danted, both run as separate daemons on loopback in the same run.
 * Prints a table; never asserts.
 *
 *   bulk    one CONNECT, BULK_MB through it into a sink; MB/s and server CPU s/GB
 *           (utime+stime from /proc/<pid>/stat of every server process)
 *   rate    RATE_CLIENTS concurrent clients for RATE_SECONDS: handshake, 1 byte echo, close
 *   idle    IDLE_CONNS relayed connections held open; PSS per connection from
 *           /proc/<pid>/smaps_rollup summed over every server process
 *
 * Usage: npx tsx bench/socks-server-bench.ts   (env: BULK_MB=1024 RATE_CLIENTS=32 RATE_SECONDS=5 IDLE_CONNS=2000)
 * The load generator and the sink are separate node processes, identical for both servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BULK_MB = Number(process.env.BULK_MB ?? 1024);
const RATE_CLIENTS = Number(process.env.RATE_CLIENTS ?? 32);
const RATE_SECONDS = Number(process.env.RATE_SECONDS ?? 5);
const IDLE_CONNS = Number(process.env.IDLE_CONNS ?? 2000);
const WORKERS = Number(process.env.WORKERS ?? cpus().length);
const ROOT = join(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'socks-bench-'));
const CLK_TCK = 100;

/** The sink/echo peer: `sink` counts bytes per connection; `echo` echoes and holds. */
const PEER_JS = `
const net = require('net');
const mode = process.argv[1];
const srv = net.createServer({ allowHalfOpen: true }, (c) => {
  if (mode === 'echo') { c.on('data', (d) => c.write(d)); c.on('end', () => c.end()); c.on('error', () => {}); return; }
  let bytes = 0, t0 = 0;
  c.on('data', (d) => { if (!t0) t0 = process.hrtime.bigint(); bytes += d.length; });
  c.on('end', () => { const ms = Number(process.hrtime.bigint() - t0) / 1e6; process.stdout.write(JSON.stringify({ bytes, ms }) + '\\n'); c.end(); });
  c.on('error', () => {});
});
srv.maxConnections = 100000;
srv.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: srv.address().port }) + '\\n'));
`;

/** The load generator: plain sequential SOCKS5 (greeting, wait, request, wait), no pipelining. */
const LOAD_JS = `
const net = require('net');
const [mode, proxyPort, destPort, a, b] = process.argv.slice(1).map((x, i) => i === 0 ? x : Number(x));
const greet = Buffer.from([5, 1, 0]);
const req = Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, destPort >> 8, destPort & 255]);
function socks(cb) {
  const s = net.connect(proxyPort, '127.0.0.1');
  s.setNoDelay(true);
  let st = 0, buf = Buffer.alloc(0);
  const onData = (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    if (st === 0 && buf.length >= 2) { buf = buf.subarray(2); st = 1; s.write(req); }
    if (st === 1 && buf.length >= 10) { if (buf[1] !== 0) { s.destroy(); return cb(new Error('rep ' + buf[1])); } st = 2; s.removeListener('data', onData); cb(null, s, buf.subarray(10)); }
  };
  s.on('data', onData);
  s.on('error', (e) => { if (st < 2) cb(e); });
  s.write(greet);
}
if (mode === 'bulk') {
  const total = a * 1024 * 1024; const chunk = Buffer.alloc(1 << 20, 120);
  socks((err, s) => {
    if (err) { console.error(err.message); process.exit(1); }
    let sent = 0;
    const pump = () => { while (sent < total) { sent += chunk.length; if (!s.write(chunk)) return s.once('drain', pump); } s.end(); };
    s.on('close', () => process.exit(0));
    pump();
  });
} else if (mode === 'rate') {
  const conc = a, secs = b; let done = 0, errors = 0, stop = false; const t0 = Date.now();
  const one = () => {
    if (stop) return;
    socks((err, s) => {
      if (err) { errors++; return setImmediate(one); }
      s.once('data', () => { s.destroy(); done++; one(); });
      s.write('x');
    });
  };
  for (let i = 0; i < conc; i++) one();
  setTimeout(() => { stop = true; const el = (Date.now() - t0) / 1000; process.stdout.write(JSON.stringify({ done, errors, rate: done / el }) + '\\n'); setTimeout(() => process.exit(0), 200); }, secs * 1000);
} else if (mode === 'idle') {
  const n = a; let up = 0; const held = [];
  let inflight = 0, next = 0;
  const open = () => {
    while (inflight < 64 && next < n) {
      next++; inflight++;
      socks((err, s) => {
        if (err) { console.error('idle: ' + err.message); process.exit(1); }
        s.once('data', () => { inflight--; up++; held.push(s); if (up === n) process.stdout.write(JSON.stringify({ ready: up }) + '\\n'); else open(); });
        s.write('x');
      });
    }
  };
  open();
  process.on('SIGTERM', () => { for (const s of held) s.destroy(); process.exit(0); });
}
`;

function node(code: string, args: (string | number)[]): ChildProcess {
  return spawn(process.execPath, ['-e', code, ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
}

function lines(p: ChildProcess): AsyncIterableIterator<string> {
  return createInterface({ input: p.stdout! })[Symbol.asyncIterator]();
}

async function nextJson<T>(it: AsyncIterableIterator<string>): Promise<T> {
  const r = await it.next();
  if (r.done) throw new Error('helper exited early');
  return JSON.parse(r.value) as T;
}

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function children(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // raced with exit
    }
  }
  return out;
}

/** The server process and all its descendants. */
function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i]));
  return all;
}

function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const p of pids) {
    try {
      const st = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return ticks / CLK_TCK;
}

function pssKb(pids: number[]): number {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kb;
}

interface Daemon {
  name: string;
  port: number;
  pid: number;
  proc: ChildProcess;
  pids(): number[];
  stop(): Promise<void>;
}

function conf(port: number): string {
  return `logoutput: ${join(dir, 'unused.log')}
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

async function startDaemon(name: 'socks-server' | 'danted', workers = 1): Promise<Daemon> {
  const port = await freePort();
  const file = join(dir, `${name}-${workers}.conf`);
  const pidfile = join(dir, `${name}-${workers}.pid`);
  writeFileSync(file, conf(port));
  const n = workers > 1 ? ['-N', String(workers)] : [];
  // Ours runs compiled (dist/, from `tsc -b`) like the C binary; tsx only if there is no build.
  const dist = join(ROOT, 'packages/socks-server/dist/cli.js');
  const argv = name === 'danted'
    ? ['danted', ['-f', file, '-p', pidfile, ...n]] as const
    : existsSync(dist)
      // the flag the bin's shebang passes (see cli.ts)
      ? [process.execPath, ['--max-semi-space-size=1', dist, '-f', file, '-p', pidfile, ...n]] as const
      : [join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'packages/socks-server/src/cli.ts'), '-f', file, '-p', pidfile, ...n]] as const;
  const proc = spawn(argv[0], [...argv[1]], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = await waitPid(pidfile);
  await waitListening(port);
  await sleep(300);
  return {
    name, port, pid, proc,
    pids: () => tree(pid),
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

async function bulk(d: Daemon, sinkPort: number, sinkIt: AsyncIterableIterator<string>): Promise<{ mbps: number; cpuPerGb: number }> {
  const cpu0 = cpuSeconds(d.pids());
  const load = node(LOAD_JS, ['bulk', d.port, sinkPort, BULK_MB]);
  load.once('exit', (code) => {
    if (code !== 0) {
      process.stderr.write(`bulk load generator failed against ${d.name}\n`);
      process.exit(1);
    }
  });
  const r = await nextJson<{ bytes: number; ms: number }>(sinkIt);
  await new Promise((res) => (load.exitCode !== null ? res(null) : load.once('exit', res)));
  const cpu = cpuSeconds(d.pids()) - cpu0;
  const gb = r.bytes / 2 ** 30;
  return { mbps: r.bytes / 2 ** 20 / (r.ms / 1000), cpuPerGb: cpu / gb };
}

async function rate(d: Daemon, echoPort: number): Promise<{ rate: number; errors: number }> {
  const load = node(LOAD_JS, ['rate', d.port, echoPort, RATE_CLIENTS, RATE_SECONDS]);
  const r = await nextJson<{ rate: number; errors: number }>(lines(load));
  return r;
}

async function idle(d: Daemon, echoPort: number): Promise<number> {
  // Warm up (JIT, Dante's first children), then measure the delta of 2000 held connections.
  const warm = node(LOAD_JS, ['idle', d.port, echoPort, 50]);
  await nextJson(lines(warm));
  warm.kill('SIGTERM');
  await sleep(1500);
  const before = pssKb(d.pids());
  const load = node(LOAD_JS, ['idle', d.port, echoPort, IDLE_CONNS]);
  await nextJson(lines(load));
  await sleep(1000);
  const after = pssKb(d.pids());
  load.kill('SIGTERM');
  await sleep(1000);
  return ((after - before) * 1024) / IDLE_CONNS;
}

function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
}

async function main(): Promise<void> {
  const sinkProc = node(PEER_JS, ['sink']);
  const sinkIt = lines(sinkProc);
  const sinkPort = (await nextJson<{ port: number }>(sinkIt)).port;
  const echoProc = node(PEER_JS, ['echo']);
  const echoPort = (await nextJson<{ port: number }>(lines(echoProc))).port;

  type Result = { mbps: number; cpuPerGb: number; rate: number; rateErr: number; pss: number };
  const results: Record<string, Result> = {};
  const runs: [string, 'socks-server' | 'danted', number][] = [
    ['socks-server', 'socks-server', 1],
    [`socks-server -N ${WORKERS}`, 'socks-server', WORKERS],
    ['danted', 'danted', 1],
  ];
  for (const [label, name, workers] of runs) {
    const d = await startDaemon(name, workers);
    process.stderr.write(`${label}: pid ${d.pid} port ${d.port}\n`);
    const b = await bulk(d, sinkPort, sinkIt);
    process.stderr.write(`${label}: bulk ${b.mbps.toFixed(0)} MB/s, ${b.cpuPerGb.toFixed(2)} CPU s/GB\n`);
    const r = await rate(d, echoPort);
    process.stderr.write(`${label}: rate ${r.rate.toFixed(0)}/s\n`);
    const p = await idle(d, echoPort);
    process.stderr.write(`${label}: pss ${p.toFixed(0)} B/conn\n`);
    results[label] = { mbps: b.mbps, cpuPerGb: b.cpuPerGb, rate: r.rate, rateErr: r.errors, pss: p };
    await d.stop();
  }
  sinkProc.kill();
  echoProc.kill();

  const t = results.danted;
  const w = [34, 14, 18, 14, 10];
  const out = [
    `socks-server vs danted on loopback (${BULK_MB} MB bulk, ${RATE_CLIENTS} clients x ${RATE_SECONDS}s, ${IDLE_CONNS} idle conns; ` +
      `${cpus().length} CPUs, load avg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`,
    row(['metric', 'server', 'value', 'ours/Dante', 'target'], w),
  ];
  const metric = (title: string, key: keyof Result, digits: number, target: string, scale = 1): void => {
    for (const [label] of runs) {
      const v = results[label][key] / scale;
      const ratio = label === 'danted' ? '' : (results[label][key] / t[key]).toFixed(2);
      out.push(row([title, label, v.toFixed(digits), ratio, label === 'danted' ? '' : target], w));
    }
  };
  metric('bulk throughput (MB/s)', 'mbps', 0, '>= 2');
  metric('server CPU (s/GB)', 'cpuPerGb', 2, '');
  metric(`new connections/s (${RATE_CLIENTS} clients)`, 'rate', 0, '>= 4');
  metric(`PSS per idle conn (KB, ${IDLE_CONNS})`, 'pss', 1, '<= 16 KB', 1024);
  process.stdout.write(`${out.join('\n')}\n`);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
