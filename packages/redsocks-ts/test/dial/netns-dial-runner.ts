/**
 * Runs the real dialer + socks5 upstream inside a client namespace (tsx), driven by JSON lines on
 * stdin, answering JSON lines on stdout:
 *   {"id":1,"op":"dial","n":5,"payload":"ping"}  -> {"id":1,"results":[{ok,path,local,echo}...]}
 *   {"id":2,"op":"burst","n":4} -> the same, n streams at once, each kept open until all are done
 *   {"id":3,"op":"paths"} / {"op":"pool"} / {"op":"probe"} / {"op":"exit"}
 *   argv[2] = JSON overrides of the RedsocksSection (ip, port, paths, pool_size, ...)
 */
import * as readline from 'node:readline';
import type { RedsocksSection } from '../../src/config/types';
import { createDialer } from '../../src/dial';
import { socks5Upstream } from '../../src/upstream/socks5';
import { appData, harness, testSection } from '../helpers/upstream';

const section = testSection(JSON.parse(process.argv[2] ?? '{}') as Partial<RedsocksSection>);
const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const socks5 = socks5Upstream();
const dialer = createDialer(section, undefined, {
  log: { info: (m) => process.stderr.write(`info: ${m}\n`), error: (m) => process.stderr.write(`error: ${m}\n`) },
});

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms))]);
}

async function oneStream(payload: Buffer, keep?: Array<() => void>): Promise<object> {
  const h = await harness(section, { address: '192.0.2.1', port: 443 }, (o) => dialer.dial(o));
  try {
    const t0 = process.hrtime.bigint();
    h.app.write(payload);
    const t = await withTimeout(h.run(socks5), 15000);
    const echo = await withTimeout(appData(h, payload.length), 15000);
    return {
      ok: echo.equals(payload),
      /** time to the echoed bytes (not asserted; printed by tests with F2_DEBUG) */
      ms: Math.round(Number(process.hrtime.bigint() - t0) / 1e4) / 100,
      path: h.dialed.find((d) => d.socket === t.upstream)?.path ?? null,
      local: t.upstream.localAddress ?? null,
      echo: echo.toString('hex'),
    };
  } catch (e) {
    return { ok: false, err: (e as Error).message };
  } finally {
    if (keep) keep.push(() => h.close());
    else h.close();
  }
}

/** A long-lived stream that keeps bulk data moving (for the stalled-subflow signal). */
let held: { stop(): void } | undefined;
async function hold(): Promise<object> {
  const h = await harness(section, { address: '192.0.2.1', port: 443 }, (o) => dialer.dial(o));
  h.app.write('start');
  const t = await withTimeout(h.run(socks5), 15000);
  const chunk = Buffer.alloc(4096, 0x61);
  const timer = setInterval(() => h.app.write(chunk), 20);
  held = {
    stop() {
      clearInterval(timer);
      h.close();
    },
  };
  return { ok: true, path: h.dialed.find((d) => d.socket === t.upstream)?.path ?? null };
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = JSON.parse(line) as { id: number; op: string; n?: number; payload?: string; hex?: string };
  void (async () => {
    switch (cmd.op) {
      case 'dial': {
        const payload = cmd.hex ? Buffer.from(cmd.hex, 'hex') : Buffer.from(cmd.payload ?? 'ping');
        const results: object[] = [];
        for (let i = 0; i < (cmd.n ?? 1); i++) results.push(await oneStream(payload));
        out({ id: cmd.id, results });
        break;
      }
      case 'burst': {
        const payload = Buffer.from(cmd.payload ?? 'ping');
        const closers: Array<() => void> = [];
        const results = await Promise.all(Array.from({ length: cmd.n ?? 1 }, () => oneStream(payload, closers)));
        for (const c of closers) c();
        out({ id: cmd.id, results });
        break;
      }
      case 'hold':
        out({ id: cmd.id, ...(await hold()) });
        break;
      case 'unhold':
        held?.stop();
        out({ id: cmd.id });
        break;
      case 'paths':
        out({ id: cmd.id, paths: dialer.paths() });
        break;
      case 'pool':
        out({ id: cmd.id, pool: dialer.poolStats() });
        break;
      case 'poolReady':
        await withTimeout(dialer.poolReady(), 15000);
        out({ id: cmd.id, pool: dialer.poolStats() });
        break;
      case 'probe':
        await dialer.probePaths();
        out({ id: cmd.id, paths: dialer.paths() });
        break;
      case 'exit':
        dialer.close();
        out({ id: cmd.id });
        process.exit(0);
    }
  })().catch((e) => out({ id: cmd.id, error: String(e) }));
});
out({ ready: true });
