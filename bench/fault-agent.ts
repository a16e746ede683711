/**
 * The clients and peers of bench/fault-bench.ts, run inside its network namespace
 * (`ip netns exec NS tsx bench/fault-agent.ts ROLE ...`). Each role prints one JSON line when
 * it is done (or, for the long-lived ones, when it is ready and when it ends).
 *
 *   probe HOST PORT SECONDS PER_SECOND SRC      well-behaved client: connect, send "P", time the first byte
 *   slowloris HOST PORT N SECONDS               N connections dripping a SOCKS5 handshake, a byte a second
 *   logins HOST PORT PER_SECOND SECONDS SOURCES failed RFC 1929 logins from 127.0.1.1 .. 127.0.1.SOURCES
 *   hold HOST PORT N SRC [MB]                   N connections (through the pair) writing MB each, held until stdin ends
 *   deaf PORT                                   a destination that accepts and never reads
 */
import * as net from 'node:net';

const [role, ...args] = process.argv.slice(2);
const out = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One well-behaved request: connect, "P", first byte back (the origin answers a ping). */
function probeOnce(host: string, port: number, src: string, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect({ host, port, localAddress: src });
    const done = (v: number | undefined): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    s.on('connect', () => s.write('P'));
    s.once('data', () => done(performance.now() - t0));
    s.on('error', () => done(undefined));
    s.on('close', () => done(undefined));
  });
}

async function probe(host: string, port: number, seconds: number, perSecond: number, src: string): Promise<void> {
  const ttfb: number[] = [];
  let total = 0;
  const pending: Promise<void>[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    total++;
    pending.push(probeOnce(host, port, src, 5000).then((v) => {
      if (v !== undefined) ttfb.push(v);
    }));
    await sleep(1000 / perSecond);
  }
  await Promise.all(pending);
  ttfb.sort((a, b) => a - b);
  const q = (p: number): number | null => (ttfb.length ? ttfb[Math.min(ttfb.length - 1, Math.floor(p * ttfb.length))] : null);
  out({ total, ok: ttfb.length, p50: q(0.5), p99: q(0.99) });
}

async function slowloris(host: string, port: number, n: number, seconds: number): Promise<void> {
  // Greeting, then a CONNECT to 127.0.0.1:9: 13 bytes, one a second.
  const bytes = [5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 9];
  const socks: net.Socket[] = [];
  let closedByServer = 0;
  for (let i = 0; i < n; i++) {
    const s = net.connect({ host, port });
    s.on('error', () => undefined);
    s.on('close', () => closedByServer++);
    socks.push(s);
    if (i % 100 === 99) await sleep(10);
  }
  out({ opened: n });
  const end = Date.now() + seconds * 1000;
  for (let k = 0; Date.now() < end && k < bytes.length; k++) {
    for (const s of socks) if (!s.destroyed) s.write(Buffer.from([bytes[k]]));
    await sleep(1000);
  }
  while (Date.now() < end) await sleep(200);
  const open = socks.filter((s) => !s.destroyed).length;
  socks.forEach((s) => s.destroy());
  out({ opened: n, closedByServer, stillOpen: open });
}

async function logins(host: string, port: number, perSecond: number, seconds: number, sources: number): Promise<void> {
  const userPass = Buffer.concat([Buffer.from([5, 1, 2, 1, 5]), Buffer.from('alice'), Buffer.from([5]), Buffer.from('wrong')]);
  let attempts = 0;
  let failed = 0;
  let other = 0;
  const end = Date.now() + seconds * 1000;
  const one = (src: string): Promise<void> => new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress: src });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => finish(false), 10_000);
    let settled = false;
    const finish = (refused: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (refused) failed++;
      else other++;
      s.destroy();
      resolve();
    };
    s.on('connect', () => s.write(userPass));
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 4) finish(got[3] !== 0);
    });
    s.on('error', () => finish(false));
    s.on('close', () => finish(got.length >= 4 && got[3] !== 0));
  });
  const pending: Promise<void>[] = [];
  let i = 0;
  const t0 = Date.now();
  while (Date.now() < end) {
    // Keep the rate: as many as are due by now.
    const due = Math.floor(((Date.now() - t0) / 1000) * perSecond);
    while (attempts < due) {
      attempts++;
      pending.push(one(`127.0.1.${1 + (i++ % sources)}`));
    }
    await sleep(5);
  }
  await Promise.all(pending);
  out({ attempts, refused: failed, other, seconds });
}

async function hold(host: string, port: number, n: number, src: string, mb: number): Promise<void> {
  const socks: net.Socket[] = [];
  let connected = 0;
  let failed = 0;
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    await sleep(Math.floor(i / 200) * 20);
    await new Promise<void>((resolve) => {
      const s = net.connect({ host, port, localAddress: src });
      socks.push(s);
      s.on('error', () => undefined);
      s.once('connect', () => {
        connected++;
        resolve();
        let left = mb * 1024 * 1024;
        const pump = (): void => {
          while (left > 0) {
            left -= chunk.length;
            written += chunk.length;
            if (!s.write(chunk)) {
              s.once('drain', pump);
              return;
            }
          }
        };
        if (mb > 0) pump();
      });
      s.once('close', () => {
        if (!s.connecting) return;
        failed++;
        resolve();
      });
      setTimeout(resolve, 10_000);
    });
  }));
  out({ held: connected, failed, ready: true });
  // Held until the bench closes our stdin.
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('end', r));
  const open = socks.filter((s) => !s.destroyed).length;
  socks.forEach((s) => s.destroy());
  out({ held: connected, failed, stillOpen: open, writtenMB: Math.round(written / 2 ** 20), queuedMB: Math.round(socks.reduce((n, s) => n + s.writableLength, 0) / 2 ** 20) });
}

function deaf(port: number): void {
  const conns: net.Socket[] = [];
  const srv = net.createServer({ pauseOnConnect: true }, (c) => {
    conns.push(c);
    c.on('error', () => undefined);
  });
  srv.listen(port, '127.0.0.1', () => out({ listening: port }));
  process.stdin.resume();
  process.stdin.once('end', () => {
    conns.forEach((c) => c.destroy());
    srv.close();
    process.exit(0);
  });
}

async function main(): Promise<void> {
  const n = (i: number): number => Number(args[i]);
  switch (role) {
    case 'probe': return probe(args[0], n(1), n(2), n(3), args[4]);
    case 'slowloris': return slowloris(args[0], n(1), n(2), n(3));
    case 'logins': return logins(args[0], n(1), n(2), n(3), n(4));
    case 'hold': return hold(args[0], n(1), n(2), args[3], Number(args[4] ?? 0));
    case 'deaf': return deaf(n(0));
    default: throw new Error(`unknown role ${role}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
