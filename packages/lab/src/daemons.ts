/**
 * The one daemons helper of the tests, the benches and the lab: start a daemon (in a
 * namespace or not) with its output captured, wait until it listens, stop it; config text for
 * the peers (danted.conf for Debian's danted and our socks-server alike, tinyproxy.conf,
 * redsocks.conf sections); temporary system users and directories. Everything made here is
 * also removed when the process exits, so a failed or interrupted run leaves nothing behind.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { sh, type Netns } from './netns';
import { ROOT } from './paths';
import { PROXY_IP } from './topology';
import { waitFor } from './wait';

export interface Daemon {
  proc: ChildProcess;
  /** What it wrote to stdout and stderr so far (the last 1 MB). */
  output: () => string;
  /** How many characters of output so far, for outputSince(). */
  outputMark: () => number;
  /** The output written after outputMark() returned `mark` (what of it is still kept). */
  outputSince: (mark: number) => string;
}

/** Spawns `argv` inside `ns` (killed when the namespace goes) with its output captured. */
export function spawnIn(ns: Netns, argv: string[], opts: { cwd?: string } = {}): Daemon {
  const proc = ns.spawn(argv, { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let total = 0;
  // the last 1 MB: enough for any failure message, bounded for a long bench
  const keep = (d: Buffer): void => {
    const text = d.toString();
    total += text.length;
    out = (out + text).slice(-1 << 20);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return {
    proc,
    output: () => out,
    outputMark: () => total,
    // `out` ends at `total`: what came after `mark` is its last total - mark characters
    outputSince: (mark) => (total - mark > 0 ? out.slice(-(total - mark)) : ''),
  };
}

/** Waits until something listens on TCP `port` inside `ns`. */
export async function waitListening(ns: Netns, port: number, ms = 15000): Promise<void> {
  await waitFor(() => ns.exec(`ss -Htln 'sport = :${port}'`, { allowFail: true }).trim().length > 0, ms, `listener on :${port} in ${ns.name}`);
}

export interface Started extends Daemon {
  name: string;
  /** SIGTERM, then SIGKILL if it has not exited within `ms`. */
  stop: (ms?: number) => Promise<void>;
}

/** spawnIn, then wait until it listens on `port`; a daemon that exits or never listens throws with its output. */
export async function startDaemon(ns: Netns, name: string, argv: string[], port: number, ms = 15000): Promise<Started> {
  const d = spawnIn(ns, argv);
  const { proc } = d;
  const listening = (): boolean => ns.exec(`ss -ltnH 'sport = :${port}'`, { allowFail: true }).trim() !== '';
  try {
    await waitFor(() => proc.exitCode !== null || listening(), ms, `${name} to listen on :${port}`);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${name} did not start: ${String(e)}\n${d.output()}`);
  }
  if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}:\n${d.output()}`);
  return { ...d, name, stop: (stopMs = 3000) => stopProcess(proc, stopMs) };
}

export async function stopAll(ds: Started[]): Promise<void> {
  for (const d of [...ds].reverse()) await d.stop();
}

/** Writes `text` to `dir/name` and returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

/** The `base {}` the e2e suites share: debug+info logging to `file:LOG`, iptables redirector. */
export function redsocksBase(log: string, extra = ''): string {
  return `base {\n  log_debug = on;\n  log_info = on;\n  log = "file:${log}";\n  daemon = off;\n  redirector = iptables;\n${extra}}\n`;
}

/** One `redsocks {}` section on 0.0.0.0:localPort to PROXY_IP:upPort; `extra` holds indented key lines. */
export function redsocksSection(localPort: number, upPort: number, type = 'socks5', extra = ''): string {
  return `redsocks {\n  local_ip = 0.0.0.0;\n  local_port = ${localPort};\n  ip = ${PROXY_IP};\n  port = ${upPort};\n  type = ${type};\n${extra}}\n`;
}

export function userExists(name: string): boolean {
  return sh(`getent passwd ${name}`, { allowFail: true }).trim().length > 0;
}

export interface DantedBlock {
  /** `to:` address, e.g. `10.77.2.3/32`. */
  to: string;
  port?: number;
  log?: string;
}

export interface DantedConfOptions {
  /** The plain listener; none with `internal: undefined` (then `tls` must name one). */
  internal: string | undefined;
  port: number;
  /** Default: the internal address. */
  external?: string;
  /** TLS listeners (`IP port = N`) and their certificate and key files (docs/tls.md). */
  tls?: { listen: string[]; cert: string; key: string };
  /** Default `stderr`. */
  logoutput?: string;
  clientmethod?: string;
  socksmethod?: string;
  /** `user.privileged: root` / `user.unprivileged: nobody` (Debian's danted wants them as root). */
  users?: boolean;
  /** Extra lines before the rules (`extension.*`, `user.*` ...). */
  extra?: string[];
  /** `from:` of the client pass rule; default 0.0.0.0/0. */
  clientFrom?: string;
  /** socks block rules, before the final socks pass. */
  blocks?: DantedBlock[];
}

/** A danted.conf with pass-all rules (plus optional blocks). */
export function dantedConf(o: DantedConfOptions): string {
  const rule = (kind: string, body: string[]): string[] => [`${kind} {`, ...body.map((l) => `  ${l}`), '}'];
  return [
    `logoutput: ${o.logoutput ?? 'stderr'}`,
    ...(o.internal !== undefined ? [`internal: ${o.internal} port = ${o.port}`] : []),
    ...(o.tls?.listen ?? []).map((l) => `extension.tls.internal: ${l}`),
    `external: ${o.external ?? o.internal}`,
    ...(o.tls ? [`extension.tls.cert: ${o.tls.cert}`, `extension.tls.key: ${o.tls.key}`] : []),
    `clientmethod: ${o.clientmethod ?? 'none'}`,
    `socksmethod: ${o.socksmethod ?? 'none'}`,
    ...(o.users ? ['user.privileged: root', 'user.unprivileged: nobody'] : []),
    ...(o.extra ?? []),
    ...rule('client pass', [`from: ${o.clientFrom ?? '0.0.0.0/0'} to: 0.0.0.0/0`]),
    ...(o.blocks ?? []).flatMap((b) =>
      rule('socks block', [`from: 0.0.0.0/0 to: ${b.to}${b.port !== undefined ? ` port = ${b.port}` : ''}`, ...(b.log ? [`log: ${b.log}`] : [])]),
    ),
    ...rule('socks pass', ['from: 0.0.0.0/0 to: 0.0.0.0/0']),
    '',
  ].join('\n');
}

/** tinyproxy.conf listening on `listen:port`, optionally with Basic auth. */
export function tinyproxyConf(o: { listen: string; port: number; allow: string; basicAuth?: { user: string; password: string } }): string {
  return [
    'User nobody',
    'Group nogroup',
    `Port ${o.port}`,
    `Listen ${o.listen}`,
    'Timeout 60',
    'LogLevel Info',
    'MaxClients 100',
    `Allow ${o.allow}`,
    ...(o.basicAuth ? [`BasicAuth ${o.basicAuth.user} ${o.basicAuth.password}`] : []),
    '',
  ].join('\n');
}

const users = new Set<string>();
const dirs = new Set<string>();
const children = new Set<ChildProcess>();

process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const u of users) sh(`userdel ${u}`, { allowFail: true });
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

export interface TempUser {
  name: string;
  password: string;
  remove(): void;
}

/**
 * A system user without home or shell, named `<prefix><pid36>` so concurrent runs do not
 * collide; removed by remove() or at process exit.
 */
export function tempSystemUser(prefix: string, password: string): TempUser {
  const name = `${prefix}${process.pid.toString(36)}`;
  sh(`userdel ${name}`, { allowFail: true });
  sh(`useradd -M -s /usr/sbin/nologin ${name} && echo '${name}:${password}' | chpasswd`);
  users.add(name);
  return {
    name,
    password,
    remove() {
      if (users.delete(name)) sh(`userdel ${name}`, { allowFail: true });
    },
  };
}

/** mkdtemp under the system temp dir, removed at process exit if the test did not. */
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.add(d);
  return d;
}

export function removeTempDir(d: string): void {
  dirs.delete(d);
  fs.rmSync(d, { recursive: true, force: true });
}

/** A daemon spawned outside a namespace: killed at process exit if still running. */
export function killOnExit<T extends ChildProcess>(proc: T): T {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

/** SIGTERM, then SIGKILL if it has not exited within `ms`. */
export async function stopProcess(proc: ChildProcess | undefined, ms = 5000): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  await waitFor(() => proc.exitCode !== null || proc.signalCode !== null, ms, 'process exit').catch(() => proc.kill('SIGKILL'));
}

/** True once something accepts a TCP connection on host:port. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
