/**
 * DNS peers for tests, benches and the lab: Debian's unbound as the resolver at the far end
 * (static local data, no internet needed) and dig (bind9-dnsutils) as the LAN's client.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canConnect, killOnExit, startDaemon, stopProcess, type Started } from './daemons';
import type { Netns } from './netns';
import { waitFor } from './wait';

/**
 * Names the lab's resolver knows (zone `lab.`): its SOA (so a name it does not know is an NXDOMAIN
 * a cache may keep for the SOA's MINIMUM, 60 s: RFC 2308), an A record, a short TTL, a big TXT, an AAAA.
 */
export const LAB_RECORDS = [
  'lab. 3600 IN SOA ns.lab. hostmaster.lab. 1 3600 600 86400 60',
  'www.lab. 300 IN A 198.51.100.2',
  'short.lab. 1 IN A 198.51.100.3',
  'v6.lab. 300 IN AAAA 2001:db8:9::2',
  // 12 strings of 200 bytes: an answer of about 2.5 kB (truncated at 512 or 1232 bytes over UDP)
  ...Array.from({ length: 12 }, (_, i) => `big.lab. 300 IN TXT "${String.fromCharCode(97 + i).repeat(200)}"`),
];

export interface UnboundOptions {
  /** Address to answer on (one), and its port. */
  address: string;
  port: number;
  /** Scratch directory for the config. */
  dir: string;
  /** Extra local-data lines (`name TTL IN TYPE data`). */
  records?: string[];
  /** Seconds a TCP connection may idle (unbound's tcp-idle-timeout, ms in its config). */
  tcpIdleS?: number;
}

/** unbound.conf for a resolver that answers `lab.` from local data and nothing else. */
export function unboundConf(o: UnboundOptions): string {
  const v6 = o.address.includes(':');
  const lines = [
    'server:',
    `  interface: ${o.address}@${o.port}`,
    `  port: ${o.port}`,
    '  do-daemonize: no',
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 0',
    '  username: ""',
    '  chroot: ""',
    `  directory: "${o.dir}"`,
    '  pidfile: ""',
    `  do-ip6: ${v6 ? 'yes' : 'no'}`,
    '  do-ip4: yes',
    '  access-control: 0.0.0.0/0 allow',
    '  access-control: ::/0 allow',
    '  module-config: "iterator"',
    '  num-threads: 1',
    '  incoming-num-tcp: 100',
    `  tcp-idle-timeout: ${(o.tcpIdleS ?? 30) * 1000}`,
    '  local-zone: "lab." static',
    ...[...LAB_RECORDS, ...(o.records ?? [])].map((r) => `  local-data: '${r}'`),
    '',
  ];
  return lines.join('\n');
}

/** Starts unbound in `ns` (here when null: loopback tests) and waits until it listens on TCP. */
export async function startUnbound(ns: Netns | null, o: UnboundOptions): Promise<Started> {
  const conf = path.join(o.dir, `unbound-${o.port}.conf`);
  fs.writeFileSync(conf, unboundConf(o));
  const argv = ['unbound', '-d', '-c', conf];
  if (ns) return startDaemon(ns, 'unbound', argv, o.port);
  const proc = killOnExit(spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(async () => proc.exitCode !== null || (await canConnect(o.port, o.address)), 15000, `unbound on ${o.address}:${o.port}`);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`unbound did not start: ${String(e)}\n${out}`);
  }
  if (proc.exitCode !== null) throw new Error(`unbound exited with ${proc.exitCode}:\n${out}`);
  // `out` is kept whole here: its length is the mark
  return { proc, output: () => out, outputMark: () => out.length, outputSince: (mark) => out.slice(mark), name: 'unbound', stop: (ms = 3000) => stopProcess(proc, ms) };
}

export interface DigResult {
  /** NOERROR, NXDOMAIN, SERVFAIL, ... ('' when dig got no answer). */
  status: string;
  /** Header flags, e.g. ['qr', 'rd', 'ra', 'tc']. */
  flags: string[];
  /** The answer section's data fields (`198.51.100.2`, a TXT string ...). */
  answers: string[];
  /** dig's "Query time", ms. */
  ms: number;
  /** dig said ";; Truncated, retrying in TCP mode." */
  retriedTcp: boolean;
  output: string;
}

export interface DigOptions {
  type?: string;
  tcp?: boolean;
  /** An EDNS UDP size, or false for +noedns (default: dig's, EDNS 1232). */
  edns?: number | false;
  /** +ignore: keep a truncated UDP answer (no TCP retry). */
  ignoreTc?: boolean;
  /** +noadflag: a query without the AD bit (redsocks' dnstc answers nothing else). */
  noAdFlag?: boolean;
  /** Seconds per try, and tries (default 2 s, 1 try). */
  time?: number;
  tries?: number;
}

export function digArgs(server: string, port: number, name: string, o: DigOptions = {}): string[] {
  return [
    'dig', `@${server}`, '-p', String(port), name, o.type ?? 'A',
    `+time=${o.time ?? 2}`, `+tries=${o.tries ?? 1}`, '+nocookie',
    ...(o.tcp ? ['+tcp'] : []),
    ...(o.edns === false ? ['+noedns'] : o.edns !== undefined ? [`+bufsize=${o.edns}`] : []),
    ...(o.ignoreTc ? ['+ignore'] : []),
    ...(o.noAdFlag ? ['+noadflag'] : []),
  ];
}

export function parseDig(output: string): DigResult {
  const status = /status: ([A-Z]+)/.exec(output)?.[1] ?? '';
  const flags = /;; flags: ([a-z ]+);/.exec(output)?.[1]?.trim().split(/\s+/) ?? [];
  const answers: string[] = [];
  const sec = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(output);
  if (sec) {
    for (const line of sec[1]!.split('\n')) {
      const f = line.split(/\s+/);
      if (f.length >= 5) answers.push(f.slice(4).join(' ').replace(/^"|"$/g, ''));
    }
  }
  return {
    status,
    flags,
    answers,
    ms: Number(/Query time: (\d+) msec/.exec(output)?.[1] ?? NaN),
    retriedTcp: output.includes('Truncated, retrying in TCP mode'),
    output,
  };
}

/** dig in `ns` (or here when ns is null), synchronously. */
export function dig(ns: Netns | null, server: string, port: number, name: string, o: DigOptions = {}): DigResult {
  const argv = digArgs(server, port, name, o);
  const r = ns
    ? spawnSync('ip', ['netns', 'exec', ns.name, ...argv], { encoding: 'utf8', timeout: 30_000 })
    : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return parseDig(`${r.stdout ?? ''}${r.stderr ?? ''}`);
}

/**
 * dig in `ns` (here when null) without blocking the event loop: several at once, or with the
 * server under test in this very process.
 */
export function digAsync(ns: Netns | null, server: string, port: number, name: string, o: DigOptions = {}): Promise<DigResult> {
  const argv = digArgs(server, port, name, o);
  const proc = ns ? ns.spawn(argv) : killOnExit(spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => proc.once('close', () => resolve(parseDig(out))));
}
