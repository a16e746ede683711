/**
 * The C load generator and origin server (bench/loadgen.c), shared by the loopback benches.
 * Compiled once into bench/out/ with the system cc; identical for every proxy under test.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

const SRC = path.join(__dirname, 'loadgen.c');
const BIN = path.join(__dirname, 'out', 'loadgen');

export function loadgenBinary(): string {
  const stale = !fs.existsSync(BIN) || fs.statSync(BIN).mtimeMs < fs.statSync(SRC).mtimeMs;
  if (stale) {
    fs.mkdirSync(path.dirname(BIN), { recursive: true });
    execFileSync('cc', ['-O2', '-Wall', '-o', BIN, SRC], { stdio: 'inherit' });
  }
  return BIN;
}

export interface Loadgen {
  proc: ChildProcess;
  /** The next JSON line the process prints. */
  next<T>(): Promise<T>;
  /** Resolves when the process exits. */
  exited: Promise<number | null>;
}

/** Runs loadgen with `argv`, optionally prefixed (e.g. `ip netns exec NS`). */
export function runLoadgen(argv: (string | number)[], prefix: string[] = []): Loadgen {
  const cmd = [...prefix, loadgenBinary(), ...argv.map(String)];
  const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const it = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    exited,
    next: async <T>(): Promise<T> => {
      const r = await it.next();
      if (r.done) throw new Error(`loadgen ${argv.join(' ')} exited without output`);
      return JSON.parse(r.value as string) as T;
    },
  };
}

export interface BulkResult { bytes: number; failed: number; secs: number }
export interface ConnResult { done: number; failed: number; secs: number }
export interface IdleResult { held: number; failed: number }
