/**
 * The two-ISP namespace lab:
 *
 *   lan ── gw [lan0 | wan1 wan2] ── isp1 (wan-bridge) ── remote [r1 r2 | lo 10.9.0.1 | o0] ── origin
 *                              └─── isp2 (wan-bridge) ──┘
 *
 * Each ISP namespace holds no addresses: it is an L2 wire whose delay, rate, loss, queue and
 * on/off switch are emulated by wan-bridge.c (no netem on these machines). The remote namespace
 * plays both ISP routers (10.0.1.1, 10.0.2.1) and the SOCKS server host (10.9.0.1 on lo,
 * reachable over either ISP); the origin HTTP server sits behind it.
 * The gateway gets only what a home router gets from its ISPs (addresses and a default route
 * via isp1); MPTCP endpoints, policy routes and REDIRECT are the setup tool's job.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { ChildProcess, SpawnOptions } from 'node:child_process';
import { Netns, sh } from './netns';
import { TSX } from './paths';
import { DirParams, LabProfile, profile as namedProfile } from './profiles';
import { buildTopology, type Link, type Topology } from './topology';
import { waitFor } from './wait';

export type NodeName = 'lan' | 'gw' | 'isp1' | 'isp2' | 'remote' | 'origin';
export type IspName = 'isp1' | 'isp2';
export const NODES: NodeName[] = ['lan', 'gw', 'isp1', 'isp2', 'remote', 'origin'];


/**
 * The lab's fixed address plan (every namespace is private, so runs never collide). The origin
 * stands for the internet, so it has a public-looking address (TEST-NET-2, RFC 5737): private
 * destinations bypass the proxy in the table mptcp-gateway writes.
 */
export const ADDR = {
  lanClient: '192.168.77.2',
  gwLan: '192.168.77.1',
  lanCidr: '192.168.77.0/24',
  wan1: '10.0.1.2',
  gw1: '10.0.1.1',
  wan2: '10.0.2.2',
  gw2: '10.0.2.1',
  server: '10.9.0.1',
  remoteOriginSide: '198.51.100.1',
  origin: '198.51.100.2',
  originPort: 80,
} as const;

export const IFACES = { lan: 'lan0', wan1: 'wan1', wan2: 'wan2' } as const;

/**
 * The IPv6 plan of a dual-stack lab (`Lab.create(p, { ipv6 })`; every lab is IPv4-only
 * otherwise). 'lan': the LAN and the destination side have IPv6, the WANs do not (a home whose
 * ISPs give no IPv6). 'dual': the WANs and the server host too.
 */
export const ADDR6 = {
  lanClient: 'fd77::2',
  gwLan: 'fd77::1',
  lanCidr: 'fd77::/64',
  wan1: 'fd00:1::2',
  gw1: 'fd00:1::1',
  wan2: 'fd00:2::2',
  gw2: 'fd00:2::1',
  server: 'fd09::1',
  // the internet: documentation space (RFC 3849), not a bypassed ULA
  remoteOriginSide: '2001:db8:9::1',
  origin: '2001:db8:9::2',
} as const;

export type Ipv6Mode = 'off' | 'lan' | 'dual';

/** Namespace name tags of the nodes (Netns.create adds the unique part). */
const NODE_TAGS: Record<NodeName, string> = { lan: 'lan', gw: 'gw', isp1: 'isp1', isp2: 'isp2', remote: 'rem', origin: 'org' };

/** The wires: each ISP namespace is an L2 bridge between the gateway's WAN and the remote router. */
const LINKS: ReadonlyArray<Link<NodeName>> = [
  { a: 'lan', aDev: 'eth0', aAddr: `${ADDR.lanClient}/24`, b: 'gw', bDev: IFACES.lan, bAddr: `${ADDR.gwLan}/24` },
  { a: 'gw', aDev: IFACES.wan1, aAddr: `${ADDR.wan1}/24`, b: 'isp1', bDev: 'gwside' },
  { a: 'isp1', aDev: 'remside', b: 'remote', bDev: 'r1', bAddr: `${ADDR.gw1}/24` },
  { a: 'gw', aDev: IFACES.wan2, aAddr: `${ADDR.wan2}/24`, b: 'isp2', bDev: 'gwside' },
  { a: 'isp2', aDev: 'remside', b: 'remote', bDev: 'r2', bAddr: `${ADDR.gw2}/24` },
  { a: 'remote', aDev: 'o0', aAddr: `${ADDR.remoteOriginSide}/24`, b: 'origin', bDev: 'eth0', bAddr: `${ADDR.origin}/24` },
];

/** Partial per-direction settings; flat keys apply to both directions, `up`/`down` override. */
export interface LinkChange extends Partial<DirParams> {
  up?: Partial<DirParams>;
  down?: Partial<DirParams>;
  on?: boolean;
}

export interface DirStats {
  pass: number;
  bytes: number;
  loss: number;
  qdrop: number;
  cut: number;
  queued: number;
  delay: number;
  rate: number;
}
export interface LinkStats {
  on: boolean;
  up: DirStats;
  down: DirStats;
}

const OFFLOADS_OFF = 'tso off gso off gro off tx off rx off';

/** Compile wan-bridge.c once per source version into packages/lab/build/; returns the binary path. */
export function buildBridge(): string {
  const src = path.join(__dirname, 'wan-bridge.c');
  const hash = crypto.createHash('sha1').update(fs.readFileSync(src)).digest('hex').slice(0, 12);
  const dir = path.join(__dirname, '..', 'build');
  const bin = path.join(dir, `wan-bridge-${hash}`);
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  sh(`cc -O2 -Wall -o ${tmp} ${src}`);
  fs.renameSync(tmp, bin); // atomic, so concurrent builders are fine
  return bin;
}

/** One request line to a bridge's control socket; resolves with the reply line. */
function control(sock: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(`${line}\n`));
    c.on('data', (d: string) => (buf += d));
    c.on('error', reject);
    c.on('close', () => {
      const r = buf.trim();
      if (r.startsWith('ok')) resolve(r);
      else reject(new Error(`wan-bridge: "${line}" -> ${r || 'no reply'}`));
    });
  });
}

function parseDir(s: string): DirStats {
  const kv: Record<string, number> = {};
  for (const m of s.matchAll(/(\w+)=([\d.]+)/g)) kv[m[1]] = Number(m[2]);
  return {
    pass: kv.pass, bytes: kv.bytes, loss: kv.loss, qdrop: kv.qdrop + (kv.full ?? 0), cut: kv.cut,
    queued: kv.queued, delay: kv.delay, rate: kv.rate,
  };
}

function dirCmd(d: Partial<DirParams>): string {
  const parts: string[] = [];
  if (d.delayMs !== undefined) parts.push(`delay=${d.delayMs}`);
  if (d.rateMbit !== undefined) parts.push(`rate=${d.rateMbit}`);
  if (d.lossPct !== undefined) parts.push(`loss=${d.lossPct}`);
  if (d.queuePkts !== undefined) parts.push(`queue=${d.queuePkts}`);
  return parts.join(' ');
}

const liveLabs = new Set<Lab>();

export class Lab {
  readonly ns: Record<NodeName, Netns>;
  readonly addr = ADDR;
  readonly profile: LabProfile;
  /** Scratch dir for control sockets, configs and logs; removed on destroy. */
  readonly dir: string;
  private bridges: Partial<Record<IspName, ChildProcess>> = {};
  private destroyed = false;

  private constructor(private readonly topo: Topology<NodeName>, prof: LabProfile) {
    this.ns = topo.ns;
    this.profile = prof;
    this.dir = topo.dir;
  }

  /** IPv6 as the lab was made with ('off' unless asked for). */
  ipv6: Ipv6Mode = 'off';

  static async create(prof: string | LabProfile = 'equal-20', opts: { origin?: boolean; ipv6?: Ipv6Mode } = {}): Promise<Lab> {
    const p = typeof prof === 'string' ? namedProfile(prof) : prof;
    const bridgeBin = buildBridge();
    const lab = new Lab(buildTopology(NODE_TAGS, LINKS, 'lab'), p);
    liveLabs.add(lab);
    const ns = lab.ns;
    const dir = lab.dir;
    try {
      for (const n of NODES) {
        ns[n].exec('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1');
      }
      if (opts.ipv6 && opts.ipv6 !== 'off') lab.addIpv6(opts.ipv6);
      for (const isp of ['isp1', 'isp2'] as const) {
        ns[isp].exec(`ethtool -K gwside ${OFFLOADS_OFF} && ethtool -K remside ${OFFLOADS_OFF}`);
      }
      ns.gw.exec(`ethtool -K wan1 ${OFFLOADS_OFF} && ethtool -K wan2 ${OFFLOADS_OFF}`);
      ns.remote.exec(`ethtool -K r1 ${OFFLOADS_OFF} && ethtool -K r2 ${OFFLOADS_OFF}`);

      ns.lan.exec(`ip route add default via ${ADDR.gwLan}`);
      ns.origin.exec(`ip route add default via ${ADDR.remoteOriginSide}`);
      // The ISP routers and the server host. Replies to either WAN address leave on its own
      // link because both /24s are connected; rp_filter off so asymmetric paths are fine.
      ns.remote.exec(
        `ip addr add ${ADDR.server}/32 dev lo && sysctl -qw net.ipv4.ip_forward=1 ` +
          'net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 ' +
          'net.ipv4.conf.r1.rp_filter=0 net.ipv4.conf.r2.rp_filter=0 && ' +
          'ip mptcp limits set subflow 4 add_addr_accepted 4',
      );
      // What a home router gets from its ISPs: addresses and a default route via isp1.
      ns.gw.exec(`ip route add default via ${ADDR.gw1} dev ${IFACES.wan1} && sysctl -qw net.ipv4.ip_forward=1`);

      for (const isp of ['isp1', 'isp2'] as const) {
        const sock = path.join(dir, `${isp}.sock`);
        const child = ns[isp].spawn([bridgeBin, 'gwside', 'remside', sock]);
        lab.bridges[isp] = child;
        let out = '';
        child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
        await waitFor(() => out.includes('ready') || child.exitCode !== null, 5000, `${isp} bridge`);
        if (child.exitCode !== null) throw new Error(`wan-bridge in ${isp} exited: ${out}`);
        await lab.setLink(isp, { up: p[isp].up, down: p[isp].down });
      }
      await waitFor(
        () =>
          ns.gw.exec(`ping -c1 -W1 -I ${IFACES.wan1} ${ADDR.gw1} >/dev/null && ping -c1 -W1 -I ${IFACES.wan2} ${ADDR.gw2} >/dev/null && echo ok`, { allowFail: true }).includes('ok'),
        15000,
        'both WAN links to pass traffic',
      );
      if (opts.origin !== false) await lab.startOrigin();
      return lab;
    } catch (e) {
      lab.destroy();
      throw e;
    }
  }

  /** Static IPv6 addresses and routes (no RA, no DAD), per ADDR6. */
  private addIpv6(mode: Exclude<Ipv6Mode, 'off'>): void {
    this.ipv6 = mode;
    const ns = this.ns;
    const on = (n: NodeName): void => void ns[n].exec('sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.all.accept_ra=0');
    for (const n of ['lan', 'gw', 'remote', 'origin'] as const) on(n);
    const a = ADDR6;
    const add = (n: NodeName, dev: string, cidr: string): void => void ns[n].exec(`sysctl -qw net.ipv6.conf.${dev}.disable_ipv6=0 && ip -6 addr add ${cidr} dev ${dev} nodad`);
    add('lan', 'eth0', `${a.lanClient}/64`);
    add('gw', IFACES.lan, `${a.gwLan}/64`);
    add('remote', 'o0', `${a.remoteOriginSide}/64`);
    add('origin', 'eth0', `${a.origin}/64`);
    ns.lan.exec(`ip -6 route add default via ${a.gwLan}`);
    ns.origin.exec(`ip -6 route add default via ${a.remoteOriginSide}`);
    ns.gw.exec('sysctl -qw net.ipv6.conf.all.forwarding=1');
    ns.remote.exec('sysctl -qw net.ipv6.conf.all.forwarding=1');
    if (mode === 'dual') {
      add('gw', IFACES.wan1, `${a.wan1}/64`);
      add('gw', IFACES.wan2, `${a.wan2}/64`);
      add('remote', 'r1', `${a.gw1}/64`);
      add('remote', 'r2', `${a.gw2}/64`);
      ns.remote.exec(`ip -6 addr add ${a.server}/128 dev lo nodad`);
      // what a home router gets from a dual-stack ISP: addresses and a default route via isp1
      ns.gw.exec(`ip -6 route add default via ${a.gw1} dev ${IFACES.wan1}`);
    }
  }

  private sock(isp: IspName): string {
    return path.join(this.dir, `${isp}.sock`);
  }

  /** Start the origin HTTP server (GET /small, GET /bytes/N, POST /upload) on port 80. */
  async startOrigin(): Promise<void> {
    const child = this.spawn('origin', [TSX, path.join(__dirname, 'origin-server.ts'), String(ADDR.originPort)]);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('listening') || child.exitCode !== null, 15000, 'origin server');
    if (child.exitCode !== null) throw new Error(`origin server exited: ${out}`);
  }

  /** Change a link while it runs. Flat keys set both directions; `up`/`down` override one. */
  async setLink(isp: IspName, c: LinkChange): Promise<void> {
    const { up, down, on, ...both } = c;
    const upCmd = dirCmd({ ...both, ...up });
    const downCmd = dirCmd({ ...both, ...down });
    if (upCmd) await control(this.sock(isp), `set up ${upCmd}`);
    if (downCmd) await control(this.sock(isp), `set down ${downCmd}`);
    if (on !== undefined) await control(this.sock(isp), on ? 'on' : 'off');
  }

  /** Cut an ISP: the bridge drops every frame, both ways, and flushes what it holds. */
  cut(isp: IspName): Promise<void> {
    return this.setLink(isp, { on: false });
  }

  restore(isp: IspName): Promise<void> {
    return this.setLink(isp, { on: true });
  }

  async linkStats(isp: IspName): Promise<LinkStats> {
    const r = await control(this.sock(isp), 'stats');
    const [a, b] = r.split('|');
    return { on: /link=on/.test(a), up: parseDir(a.replace(/^.*?up /, '')), down: parseDir(b) };
  }

  /**
   * TCP congestion control of every namespace with TCP endpoints (lan, gw, remote, origin).
   * A namespace other than the host's may only pick one listed in the host's
   * net.ipv4.tcp_allowed_congestion_control (`bbr` is the machine default, `cubic` Debian's):
   * with `allowOnHost` a missing one is added there (the host's own default is not touched).
   * Returns what the gateway now uses.
   */
  setCongestionControl(cc: string, opts: { allowOnHost?: boolean } = {}): string {
    const allowed = fs.readFileSync('/proc/sys/net/ipv4/tcp_allowed_congestion_control', 'utf8').trim().split(/\s+/);
    if (!allowed.includes(cc)) {
      const fix = `sysctl -w net.ipv4.tcp_allowed_congestion_control="${[...allowed, cc].join(' ')}"`;
      if (!opts.allowOnHost) throw new Error(`congestion control ${cc} is not allowed in namespaces on this host; ${fix}`);
      sh(fix);
    }
    for (const n of ['lan', 'gw', 'remote', 'origin'] as const) this.exec(n, `sysctl -qw net.ipv4.tcp_congestion_control=${cc}`);
    return this.congestionControl();
  }

  /** The gateway's TCP congestion control (what new sockets there use). */
  congestionControl(): string {
    return this.exec('gw', 'sysctl -n net.ipv4.tcp_congestion_control').trim();
  }

  /** Interface byte counters in a namespace: { dev: { rx, tx } }. */
  ifBytes(node: NodeName): Record<string, { rx: number; tx: number }> {
    const j = JSON.parse(this.exec(node, 'ip -s -j link show')) as Array<{
      ifname: string;
      stats64?: { rx: { bytes: number }; tx: { bytes: number } };
    }>;
    const out: Record<string, { rx: number; tx: number }> = {};
    for (const l of j) if (l.stats64) out[l.ifname] = { rx: l.stats64.rx.bytes, tx: l.stats64.tx.bytes };
    return out;
  }

  exec(node: NodeName, cmd: string, opts: { allowFail?: boolean } = {}): string {
    return this.ns[node].exec(cmd, opts);
  }

  spawn(node: NodeName, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    return this.ns[node].spawn(argv, opts);
  }

  /** `ip netns exec NAME` prefix for building shell commands. */
  prefix(node: NodeName): string {
    return `ip netns exec ${this.ns[node].name}`;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of Object.values(this.bridges)) b?.kill('SIGKILL');
    this.topo.destroy();
    liveLabs.delete(this);
  }
}

/** For long-running scripts (demo, benches): tear every lab down on Ctrl-C / SIGTERM / SIGHUP. */
export function destroyLabsOnSignals(): void {
  let tearingDown = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // `on`, not `once`: Ctrl-C reaches the whole process group and tsx relays it too, and a
    // second SIGINT with no listener left would kill us halfway through the teardown.
    process.on(sig, () => {
      if (tearingDown) return;
      tearingDown = true;
      process.stderr.write(`\n${sig}: tearing the lab down\n`);
      for (const l of [...liveLabs]) {
        try {
          l.destroy();
        } catch (e) {
          process.stderr.write(`teardown: ${String(e)}\n`);
        }
      }
      process.exit(130);
    });
  }
}
process.once('exit', () => {
  for (const l of [...liveLabs]) l.destroy();
});
