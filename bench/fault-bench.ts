/**
 * Load and faults against the pair (redsocks-ts + socks-server, from dist/, in one network
 * namespace, nftables REDIRECT in front of redsocks-ts): at each step a well-behaved client
 * (bench/fault-agent.ts probe: connect through the pair, one request, time to the first byte)
 * measures the success rate and first-byte time while the fault lasts and again after it ends,
 * and a 64 MiB transfer through the pair checks that no accepted byte is lost. Prints a table;
 * never asserts.   tsx bench/fault-bench.ts [--seconds 6] [--only name,name]
 *
 * Steps: baseline; 10,000 concurrent connections through the pair (RLIMIT_NOFILE raised, as
 * the daemons are run: socks-server under prlimit, redsocks-ts with rlimit_nofile); file
 * descriptors exhausted in socks-server, then in redsocks-ts (RLIMIT_NOFILE 512 and 2,000
 * connections); 1,000 slow-loris connections dripping their SOCKS5 handshakes into
 * socks-server; 1,000 failed RFC 1929 logins per second from 100 addresses; a destination that
 * accepts and never reads (100 clients pushing 4 MiB each); one that never answers (1,000
 * connections to a blackholed address).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { runLoadgen, type BulkResult } from './loadgen';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const CLIENT_SRC = '127.0.0.5';
const ORIGIN_VIP = '127.0.0.9';
const ORIGIN_PORT = 9000;
const DEAF_PORT = 9100;
const BLACKHOLE = '127.0.0.66';
const SOCKS_PORT = 1082;
const REDSOCKS_PORT = 12002;
/** The hard RLIMIT_NOFILE we may give the daemons (what this machine allows). */
const NOFILE = Number(/^Max open files\s+\d+\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 65536);
/** Concurrent connections: 10,000, or what fits in NOFILE (each daemon holds 2 descriptors per connection). */
const CONCURRENT = Math.min(10_000, Math.floor((NOFILE - 200) / 2));
const FD_FLOOD = 2000;

function sh(cmd: string): string {
  return execFileSync('bash', ['-c', cmd], { encoding: 'utf8' });
}

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const SECONDS = Number(opt('seconds', '6'));
/** Scales every load (for a quick functional run: --scale 0.05); the table is for 1. */
const SCALE = Number(opt('scale', '1'));
const scaled = (n: number): number => Math.max(1, Math.round(n * SCALE));
const ONLY = opt('only', '');


const ns = `faultbench-${process.pid.toString(36)}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fault-bench-'));
const inNs = (nofile = NOFILE): string[] => ['ip', 'netns', 'exec', ns, 'prlimit', `--nofile=${nofile}:${nofile}`];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Agent {
  proc: ChildProcess;
  next<T>(): Promise<T>;
  /** Ends a long-lived role (closes its stdin) and returns its last line. */
  stop<T>(): Promise<T>;
}

function agent(args: (string | number)[]): Agent {
  const proc = spawn(inNs()[0], [...inNs().slice(1), TSX, path.join(__dirname, 'fault-agent.ts'), ...args.map(String)], {
    stdio: ['pipe', 'pipe', 'inherit'], cwd: ROOT,
  });
  const it = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async <T>(): Promise<T> => {
    const r = await it.next();
    if (r.done) throw new Error(`fault-agent ${args.join(' ')} exited without output`);
    return JSON.parse(r.value as string) as T;
  };
  return {
    proc,
    next,
    stop: async <T>(): Promise<T> => {
      proc.stdin!.end();
      return next<T>();
    },
  };
}

// ------------------------------------------------------------------ the pair

interface Pair {
  socks: ChildProcess;
  redsocks: ChildProcess;
}

function writeConfigs(): { danted: string; redsocks: string } {
  const pw = execFileSync('openssl', ['passwd', '-6', '-salt', 'faultbench', 'right-pw'], { encoding: 'utf8' }).trim();
  const pwfile = path.join(dir, 'passwd');
  fs.writeFileSync(pwfile, `alice:${pw}\n`, { mode: 0o644 });
  const danted = path.join(dir, 'danted.conf');
  fs.writeFileSync(danted, [
    'logoutput: /dev/null',
    'extension.optimistic: yes',
    `internal: 127.0.0.1 port = ${SOCKS_PORT}`,
    'external: 127.0.0.1',
    'clientmethod: none',
    'socksmethod: none username',
    `extension.passwordfile: ${pwfile}`,
    'user.privileged: root',
    'user.unprivileged: nobody',
    'client pass {', '  from: 0/0 to: 0/0', '}',
    'socks pass {', '  from: 0/0 to: 0/0', '  optimistic: yes', '}', '',
  ].join('\n'));
  const redsocks = path.join(dir, 'redsocks.conf');
  fs.writeFileSync(redsocks, `base {\n  log = "file:/dev/null";\n  daemon = off;\n  redirector = iptables;\n  rlimit_nofile = ${NOFILE};\n  redsocks_conn_max = 20000;\n}\n`
    + `redsocks {\n  local_ip = 127.0.0.1;\n  local_port = ${REDSOCKS_PORT};\n  ip = 127.0.0.1;\n  port = ${SOCKS_PORT};\n  type = socks5;\n  optimistic = on;\n}\n`);
  return { danted, redsocks };
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (sh(`ip netns exec ${ns} ss -Htln 'sport = :${port}'`).trim()) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on :${port} in ${ns}`);
}

const bin = (pkg: string): string[] => [process.execPath, '--max-semi-space-size=1', path.join(ROOT, 'packages', pkg, 'dist/cli.js')];

async function startPair(conf: { danted: string; redsocks: string }, limits: { socks?: number; redsocks?: number } = {}): Promise<Pair> {
  const socks = spawn(inNs(limits.socks)[0], [...inNs(limits.socks).slice(1), ...bin('socks-server'), '-f', conf.danted], { stdio: ['ignore', 'ignore', 'inherit'] });
  const rconf = limits.redsocks === undefined ? conf.redsocks : (() => {
    const f = path.join(dir, 'redsocks-low.conf');
    fs.writeFileSync(f, fs.readFileSync(conf.redsocks, 'utf8').replace(/rlimit_nofile = \d+;/, `rlimit_nofile = ${limits.redsocks};`)
      .replace(/redsocks_conn_max = \d+;/, 'redsocks_conn_max = 20000;'));
    return f;
  })();
  const redsocks = spawn(inNs(limits.redsocks)[0], [...inNs(limits.redsocks).slice(1), ...bin('redsocks-ts'), '-c', rconf], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitPort(SOCKS_PORT);
  await waitPort(REDSOCKS_PORT);
  return { socks, redsocks };
}

async function stopPair(p: Pair): Promise<void> {
  for (const c of [p.socks, p.redsocks]) c.kill('SIGTERM');
  await sleep(500);
  for (const c of [p.socks, p.redsocks]) if (c.exitCode === null) c.kill('SIGKILL');
  await sleep(200);
}

function childPid(p: ChildProcess): number | undefined {
  // ip netns exec -> prlimit -> node: the daemon is the innermost process.
  let pid = p.pid;
  for (let i = 0; i < 3 && pid !== undefined; i++) {
    try {
      const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      if (kids.length === 0) break;
      pid = kids[0];
    } catch {
      break;
    }
  }
  return pid;
}

function rssMb(p: ChildProcess): number | undefined {
  const pid = childPid(p);
  try {
    const m = /^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ measuring

interface ProbeResult { total: number; ok: number; p50: number | null; p99: number | null }

function probe(seconds: number): Promise<ProbeResult> {
  return agent(['probe', ORIGIN_VIP, ORIGIN_PORT, seconds, 20, CLIENT_SRC]).next<ProbeResult>();
}

async function bulkCheck(): Promise<string> {
  const bytes = 64 * 2 ** 20;
  const lg = runLoadgen(['client', 'bulk', ORIGIN_VIP, ORIGIN_PORT, '--src', CLIENT_SRC, 1, bytes], inNs());
  const r = await Promise.race([lg.next<BulkResult>(), sleep(30_000).then(() => undefined)]);
  if (r === undefined) {
    lg.proc.kill();
    return 'timed out';
  }
  return r.bytes === bytes && r.failed === 0 ? 'all 64 MiB' : `${r.bytes} of ${bytes} B, ${r.failed} failed`;
}

interface Row {
  step: string;
  during: ProbeResult;
  after: ProbeResult;
  bulk: string;
  alive: string;
  rss: string;
  note: string;
}

const fmtProbe = (p: ProbeResult): string =>
  `${((100 * p.ok) / Math.max(1, p.total)).toFixed(1)}% (${p.ok}/${p.total}), ${p.p50 === null ? '-' : p.p50.toFixed(1)} / ${p.p99 === null ? '-' : p.p99.toFixed(1)} ms`;

interface Fault {
  /** Starts the fault; returns a note for the table once it is in place, and how to end it. */
  start(pair: Pair): Promise<{ ready: string; end(): Promise<string> }>;
  limits?: { socks?: number; redsocks?: number };
}

const FAULTS: Record<string, Fault> = {
  baseline: { start: async () => ({ ready: '', end: async () => '' }) },
  [`${CONCURRENT.toLocaleString('en')} concurrent connections through the pair`]: {
    start: async () => {
      const a = agent(['hold', ORIGIN_VIP, ORIGIN_PORT, scaled(CONCURRENT), CLIENT_SRC, 0]);
      const r = await a.next<{ held: number; failed: number }>();
      return { ready: `${r.held} held, ${r.failed} failed`, end: async () => JSON.stringify(await a.stop()) };
    },
  },
  'fd exhaustion in socks-server (RLIMIT_NOFILE 512, 2,000 connections)': {
    limits: { socks: Math.max(64, scaled(512)) },
    start: async () => {
      const a = agent(['hold', ORIGIN_VIP, ORIGIN_PORT, scaled(FD_FLOOD), CLIENT_SRC, 0]);
      const r = await a.next<{ held: number; failed: number }>();
      return { ready: `${r.held} held`, end: async () => JSON.stringify(await a.stop()) };
    },
  },
  'fd exhaustion in redsocks-ts (RLIMIT_NOFILE 512, 2,000 connections)': {
    limits: { redsocks: Math.max(64, scaled(512)) },
    start: async () => {
      const a = agent(['hold', ORIGIN_VIP, ORIGIN_PORT, scaled(FD_FLOOD), CLIENT_SRC, 0]);
      const r = await a.next<{ held: number; failed: number }>();
      return { ready: `${r.held} held`, end: async () => JSON.stringify(await a.stop()) };
    },
  },
  '1,000 slow-loris connections into socks-server': {
    start: async () => {
      const a = agent(['slowloris', '127.0.0.1', SOCKS_PORT, scaled(1000), SECONDS + 4]);
      const r = await a.next<{ opened: number }>();
      return { ready: `${r.opened} dripping`, end: async () => JSON.stringify(await a.next()) };
    },
  },
  '1,000 failed logins per second (100 addresses)': {
    start: async () => {
      const a = agent(['logins', '127.0.0.1', SOCKS_PORT, scaled(1000), SECONDS + 2, 100]);
      return { ready: '', end: async () => JSON.stringify(await a.next()) };
    },
  },
  'a destination that accepts and never reads (100 x 4 MiB)': {
    start: async () => {
      const d = agent(['deaf', DEAF_PORT]);
      await d.next();
      const a = agent(['hold', '127.0.0.1', DEAF_PORT, scaled(100), CLIENT_SRC, 4]);
      const r = await a.next<{ held: number }>();
      await sleep(1000);
      return {
        ready: `${r.held} pushing`,
        end: async () => {
          const s = JSON.stringify(await a.stop());
          d.proc.stdin!.end();
          return s;
        },
      };
    },
  },
  'a destination that never answers (1,000 connections)': {
    start: async () => {
      sh(`ip netns exec ${ns} nft -f - <<'EOF'
table ip faultbench_drop {
  chain input { type filter hook input priority 0; policy accept; ip daddr ${BLACKHOLE} drop; }
}
EOF`);
      const a = agent(['hold', BLACKHOLE, 9, scaled(1000), CLIENT_SRC, 0]);
      const r = await a.next<{ held: number }>();
      return {
        ready: `${r.held} waiting`,
        end: async () => {
          const s = JSON.stringify(await a.stop());
          sh(`ip netns exec ${ns} nft delete table ip faultbench_drop`);
          return s;
        },
      };
    },
  },
};

async function main(): Promise<void> {
  sh(`ip netns add ${ns} && ip netns exec ${ns} ip link set lo up`);
  // Everything the bench's clients (127.0.0.5) open goes to redsocks-ts, except the daemons themselves.
  sh(`ip netns exec ${ns} nft -f - <<'EOF'
table ip faultbench {
  chain output {
    type nat hook output priority -100; policy accept;
    ip saddr ${CLIENT_SRC} tcp dport != { ${SOCKS_PORT}, ${REDSOCKS_PORT} } redirect to :${REDSOCKS_PORT}
  }
}
EOF`);
  const conf = writeConfigs();
  const origin = runLoadgen(['origin', ORIGIN_PORT], inNs());
  await origin.next();
  const rows: Row[] = [];
  try {
    for (const [name, fault] of Object.entries(FAULTS)) {
      if (ONLY && !ONLY.split(',').some((o) => name.includes(o))) continue;
      const pair = await startPair(conf, fault.limits);
      try {
        await probe(1); // warm-up (JIT)
        const f = await fault.start(pair);
        const during = await probe(SECONDS);
        const bulk = await bulkCheck();
        const rss = `${rssMb(pair.redsocks) ?? '?'} / ${rssMb(pair.socks) ?? '?'} MB`;
        const ended = await f.end();
        await sleep(1000);
        const after = await probe(Math.max(2, SECONDS / 2));
        const bulkAfter = await bulkCheck();
        const alive = [pair.redsocks, pair.socks].map((c) => (c.exitCode === null ? 'up' : `died ${c.exitCode ?? c.signalCode}`)).join(' / ');
        rows.push({ step: name, during, after, bulk: `${bulk}; after: ${bulkAfter}`, alive, rss, note: [f.ready, ended].filter(Boolean).join('; ') });
        console.log(`${name}: during ${fmtProbe(during)}; after ${fmtProbe(after)}; bulk ${bulk} / ${bulkAfter}; ${alive}; RSS ${rss}; ${f.ready} ${ended}`);
      } finally {
        await stopPair(pair);
      }
    }
  } finally {
    origin.proc.kill();
    sh(`ip netns pids ${ns} | xargs -r kill -9 2>/dev/null || true; ip netns del ${ns}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (SCALE !== 1) console.log(`\nloads scaled by ${SCALE}: not the bench's numbers`);
  console.log(`\nfault bench: loopback in netns, nftables REDIRECT, ${os.cpus().length} CPUs, Node ${process.version}, RLIMIT_NOFILE ${NOFILE}; `
    + `probe: 20 requests/s, success = first byte within 5 s, first-byte time p50 / p99`);
  console.log('| step | during: success, first byte p50 / p99 | after: success, first byte p50 / p99 | 64 MiB through the pair (during; after) | daemons (redsocks-ts / socks-server) | RSS during | load |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.step} | ${fmtProbe(r.during)} | ${fmtProbe(r.after)} | ${r.bulk} | ${r.alive} | ${r.rss} | ${r.note.replace(/\|/g, '/')} |`);
}

main().catch((e) => {
  console.error(e);
  sh(`ip netns pids ${ns} 2>/dev/null | xargs -r kill -9 2>/dev/null || true; ip netns del ${ns} 2>/dev/null || true`);
  process.exit(1);
});
