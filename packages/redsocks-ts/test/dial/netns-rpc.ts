/** Line-oriented JSON RPC with a tsx script spawned inside a test namespace. */
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { type Netns } from '@mptcp-proxy/lab';

const ROOT = path.resolve(__dirname, '../../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const TSCONFIG = path.join(ROOT, 'tsconfig.test.json');

export class NsProc {
  private readonly lines: Array<Record<string, unknown>> = [];
  private readonly waiters: Array<() => void> = [];
  private nextId = 1;
  stderr = '';
  exited = false;

  constructor(readonly child: ChildProcess) {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        this.stderr += `stdout: ${l}\n`;
      }
      for (const w of this.waiters.splice(0)) w();
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    child.on('exit', () => {
      this.exited = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Spawns `script` (a .ts file next to this one) with tsx inside `ns`. */
  static start(ns: Netns, script: string, arg: object): NsProc {
    const child = ns.spawn([TSX, '--tsconfig', TSCONFIG, path.join(__dirname, script), JSON.stringify(arg)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new NsProc(child);
  }

  /** Waits for the first line matching `pred` (all lines are kept, so none is missed). */
  async waitLine(pred: (l: Record<string, unknown>) => boolean, ms = 30000): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (this.exited) throw new Error(`process exited; stderr:\n${this.stderr}`);
      if (Date.now() > end) throw new Error(`no matching line after ${ms} ms; stderr:\n${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  all(pred: (l: Record<string, unknown>) => boolean): Array<Record<string, unknown>> {
    return this.lines.filter(pred);
  }

  async call(cmd: Record<string, unknown>, ms = 60000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
    return this.waitLine((l) => l.id === id, ms);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
