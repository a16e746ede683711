/**
 * redsocks-ts + socks-server against redsocks + danted, run the same way in the same run:
 * one network namespace, loopback, an nftables REDIRECT (output hook) in front of each
 * redsocks. Prints numbers and ratios; never asserts.
 *
 *   tsx bench/redsocks-bench.ts [--bulk-mb 512] [--conn-seconds 5] [--idle 2000] [--rtt-count 5000] [--rtt-only]
 *
 * The per-request cost (issue 17): round trips of 200 bytes to an echo origin on established
 * connections, each sent when the previous one is back, five ways: straight to the origin, and
 * for each pair through its SOCKS server alone (a SOCKS5 client on loopback) and through the pair
 * (REDIRECT -> redsocks -> server). Both pairs run at once for it, and one load generator sends
 * the round trips to the five connections in turn, `--rtt-count` each after a warm-up that
 * takes ours past its splice switch: every way sees the same machine state. (Measured one way
 * after the other, on a quiet VM the direct figure alone swung 10x between runs, with the CPUs'
 * idle states.) The medians' differences are each daemon's added time per request: server =
 * alone - direct, redsocks = pair - alone (each hop is crossed twice per round trip, once each
 * way). `--rtt-only` runs just this part.
 *
 * The client and the origin are bench/loadgen.c inside the namespace; CPU and PSS are summed
 * over the pair's processes (and Dante's children). Both pairs run from compiled binaries:
 * ours from dist/ (`tsc -b`), like the bins npm installs.
 *
 * Ours runs as shipped (conf/redsocks.conf, conf/danted.conf): optimistic connect on, MPTCP
 * auto. RTS_BENCH_OC=off gives plain RFC 1928 exchanges; RTS_BENCH_MPTCP=off|on|auto overrides.
 * RTS_BENCH_LOG=info turns log_info on in both redsocks (three lines per connection, as the
 * shipped conf/redsocks.conf logs them; to /dev/null): the cost of the logging stack.
 * Both pairs carry the redsocks -> SOCKS server leg the same way: unless RTS_BENCH_MPTCP=off,
 * RTS_BENCH_TLS=on puts TLS 1.3 between our redsocks-ts and socks-server.
 * RTS_BENCH_METRICS=on turns on both of our metrics endpoints (not scraped: the cost of the
 * per-connection events and their subscribers).
 * the C pair runs under `mptcpize run`, as in the lab (MPTCP costs the kernel more per byte and
 * per connection than TCP, even on loopback).
 * MPTCP_SPLICE_ON (loop | thread) and MPTCP_SPLICE_AFTER (bytes) reach both of our daemons (the
 * relay's splice policy); RTS_BENCH_CPU_PROF=DIR makes them write V8 CPU profiles there;
 * RTS_BENCH_WORKERS=n runs both with -N n; RTS_BENCH_STRACE=1 adds a 2 s connection run under
 * `strace -c -f` (syscalls per connection of each redsocks; not timed).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuSeconds, processTree, pssKb } from './proc-stats';
import { machineState, withHaltPoll } from './machine-state';
import { shebangFlags } from './bin-flags';
import { makeTestCerts } from '@mptcp-proxy/lab';
import { runLoadgen, type BulkResult, type ConnResult, type IdleResult, type Loadgen } from './loadgen';

const ROOT = path.resolve(__dirname, '..');
/** The client's source address whose connections to the origin are redirected to ours; the C pair's. */
const CLIENT_SRC = '127.0.0.5';
const CLIENT_SRC_C = '127.0.0.6';
const ORIGIN_VIP = '127.0.0.9';
const ORIGIN_PORT = 9000;

// ------------------------------------------------------------------ parent

function sh(cmd: string): string {
  return execFileSync('bash', ['-c', cmd], { encoding: 'utf8' });
}

interface Pair {
  name: string;
  redsocksPort: number;
  socksPort: number;
  procs: ChildProcess[];
}

async function waitPort(ns: string, port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (sh(`ip netns exec ${ns} ss -Htln 'sport = :${port}'`).trim()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on :${port} in ${ns}`);
}

/** Connections to the origin from each `src` go to its redsocks `port`. */
function setRedirect(ns: string, dir: string, to: { src: string; port: number }[]): void {
  const rules = [
    'table ip rtsbench {',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    ...to.map(({ src, port }) => `    ip saddr ${src} ip daddr ${ORIGIN_VIP} tcp dport ${ORIGIN_PORT} meta l4proto tcp redirect to :${port}`),
    '  }',
    '}',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'r.nft'), rules);
  sh(`ip netns exec ${ns} bash -c 'nft delete table ip rtsbench 2>/dev/null; nft -f ${path.join(dir, 'r.nft')}'`);
}

/** RTS_BENCH_METRICS=on: both of our daemons with their metrics endpoint on (docs/metrics.md). */
function metricsOn(): boolean {
  return process.env.RTS_BENCH_METRICS === 'on';
}

/** RTS_BENCH_TLS=on: our pair talks TLS 1.3 (docs/tls.md; the server's certificate pinned). */
function tlsOn(): boolean {
  return process.env.RTS_BENCH_TLS === 'on';
}

/** Is the redsocks -> SOCKS server leg MPTCP in this run (ours: mptcp = auto by default)? */
function mptcpLeg(): boolean {
  return process.env.RTS_BENCH_MPTCP !== 'off';
}

async function startPair(ns: string, dir: string, which: 'ts' | 'c'): Promise<Pair> {
  const socksPort = which === 'ts' ? 1082 : 1080;
  const redsocksPort = which === 'ts' ? 12002 : 12001;
  // our extension keywords only in our server's copy (danted rejects them)
  const oc = which === 'ts' && process.env.RTS_BENCH_OC !== 'off';
  const certs = which === 'ts' && tlsOn() ? makeTestCerts(path.join(dir, 'certs'), '127.0.0.1') : undefined;
  const danted = [
    'logoutput: /dev/null',
    ...(oc ? ['extension.optimistic: yes'] : []),
    ...(which === 'ts' && metricsOn() ? ['extension.metrics: 127.0.0.1 port = 0'] : []),
    // with TLS the SOCKS port is the TLS listener; the plain one moves aside
    `internal: 127.0.0.1 port = ${certs ? socksPort + 100 : socksPort}`,
    ...(certs ? [`extension.tls.internal: 127.0.0.1 port = ${socksPort}`, `extension.tls.cert: ${certs.serverCert}`, `extension.tls.key: ${certs.serverKey}`] : []),
    'external: 127.0.0.1',
    'clientmethod: none',
    'socksmethod: none',
    'user.privileged: root',
    'user.unprivileged: nobody',
    'client pass {',
    '  from: 0.0.0.0/0 to: 0.0.0.0/0',
    '}',
    'socks pass {',
    '  from: 0.0.0.0/0 to: 0.0.0.0/0',
    ...(oc ? ['  optimistic: yes'] : []),
    '}',
    '',
  ].join('\n');
  const dconf = path.join(dir, `${which}-danted.conf`);
  fs.writeFileSync(dconf, danted);
  const rconf = path.join(dir, `${which}-redsocks.conf`);
  fs.writeFileSync(
    rconf,
    `base {\n  log = "file:/dev/null";\n${process.env.RTS_BENCH_LOG === 'info' ? '  log_info = on;\n' : ''}${which === 'ts' && metricsOn() ? '  metrics_port = 0;\n' : ''}  daemon = off;\n  redirector = iptables;\n  rlimit_nofile = 16384;\n  redsocks_conn_max = 10000;\n}\n` +
      `redsocks {\n  local_ip = 127.0.0.1;\n  local_port = ${redsocksPort};\n  ip = 127.0.0.1;\n  port = ${socksPort};\n  type = socks5;\n` +
      // RTS_BENCH_MPTCP=off|on|auto sets redsocks-ts' extension key (the C config stays plain 0.5)
      (which === 'ts' && process.env.RTS_BENCH_MPTCP ? `  mptcp = ${process.env.RTS_BENCH_MPTCP};\n` : '') +
      (which === 'ts' ? `  optimistic = ${oc ? 'on' : 'off'};\n` : '') +
      (certs ? `  tls = on;\n  tls_pin = "${certs.serverPin}";\n` : '') +
      '}\n',
  );
  // RTS_BENCH_CPU_PROF=DIR: each of our daemons writes a V8 CPU profile there when it stops
  const prof = process.env.RTS_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RTS_BENCH_CPU_PROF}`] : [];
  const bin = (pkg: string): string[] => {
    const cli = path.join(ROOT, 'packages', pkg, 'dist/cli.js');
    return [process.execPath, ...shebangFlags(cli), ...prof, cli];
  };
  const lim = ['prlimit', '--nofile=16384:16384'];
  // RTS_BENCH_TS_SERVER=danted pairs redsocks-ts with danted (isolates redsocks-ts' own cost)
  const tsServer = process.env.RTS_BENCH_TS_SERVER === 'danted' ? ['danted', '-f', dconf] : [...bin('socks-server'), '-f', dconf];
  const cWrap = mptcpLeg() ? ['mptcpize', 'run'] : [];
  const socksArgv = which === 'ts' ? tsServer : [...cWrap, 'danted', '-f', dconf];
  const redsArgv = which === 'ts' ? [...bin('redsocks-ts'), '-c', rconf] : [...cWrap, 'redsocks', '-c', rconf];
  // RTS_BENCH_WORKERS=n: both of our daemons with -N n (SO_REUSEPORT workers)
  const workers = Number(process.env.RTS_BENCH_WORKERS ?? 1);
  if (which === 'ts' && workers > 1) {
    if (process.env.RTS_BENCH_TS_SERVER !== 'danted') socksArgv.push('-N', String(workers));
    redsArgv.push('-N', String(workers));
  }
  const procs = [socksArgv, redsArgv].map((argv) =>
    spawn('ip', ['netns', 'exec', ns, ...lim, ...argv], { stdio: ['ignore', 'ignore', 'inherit'], cwd: ROOT }),
  );
  await waitPort(ns, socksPort);
  await waitPort(ns, redsocksPort);
  const tsName = process.env.RTS_BENCH_TS_SERVER === 'danted' ? 'redsocks-ts + danted' : 'redsocks-ts + socks-server';
  return { name: which === 'ts' ? tsName : 'redsocks + danted', redsocksPort, socksPort, procs };
}

async function stopPair(ns: string, p: Pair): Promise<void> {
  for (const c of p.procs) c.kill('SIGTERM');
  // a CPU profile is written on the way out: give it time
  await new Promise((r) => setTimeout(r, process.env.RTS_BENCH_CPU_PROF ? 5000 : 500));
  sh(`ip netns pids ${ns} | xargs -r kill -9 2>/dev/null || true`);
  await new Promise((r) => setTimeout(r, 200));
}

interface Result {
  throughputMBs: number;
  cpuSPerGB: number;
  /** The redsocks process alone (the rest is the SOCKS server). */
  redsocksCpuSPerGB: number;
  connPerS: number;
  connFailed: number;
  pssPerConnKB: number;
  redsocksPssPerConnKB: number;
  cpuMsPerConn: number;
  redsocksCpuMsPerConn: number;
  idleHeld: number;
  /** RTS_BENCH_STRACE=1: syscalls per connection in the redsocks process(es), and the top five. */
  redsocksSyscallsPerConn?: number;
  redsocksTopSyscalls?: string;
}

/**
 * Attaches `strace -c -f` to `pids` while `run` makes connections; the syscalls per connection
 * (every thread, every process given) and the five most frequent, per connection.
 */
async function syscallsPerConn(pids: number[], run: () => Promise<ConnResult>): Promise<{ perConn: number; top: string }> {
  const out = path.join(os.tmpdir(), `rts-strace-${process.pid}-${pids[0]}.txt`);
  const st = spawn('strace', ['-c', '-f', '-o', out, ...pids.flatMap((p) => ['-p', String(p)])], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000)); // attached
  const conn = await run();
  const exited = new Promise((r) => st.once('exit', r));
  st.kill('SIGINT');
  await exited;
  const lines = fs.readFileSync(out, 'utf8').split('\n').map((l) => l.trim().split(/\s+/));
  fs.rmSync(out, { force: true });
  const callsOf = (f: string[]): number => Number(f[3]); // % time, seconds, usecs/call, calls
  const total = lines.find((f) => f[f.length - 1] === 'total');
  const rows = lines.filter((f) => f.length >= 5 && /^\d/.test(f[0]) && f[f.length - 1] !== 'total');
  const top = rows
    .map((f) => ({ name: f[f.length - 1], calls: callsOf(f) }))
    .sort((a, b) => b.calls - a.calls)
    .slice(0, 5)
    .map((r) => `${r.name} ${(r.calls / conn.done).toFixed(1)}`)
    .join(', ');
  return { perConn: total ? callsOf(total) / conn.done : NaN, top };
}

const inNs = (ns: string): string[] => ['ip', 'netns', 'exec', ns, 'prlimit', '--nofile=16384:16384'];

async function measure(ns: string, dir: string, which: 'ts' | 'c', opts: { bulkMB: number; connSeconds: number; idle: number }): Promise<Result> {
  const pair = await startPair(ns, dir, which);
  setRedirect(ns, dir, [{ src: CLIENT_SRC, port: pair.redsocksPort }]);
  const client = (args: (string | number)[]): Loadgen => runLoadgen(['client', ...args.slice(0, 1), ORIGIN_VIP, ORIGIN_PORT, '--src', CLIENT_SRC, ...args.slice(1)], inNs(ns));
  const origin = runLoadgen(['origin', ORIGIN_PORT], inNs(ns));
  await origin.next();
  try {
    const rpid = pair.procs[1].pid ?? -1;
    const pairPids = (): number[] => pair.procs.flatMap((p) => processTree(p.pid ?? -1));
    // warm-up (JIT, Dante's children)
    await client(['bulk', 2, 64 * 2 ** 20]).next<BulkResult>();
    await client(['conn', 32, 1]).next<ConnResult>();

    const t0 = cpuSeconds(pairPids());
    // the redsocks process, or its -N supervisor and workers
    const r0 = cpuSeconds(processTree(rpid));
    const bulk = await client(['bulk', 2, opts.bulkMB * 2 ** 20]).next<BulkResult>();
    const bulkCpu = cpuSeconds(pairPids()) - t0;
    const redsocksCpu = cpuSeconds(processTree(rpid)) - r0;
    const gb = bulk.bytes / 1e9;

    const c0 = cpuSeconds(pairPids());
    const cr0 = cpuSeconds(processTree(rpid));
    const conn = await client(['conn', 32, opts.connSeconds]).next<ConnResult>();
    const connCpu = cpuSeconds(pairPids()) - c0;
    const connRedsocksCpu = cpuSeconds(processTree(rpid)) - cr0;

    const straced = process.env.RTS_BENCH_STRACE === '1'
      ? await syscallsPerConn(processTree(rpid), () => client(['conn', 32, 2]).next<ConnResult>())
      : undefined;


    await new Promise((r) => setTimeout(r, 1000));
    const before = pssKb(pairPids());
    const rBefore = pssKb(processTree(rpid));
    const idle = client(['idle', opts.idle]);
    const held = await idle.next<IdleResult>();
    await new Promise((r) => setTimeout(r, 1000));
    const after = pssKb(pairPids());
    const rAfter = pssKb(processTree(rpid));
    idle.proc.stdin!.end('x\n');
    await idle.exited;
    return {
      throughputMBs: bulk.bytes / 1e6 / bulk.secs,
      cpuSPerGB: bulkCpu / gb,
      redsocksCpuSPerGB: redsocksCpu / gb,
      connPerS: conn.done / conn.secs,
      connFailed: conn.failed,
      pssPerConnKB: held.held > 0 ? (after - before) / held.held : NaN,
      redsocksPssPerConnKB: held.held > 0 ? (rAfter - rBefore) / held.held : NaN,
      cpuMsPerConn: conn.done > 0 ? (connCpu * 1000) / conn.done : NaN,
      redsocksCpuMsPerConn: conn.done > 0 ? (connRedsocksCpu * 1000) / conn.done : NaN,
      idleHeld: held.held,
      redsocksSyscallsPerConn: straced?.perConn,
      redsocksTopSyscalls: straced?.top,
    };
  } finally {
    origin.proc.kill();
    await stopPair(ns, pair);
  }
}

interface RttLeg { name: string; count: number; median_us: number; p10_us: number; p90_us: number; mean_us: number }
/** Median round trips (µs) through one pair's SOCKS server alone and through the pair. */
interface PairRtt { serverUs: number; pairUs: number }
interface PerRequest { directUs: number; ts: PairRtt; c: PairRtt }

/**
 * Both pairs up at once; one load generator sends round trips to the five ways in turn (see the
 * header). The warm-up takes each of our connections past the splice switch (MPTCP_SPLICE_AFTER,
 * default 64 KiB) so the figures are the relay's steady state; with a switch beyond 2000 round
 * trips (say MPTCP_SPLICE_AFTER=1000000000) they are the JS path's.
 */
async function perRequest(ns: string, dir: string, count: number): Promise<PerRequest> {
  const ts = await startPair(ns, dir, 'ts');
  const c = await startPair(ns, dir, 'c').catch(async (e: unknown) => {
    await stopPair(ns, ts);
    throw e;
  });
  setRedirect(ns, dir, [{ src: CLIENT_SRC, port: ts.redsocksPort }, { src: CLIENT_SRC_C, port: c.redsocksPort }]);
  const origin = runLoadgen(['origin', ORIGIN_PORT], inNs(ns));
  await origin.next();
  try {
    const size = 200;
    // each round trip moves 2 * size bytes through a relay; twice the rounds to its switch
    const toSwitch = Math.ceil(Number(process.env.MPTCP_SPLICE_AFTER ?? 64 * 1024) / (2 * size));
    const warmup = toSwitch * 2 <= 2000 ? Math.max(200, toSwitch * 2) : 200;
    const legs = [
      'direct',
      `ts-server,socks=127.0.0.1:${ts.socksPort}`,
      `ts-pair,src=${CLIENT_SRC}`,
      `c-server,socks=127.0.0.1:${c.socksPort}`,
      `c-pair,src=${CLIENT_SRC_C}`,
    ];
    const r = await runLoadgen(
      ['client', 'rtt', ORIGIN_VIP, ORIGIN_PORT, ...legs.flatMap((l) => ['--leg', l]), '--warmup', warmup, count, size],
      inNs(ns),
    ).next<{ count: number; failed: number; legs: RttLeg[] }>();
    const med = (name: string): number => {
      const l = r.legs.find((x) => x.name === name);
      return l && l.count === count ? l.median_us : NaN;
    };
    return {
      directUs: med('direct'),
      ts: { serverUs: med('ts-server'), pairUs: med('ts-pair') },
      c: { serverUs: med('c-server'), pairUs: med('c-pair') },
    };
  } finally {
    origin.proc.kill();
    await stopPair(ns, ts);
    await stopPair(ns, c);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: number): number => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const opts = { bulkMB: opt('bulk-mb', 512), connSeconds: opt('conn-seconds', 5), idle: opt('idle', 2000), rttCount: opt('rtt-count', 5000) };
  const rttOnly = argv.includes('--rtt-only');
  // not `rts-`: jest global setup sweeps those, and other runs may start meanwhile
  const ns = `rsbench-${process.pid.toString(36)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rts-bench-'));
  sh(`ip netns add ${ns} && ip netns exec ${ns} ip link set lo up`);
  const tsName = process.env.RTS_BENCH_TS_SERVER === 'danted' ? 'redsocks-ts + danted' : 'redsocks-ts + socks-server';
  try {
    const before = machineState();
    console.log(`redsocks bench: loopback in netns ${ns}, nftables REDIRECT, ` +
      (rttOnly ? '' : `bulk ${opts.bulkMB} MiB over 2 streams, ${opts.connSeconds}s of 32 concurrent connects, ${opts.idle} idle connections; `) +
      `redsocks -> server leg ${mptcpLeg() ? 'MPTCP (C pair under mptcpize)' : 'TCP'}; ${os.cpus().length} CPUs, Node ${process.version}; ${before}`);
    await withHaltPoll(() => report(ns, dir, opts, rttOnly, tsName));
  } finally {
    sh(`ip netns pids ${ns} | xargs -r kill -9 2>/dev/null || true; ip netns del ${ns}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Measures and prints: both pairs one after the other (unless `rttOnly`), then the per-request cost. */
async function report(ns: string, dir: string, opts: { bulkMB: number; connSeconds: number; idle: number; rttCount: number }, rttOnly: boolean, tsName: string): Promise<void> {
  if (!rttOnly) {
    const ts = await measure(ns, dir, 'ts', opts);
    const c = await measure(ns, dir, 'c', opts);
    const row = (name: string, r: Result): string =>
      `${name.padEnd(28)} ${r.throughputMBs.toFixed(1).padStart(10)} ${r.cpuSPerGB.toFixed(2).padStart(9)} ${r.redsocksCpuSPerGB.toFixed(2).padStart(9)} ` +
      `${r.connPerS.toFixed(0).padStart(9)} ${String(r.connFailed).padStart(6)} ${r.pssPerConnKB.toFixed(1).padStart(10)} ${String(r.idleHeld).padStart(6)}`;
    console.log(`${'pair'.padEnd(28)} ${'MB/s'.padStart(10)} ${'CPU s/GB'.padStart(9)} ${'(redsocks)'.padStart(9)} ${'conn/s'.padStart(9)} ${'failed'.padStart(6)} ${'PSS KB/conn'.padStart(10)} ${'held'.padStart(6)}`);
    console.log(row(tsName, ts));
    console.log(row('redsocks + danted', c));
    for (const [name, r] of [[tsName, ts], ['redsocks + danted', c]] as const) {
      console.log(
        `${name.padEnd(28)} redsocks alone: ${r.redsocksCpuSPerGB.toFixed(2)} CPU s/GB, ${r.redsocksCpuMsPerConn.toFixed(2)} CPU ms/conn ` +
          `(pair ${r.cpuMsPerConn.toFixed(2)}), ${r.redsocksPssPerConnKB.toFixed(1)} KB PSS/idle conn (pair ${r.pssPerConnKB.toFixed(1)})`,
      );
      if (r.redsocksSyscallsPerConn !== undefined) {
        console.log(`${name.padEnd(28)} redsocks syscalls/conn (strace -c -f): ${r.redsocksSyscallsPerConn.toFixed(1)}; most: ${r.redsocksTopSyscalls}`);
      }
    }
    console.log(
      `ratios (ts / C): throughput ${(ts.throughputMBs / c.throughputMBs).toFixed(2)}x, CPU per GB ${(ts.cpuSPerGB / c.cpuSPerGB).toFixed(2)}x, ` +
        `conn/s ${(ts.connPerS / c.connPerS).toFixed(2)}x, PSS per idle conn ${(ts.pssPerConnKB / c.pssPerConnKB).toFixed(2)}x`,
    );
  }
  const rtt = await perRequest(ns, dir, opts.rttCount);
  console.log(
    `per-request cost: median round trip of 200 bytes on an established connection (${opts.rttCount} round trips each way, ` +
      `both pairs up, the five ways in turn), µs; a hop is crossed twice per round trip`,
  );
  for (const [name, r] of [[tsName, rtt.ts], ['redsocks + danted', rtt.c]] as const) {
    console.log(
      `${name.padEnd(28)} direct ${rtt.directUs.toFixed(1)}, server alone ${r.serverUs.toFixed(1)}, pair ${r.pairUs.toFixed(1)}: ` +
        `server +${(r.serverUs - rtt.directUs).toFixed(1)} µs/round trip, redsocks +${(r.pairUs - r.serverUs).toFixed(1)} µs/round trip ` +
        `(${((r.serverUs - rtt.directUs) / 2).toFixed(1)} and ${((r.pairUs - r.serverUs) / 2).toFixed(1)} µs per hop each way)`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
