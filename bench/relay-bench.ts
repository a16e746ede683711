/**
 * The common Relay's two paths, JS streams vs splice(2), on loopback. Prints; never asserts.
 *
 * Three processes: the source (this one) -> the relay (a child node process, so its CPU is
 * attributed from /proc/<pid>/stat) -> the sink (a child node process that counts bytes).
 * Reported per mode: throughput of the transfer and the relay process' CPU seconds per GB.
 *
 * Usage: npx tsx bench/relay-bench.ts   (env: BENCH_MB=1024, MODES=js,splice,splice-64k)
 * splice uses 1 MiB pipes (the default as root), splice-64k the kernel's default pipe size.
 * The `relay <js|splice> <sinkPort>` sub-command is the child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { createInterface } from 'node:readline';

const MB = Number(process.env.BENCH_MB ?? 1024);
const MODES = (process.env.MODES ?? 'js,splice,splice-64k').split(',');
const CLK_TCK = 100;

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

async function relayChild(mode: string, sinkPort: number): Promise<void> {
  const { Relay } = await import('@mptcp-proxy/common');
  const srv = net.createServer({ allowHalfOpen: true }, (a) => {
    const b = net.connect({ host: '127.0.0.1', port: sinkPort, allowHalfOpen: true }, () => {
      const r = new Relay(a, b, { splice: mode !== 'js' });
      r.startAtoB();
      r.startBtoA();
      r.done.then(
        (res) => process.stdout.write(JSON.stringify({ mode: r.mode, ...res }) + '\n'),
        (e: Error) => process.stdout.write(JSON.stringify({ mode: r.mode, error: e.message }) + '\n'),
      );
    });
  });
  srv.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: (srv.address() as net.AddressInfo).port }) + '\n'));
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

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime
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

async function bench(mode: string): Promise<void> {
  const sink = spawn(process.execPath, ['-e', SINK_JS], { stdio: ['ignore', 'pipe', 'inherit'] });
  const sinkNext = lines(sink);
  const sinkPort = (await sinkNext()).port as number;
  const env = mode === 'splice-64k' ? { ...process.env, MPTCP_SPLICE_PIPE_SIZE: '0' } : process.env;
  const relay = spawn(process.execPath, ['--import', 'tsx', __filename, 'relay', mode, String(sinkPort)], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const relayNext = lines(relay);
  const relayPort = (await relayNext()).port as number;
  const bytes = MB * 1024 * 1024;
  const cpu0 = cpuSeconds(relay.pid!);
  const t0 = process.hrtime.bigint();
  await send(relayPort, bytes);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(relay.pid!) - cpu0;
  const got = await sinkNext();
  const res = await relayNext();
  const gb = bytes / 1e9;
  console.log(
    `${mode.padEnd(10)} path=${String(res.mode).padEnd(7)} ${MB} MiB  ${(bytes / 1e6 / secs).toFixed(0).padStart(6)} MB/s  ` +
      `relay CPU ${cpu.toFixed(2)} s = ${(cpu / gb).toFixed(3)} CPU s/GB  sink got ${got.bytes === bytes ? 'all bytes' : `${got.bytes} bytes (MISMATCH)`}`,
  );
  relay.kill();
  sink.kill();
}

async function main(): Promise<void> {
  if (process.argv[2] === 'relay') return relayChild(process.argv[3], Number(process.argv[4]));
  console.log(`relay-bench: ${MB} MiB one way through common's Relay in a child process (node ${process.version})`);
  for (const m of MODES) await bench(m);
}

void main();
