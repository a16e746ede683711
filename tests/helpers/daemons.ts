/**
 * Peers and fixtures shared by the e2e, compat and package tests: danted.conf text (for
 * Debian's danted and our socks-server alike), tinyproxy.conf text, temporary system users,
 * temporary directories, and stopping a spawned daemon. Everything made here is also
 * removed when the process exits, so a failed or interrupted test leaves nothing behind.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { sh, waitFor } from './netns';

export interface DantedBlock {
  /** `to:` address, e.g. `10.77.2.3/32`. */
  to: string;
  port?: number;
  log?: string;
}

export interface DantedConfOptions {
  internal: string;
  port: number;
  /** Default: the internal address. */
  external?: string;
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
    `internal: ${o.internal} port = ${o.port}`,
    `external: ${o.external ?? o.internal}`,
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
