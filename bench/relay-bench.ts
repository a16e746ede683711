/**
 * The common Relay's two paths, JS streams vs splice(2), on loopback. Prints; never asserts.
 *
 * The source (this one, or bench/loadgen.c's client) -> the relay (a child node process, so its
 * CPU is attributed from /proc/<pid>/stat) -> the sink (a child node process that counts bytes)
 * or loadgen's origin.
 * Per mode, two phases:
 *   bulk   BENCH_MB one way: throughput and the relay's CPU seconds per GB;
 *   conn   CONN_SECONDS of CONN_CLIENTS concurrent loops of connect, "P", read the 1-byte reply
 *          and FIN, close (bench/loadgen.c, against its origin): connections/s, relay CPU ms per
 *          connection, failed (a reply missing before EOF), and which path each relay took.
 *
 * Usage: npx tsx bench/relay-bench.ts
 *   env: BENCH_MB=1024 CONN_SECONDS=5 CONN_CLIENTS=32 MODES=js,splice,splice-64k,splice@16k,splice@64k
 * A mode is js, splice (1 MiB pipes, the default as root) or splice-64k (the kernel's default pipe
 * size), with an optional @N[k] = spliceAfterBytes (splice only once N bytes went through; 0 = at once).
 * The `relay <mode> <sinkPort> <originPort>` sub-command is the child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { runLoadgen, type ConnResult } from './loadgen';
import { cpuSeconds } from './proc-stats';

const MB = Number(process.env.BENCH_MB ?? 1024);
const CONN_SECONDS = Number(process.env.CONN_SECONDS ?? 5);
const CONN_CLIENTS = Number(process.env.CONN_CLIENTS ?? 32);
const MODES = (process.env.MODES ?? 'js,splice,splice-64k,splice@16k,splice@64k').split(',');

const SINK_JS = `
const net = require('net');
const srv = net.createServer({ allowHalfOpen: true }, (c) => {
  let bytes = 0;
  c.on('data', (d) => { bytes += d.length; });
  c.on('end', () => { process.stdout.write(JSON.stringify({ bytes }) + '\\n'); c.end(); });
  c.on('error', () => {});
});
srv.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: srv.address().port }) + '\\n'));
`;

function parseMode(mode: string): { splice: boolean; pipe64k: boolean; after: number } {
  const [path, after] = mode.split('@');
  const n = after === undefined ? 0 : /k$/i.test(after) ? Number(after.slice(0, -1)) * 1024 : Number(after);
  return { splice: path !== 'js', pipe64k: path === 'splice-64k', after: n };
}

/**
 * The relay child: its first port relays to the sink (bulk), its second to the loadgen origin
 * (conn). Prints one line per bulk relay and, on a "stats" line on stdin, the path/error
 * counts of the conn relays so far.
 */
async function relayChild(mode: string, sinkPort: number, originPort: number): Promise<void> {
  const { Relay, SpliceBudget } = await import('@mptcp-proxy/common');
  const { splice, after } = parseMode(mode);
  const budget = splice ? new SpliceBudget() : undefined;
  const stats: Record<string, number> = {};
  const count = (k: string): void => void (stats[k] = (stats[k] ?? 0) + 1);
  const server = (port: number, bulk: boolean): net.Server =>
    net.createServer({ allowHalfOpen: true }, (a) => {
      a.on('error', () => undefined);
      const b = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => {
        const r = new Relay(a, b, { splice: budget, spliceAfterBytes: after });
        r.startAtoB();
        r.startBtoA();
        r.done.then(
          (res) => (bulk ? process.stdout.write(JSON.stringify({ mode: r.mode, ...res }) + '\n') : count(r.mode)),
          (e: Error) => (bulk ? process.stdout.write(JSON.stringify({ mode: r.mode, error: e.message }) + '\n') : count(`error ${e.message}`)),
        );
      });
      b.on('error', () => a.destroy());
    });
  const listen = (srv: net.Server): Promise<number> =>
    new Promise((res) => srv.listen(0, '127.0.0.1', () => res((srv.address() as net.AddressInfo).port)));
  const [port, connPort] = [await listen(server(sinkPort, true)), await listen(server(originPort, false))];
  createInterface({ input: process.stdin }).on('line', () => process.stdout.write(JSON.stringify({ stats }) + '\n'));
  process.stdout.write(JSON.stringify({ port, connPort }) + '\n');
}

function lines(p: ChildProcess): () => Promise<Record<string, unknown>> {
  const queue: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  createInterface({ input: p.stdout! }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else queue.push(l);
  });
  return () => new Promise((res) => {
    const take = (l: string): void => res(JSON.parse(l) as Record<string, unknown>);
    if (queue.length) take(queue.shift()!);
    else waiters.push(take);
  });
}

async function send(port: number, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
  // Give the relay its setImmediate to switch paths before the bulk starts.
  await new Promise((r) => setTimeout(r, 50));
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, chunk.length);
    left -= n;
    if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  s.resume();
  await new Promise((r) => s.once('end', r));
  s.destroy();
}

async function bench(mode: string, originPort: number): Promise<void> {
  const sink = spawn(process.execPath, ['-e', SINK_JS], { stdio: ['ignore', 'pipe', 'inherit'] });
  const sinkNext = lines(sink);
  const sinkPort = (await sinkNext()).port as number;
  const env = parseMode(mode).pipe64k ? { ...process.env, MPTCP_SPLICE_PIPE_SIZE: '0' } : process.env;
  const relay = spawn(process.execPath, ['--import', 'tsx', __filename, 'relay', mode, String(sinkPort), String(originPort)], { stdio: ['pipe', 'pipe', 'inherit'], env });
  const relayNext = lines(relay);
  const ports = await relayNext();
  const relayPort = ports.port as number;
  try {
    if (MB > 0) {
      const bytes = MB * 1024 * 1024;
      const cpu0 = cpuSeconds([relay.pid!]);
      const t0 = process.hrtime.bigint();
      await send(relayPort, bytes);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = cpuSeconds([relay.pid!]) - cpu0;
      const got = await sinkNext();
      const res = await relayNext();
      const gb = bytes / 1e9;
      console.log(
        `${mode.padEnd(14)} bulk  path=${String(res.mode).padEnd(7)} ${MB} MiB  ${(bytes / 1e6 / secs).toFixed(0).padStart(6)} MB/s  ` +
          `relay CPU ${cpu.toFixed(2)} s = ${(cpu / gb).toFixed(3)} CPU s/GB  sink got ${got.bytes === bytes ? 'all bytes' : `${got.bytes} bytes (MISMATCH)`}`,
      );
    }
    if (CONN_SECONDS > 0) {
      const cpu0 = cpuSeconds([relay.pid!]);
      const r = await runLoadgen(['client', 'conn', '127.0.0.1', ports.connPort as number, CONN_CLIENTS, CONN_SECONDS]).next<ConnResult>();
      const cpu = cpuSeconds([relay.pid!]) - cpu0;
      await new Promise((res) => setTimeout(res, 200));
      relay.stdin!.write('stats\n');
      const { stats } = (await relayNext()) as { stats: Record<string, number> };
      const paths = Object.entries(stats).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(
        `${mode.padEnd(14)} conn  ${(r.done / r.secs).toFixed(0).padStart(6)} conn/s  relay CPU ${((cpu * 1000) / Math.max(1, r.done)).toFixed(3)} ms/conn  ` +
          `failed ${r.failed}  relays: ${paths}`,
      );
    }
  } finally {
    relay.kill();
    sink.kill();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'relay') return relayChild(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
  console.log(
    `relay-bench: ${MB} MiB one way, then ${CONN_SECONDS}s of ${CONN_CLIENTS} concurrent 1-byte connections, ` +
      `through common's Relay in a child process (node ${process.version})`,
  );
  const origin = runLoadgen(['origin', 0]);
  const originPort = (await origin.next<{ port: number }>()).port;
  try {
    for (const m of MODES) await bench(m, originPort);
  } finally {
    origin.proc.kill();
  }
}

void main();
