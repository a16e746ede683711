/**
 * Network-namespace helpers shared by every test, benchmark and the lab.
 * Every namespace made here carries the prefix `rts-` so that a crashed run
 * can be swept by `sweepStale()` (global setup does it before each jest run).
 */
import { execFileSync, spawn, ChildProcess, SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';

export const NS_PREFIX = 'rts-';

/** Run a shell command, return stdout; throw with stderr on failure. */
export function sh(cmd: string, opts: { allowFail?: boolean } = {}): string {
  try {
    return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (opts.allowFail) return '';
    const err = e as { stderr?: string; status?: number };
    throw new Error(`command failed (${err.status}): ${cmd}\n${err.stderr ?? ''}`);
  }
}

let counter = 0;
/** A namespace name unique to this process: rts-<tag>-p<pid36>n<n>; the pid lets a sweep spare live runs. */
export function uniqueName(tag: string): string {
  return `${NS_PREFIX}${tag}-p${process.pid.toString(36)}n${(counter++).toString(36)}`;
}

/** The pid of the process that made a namespace, from its name; undefined for foreign names. */
export function creatorPid(name: string): number | undefined {
  const m = /-p([0-9a-z]+)n[0-9a-z]+$/.exec(name);
  return m ? parseInt(m[1], 36) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const live = new Set<Netns>();
const children = new Set<ChildProcess>();

export class Netns {
  readonly name: string;
  private constructor(name: string) {
    this.name = name;
  }

  /** Create a fresh namespace with lo up. */
  static create(tag: string): Netns {
    const ns = new Netns(uniqueName(tag));
    sh(`ip netns add ${ns.name}`);
    markOwner(ns.name);
    live.add(ns);
    ns.exec('ip link set lo up');
    return ns;
  }

  /** Run a shell command inside the namespace. */
  exec(cmd: string, opts: { allowFail?: boolean } = {}): string {
    return sh(`ip netns exec ${this.name} bash -c ${quote(cmd)}`, opts);
  }

  /** A kernel SNMP/netstat counter of this namespace (absolute, e.g. TcpExtTCPFastOpenActive); 0 if absent. */
  counter(name: string): number {
    const out = this.exec(`nstat -saz ${name}`, { allowFail: true });
    const m = new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(out);
    return m ? Number(m[1]) : 0;
  }

  /** Spawn a long-running process inside the namespace; it is killed on destroy/exit. */
  spawn(argv: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  }

  destroy(): void {
    // Kill whatever still runs in the namespace, then delete it.
    sh(`ip netns pids ${this.name} 2>/dev/null | xargs -r kill -9`, { allowFail: true });
    sh(`ip netns del ${this.name}`, { allowFail: true });
    fs.rmSync(`${OWNER_DIR}/${this.name}`, { force: true });
    live.delete(this);
  }
}

/** Join two namespaces with a veth pair; offloads optional (the delay bridge needs them off). */
export function veth(a: Netns, aDev: string, aAddr: string, b: Netns, bDev: string, bAddr: string): void {
  const tmpA = `v${process.pid.toString(36)}${(counter++).toString(36)}a`;
  const tmpB = tmpA.slice(0, -1) + 'b';
  sh(`ip link add ${tmpA} type veth peer name ${tmpB}`);
  sh(`ip link set ${tmpA} netns ${a.name}`);
  sh(`ip link set ${tmpB} netns ${b.name}`);
  a.exec(`ip link set ${tmpA} name ${aDev} && ip link set ${aDev} up${aAddr ? ` && ip addr add ${aAddr} dev ${aDev}` : ''}`);
  b.exec(`ip link set ${tmpB} name ${bDev} && ip link set ${bDev} up${bAddr ? ` && ip addr add ${bAddr} dev ${bDev}` : ''}`);
}

/** Kill spawned children and delete namespaces made by this process. */
export function destroyAll(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  for (const ns of [...live]) ns.destroy();
}

/**
 * Owner files (pid of the creating process) let a sweep spare namespaces that a concurrent,
 * still-running process owns (several engineers/CI jobs run tests on one machine).
 */
const OWNER_DIR = '/run/rts-netns';
function markOwner(name: string): void {
  try {
    fs.mkdirSync(OWNER_DIR, { recursive: true });
    fs.writeFileSync(`${OWNER_DIR}/${name}`, String(process.pid));
  } catch {
    /* best effort: without the file the namespace is merely sweepable */
  }
}
function ownerAlive(name: string): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(`${OWNER_DIR}/${name}`, 'utf8'));
  } catch {
    return false;
  }
  if (!pid || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid encoded in the name (rts-<tag>-p<pid36>n<n>) is a live process other than us. */
function creatorAlive(name: string): boolean {
  const pid = creatorPid(name);
  return pid !== undefined && pid !== process.pid && alive(pid);
}

/** Delete every rts-* namespace left behind by a killed run (not those of live processes). */
export function sweepStale(): void {
  const list = sh('ip netns list 2>/dev/null', { allowFail: true })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(NS_PREFIX) && !ownerAlive(n) && !creatorAlive(n));
  for (const n of list) {
    fs.rmSync(`${OWNER_DIR}/${n}`, { force: true });
    sh(`ip netns pids ${n} 2>/dev/null | xargs -r kill -9; ip netns del ${n}`, { allowFail: true });
  }
}

export function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

process.once('exit', destroyAll);
