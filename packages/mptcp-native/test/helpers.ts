/** Shared by this package's tests: run the peer fixture inside a namespace, record measured facts. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChildProcess, execFileSync } from 'node:child_process';
import { Netns, waitFor } from '@mptcp-proxy/lab';

export const ROOT = path.resolve(__dirname, '../../..');
const PEER = path.join(__dirname, 'fixtures', 'peer.js');
const TSX_CJS = require.resolve('tsx/cjs', { paths: [ROOT] });

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A long-running `peer.js serve` in `ns`; resolves once every listener is up. */
export async function startServer(ns: Netns, listeners: Json[]): Promise<{ child: ChildProcess; lines: Json[]; ports: Record<string, number> }> {
  const child = ns.spawn(['node', '-r', TSX_CJS, PEER, 'serve', JSON.stringify({ listeners })], { cwd: ROOT });
  const lines: Json[] = [];
  let buf = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`peer server exited: ${stderr}`);
    return lines.some((l) => l.event === 'ready' || l.event === 'fatal');
  }, 15000, 'peer server ready');
  const fatal = lines.find((l) => l.event === 'fatal');
  if (fatal) throw new Error(`peer server failed: ${JSON.stringify(fatal)}`);
  const ports: Record<string, number> = {};
  for (const l of lines) if (l.event === 'listening') ports[l.name] = l.port;
  return { child, lines, ports };
}

/** Run `peer.js client` in `ns` with a list of ops; returns one result per op. */
export function runClient(ns: Netns, ops: Json[]): Json[] {
  return runClientFull(ns, ops).results;
}

/** As runClient, with the process warnings the client saw. */
export function runClientFull(ns: Netns, ops: Json[]): { results: Json[]; warnings: string[] } {
  const out = execFileSync('ip', ['netns', 'exec', ns.name, 'node', '-r', TSX_CJS, PEER, 'client', JSON.stringify({ ops })],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000, killSignal: 'SIGKILL' });
  const line = out.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === 'results');
  if (!line) throw new Error(`peer client printed no results: ${out}`);
  return { results: line.results, warnings: line.warnings };
}

/** Merge measured numbers into bench/out/mptcp-native-facts.json (the lead quotes them). */
export function recordFacts(key: string, value: unknown): void {
  const dir = path.join(ROOT, 'bench', 'out');
  const file = path.join(dir, 'mptcp-native-facts.json');
  fs.mkdirSync(dir, { recursive: true });
  let facts: Json = {};
  try {
    facts = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    // first writer
  }
  facts[key] = value;
  facts.updatedAt = new Date().toISOString();
  fs.writeFileSync(file, JSON.stringify(facts, null, 2) + '\n');
  console.log(`[mptcp-native facts] ${key}: ${JSON.stringify(value)}`);
}
