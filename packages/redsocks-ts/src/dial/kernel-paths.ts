/**
 * `paths = auto`, the runtime half: reads links, addresses, routes, rules and MPTCP endpoints
 * through netlink, re-reads them on every rtnetlink event (coalesced) and on a slow timer
 * (the in-kernel path manager sends no event when an endpoint is added or removed), derives
 * the paths (derive-paths.ts), makes the repairs it can, and acts on the path manager for a
 * dead path (withdraw its endpoint: REMOVE_ADDR reaches the server over the live path; put it
 * back when the path answers again). docs/fast-by-default.md §2 and §5.
 *
 * One object per dialer, owned by it (no module state). Writes need CAP_NET_ADMIN; without it
 * auto still follows the kernel, and says once that it cannot act on it.
 */
import { EventEmitter } from 'node:events';
import { NetlinkSocket, netlink } from 'mptcp-native';
import { derivePaths, rememberRoutes, type AutoPath, type Derived, type KernelSnapshot, type RouteMemory } from './derive-paths';
import type { HealthLog } from './path-health';

/** Coalesce a burst of rtnetlink events (a DHCP renewal is several) into one re-read. */
const COALESCE_MS = 50;
/** Endpoints have no events: re-read this often anyway. */
const REREAD_MS = 5000;

export interface KernelPathsOptions {
  /** The proxy address: paths are derived for its family, and only if it is behind a default route. */
  proxy: string;
  log: HealthLog;
  /** Read and follow the kernel's paths (`paths = auto`); false: path manager control only. */
  follow: boolean;
  /** Act on the kernel: withdraw/restore endpoints; with follow, repair renumbered endpoints and lost routes. */
  repair?: boolean;
  /** Timer period of the endpoint re-read (ms). */
  rereadMs?: number;
}

export class KernelPaths extends EventEmitter {
  private route: NetlinkSocket | undefined;
  private events: NetlinkSocket | undefined;
  private genl: NetlinkSocket | undefined;
  private pmFamily = 0;
  private timer: NodeJS.Timeout | undefined;
  private coalesce: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private current: Derived = { paths: [], repairs: [], none: 'not read yet' };
  private lastSummary = '';
  private readonly withdrawn = new Map<string, netlink.MptcpEndpoint>();
  private readonly routes: RouteMemory = new Map();
  private readonly saidOnce = new Set<string>();
  /** Resolves after the first reading (or its failure). */
  readonly ready: Promise<void>;

  constructor(private readonly opts: KernelPathsOptions) {
    super();
    let done!: () => void;
    this.ready = new Promise((r) => (done = r));
    void this.start().finally(done);
  }

  /** The paths of the last reading. */
  paths(): AutoPath[] {
    return this.current.paths;
  }

  /** Why there are no paths (undefined when there are). */
  none(): string | undefined {
    return this.current.none;
  }

  /** Endpoints withdrawn for a dead path, by address. */
  withdrawnAddresses(): string[] {
    return [...this.withdrawn.keys()];
  }

  private async start(): Promise<void> {
    const R = netlink.RTNLGRP;
    const groups = [R.LINK, R.IPV4_IFADDR, R.IPV4_ROUTE, R.IPV4_RULE, R.IPV6_IFADDR, R.IPV6_ROUTE, R.IPV6_RULE];
    try {
      if (this.opts.follow) {
        this.route = new NetlinkSocket(netlink.NETLINK_ROUTE);
        this.events = new NetlinkSocket(netlink.NETLINK_ROUTE, groups, () => this.schedule(), () => this.schedule());
      }
      this.genl = new NetlinkSocket(netlink.NETLINK_GENERIC);
      const fam = await this.genl.request((seq) => netlink.encodeGetFamily(netlink.MPTCP_PM_NAME, seq), 'resolve mptcp_pm');
      this.pmFamily = fam[0] ? netlink.decodeFamily(fam[0]).id : 0;
    } catch (err) {
      this.current = { paths: [], repairs: [], none: `netlink: ${(err as Error).message}` };
      this.opts.log.error(
        this.opts.follow
          ? `paths = auto: cannot read the kernel's paths (${(err as Error).message}); no WAN paths`
          : `paths: cannot reach the MPTCP path manager (${(err as Error).message}); dead paths' endpoints stay`,
      );
      this.close();
      return;
    }
    if (!this.opts.follow) return;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.rereadMs ?? REREAD_MS);
    this.timer.unref();
  }

  private schedule(): void {
    if (this.closed || this.coalesce) return;
    this.coalesce = setTimeout(() => {
      this.coalesce = undefined;
      void this.refresh();
    }, COALESCE_MS);
    this.coalesce.unref();
  }

  /** Re-read everything now (also what tests call after changing the namespace). */
  refresh(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        try {
          await this.readOnce();
        } catch (err) {
          if (!this.closed) this.once1('read', `paths = auto: reading the kernel failed: ${(err as Error).message}`);
        }
      } while (this.again && !this.closed);
    })().finally(() => (this.reading = undefined));
    return this.reading;
  }

  async snapshot(): Promise<KernelSnapshot> {
    const r = this.route!;
    const dump = (type: number, what: string): Promise<netlink.NlMessage[]> => r.request((seq) => netlink.encodeRtDump(type, seq), what);
    const links = (await dump(netlink.RTM.GETLINK, 'dump links')).map(netlink.decodeLink);
    const addrs = (await dump(netlink.RTM.GETADDR, 'dump addresses')).map(netlink.decodeAddr).filter((a): a is netlink.AddrInfo => a !== undefined);
    const routes = (await dump(netlink.RTM.GETROUTE, 'dump routes')).map(netlink.decodeRoute);
    const rules = (await dump(netlink.RTM.GETRULE, 'dump rules')).map(netlink.decodeRule);
    const endpoints = this.pmFamily
      ? (await this.genl!.request((seq) => netlink.encodeEndpointDump(this.pmFamily, seq), 'dump MPTCP endpoints'))
          .map(netlink.decodeEndpoint)
          .filter((e): e is netlink.MptcpEndpoint => e !== undefined)
      : [];
    return { links, addrs, routes, rules, endpoints };
  }

  private async readOnce(): Promise<void> {
    if (this.closed || !this.route) return;
    const snap = await this.snapshot();
    if (this.closed) return;
    // An endpoint we withdrew that someone re-added by hand is theirs again.
    for (const ep of snap.endpoints) this.withdrawn.delete(ep.address);
    const d = derivePaths(snap, this.opts.proxy, this.withdrawn, this.routes);
    rememberRoutes(snap, this.routes);
    if (this.opts.repair !== false && d.repairs.length > 0 && (await this.applyRepairs(d))) {
      // Read again before saying anything: this reading is already out of date.
      this.again = true;
      return;
    }
    this.current = d;
    const summary = d.paths.length
      ? d.paths.map((p) => `${p.name} ${p.source}${p.backup ? ' backup' : ''} ${p.usable ? 'usable' : 'unusable'}: ${p.why}`).join('; ')
      : `none (${d.none})`;
    if (summary !== this.lastSummary) {
      this.lastSummary = summary;
      this.opts.log.info(`paths = auto: ${summary}`);
      this.emit('paths', d.paths);
    }
  }

  private async applyRepairs(d: Derived): Promise<boolean> {
    let changed = false;
    for (const r of d.repairs) {
      try {
        if (r.kind === 'renumber') {
          // Same id, flags and device, new address: the old endpoint names an address that is gone.
          await this.pm(netlink.encodeEndpointDel, { id: r.endpoint.id }, `delete endpoint ${r.endpoint.id}`);
          await this.pm(netlink.encodeEndpointAdd, { ...r.endpoint, address: r.address }, `add endpoint ${r.endpoint.id}`);
          for (const rule of r.rules) {
            const moved = { src: r.address, srcLen: rule.srcLen, table: rule.table, priority: rule.priority };
            await this.route!.request((seq) => netlink.encodeRule(netlink.RTM.DELRULE, seq, { ...moved, src: r.endpoint.address }), `delete rule from ${r.endpoint.address}`);
            await this.route!.request((seq) => netlink.encodeRule(netlink.RTM.NEWRULE, seq, moved), `add rule from ${r.address}`);
          }
          const ruleText = r.rules.map((x) => `, rule from ${r.address} lookup ${x.table}`).join('');
          this.opts.log.info(`paths = auto: ${r.device} was renumbered ${r.endpoint.address} -> ${r.address}; endpoint ${r.endpoint.id}${ruleText} moved to ${r.address}`);
        } else {
          await this.route!.request((seq) => netlink.encodeDefaultRoute(seq, r), `restore the default route of table ${r.table}`);
          this.opts.log.info(
            `paths = auto: table ${r.table} lost its default route when ${r.device} went down; restored default${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.device}`,
          );
        }
        changed = true;
      } catch (err) {
        this.once1(`repair-${r.kind}`, `paths = auto: cannot repair (${(err as Error).message})${(err as { code?: string }).code === 'EPERM' ? '; the daemon needs CAP_NET_ADMIN' : ''}`);
      }
    }
    return changed;
  }

  private pm(
    encode: (family: number, seq: number, ep: netlink.MptcpEndpoint) => Buffer,
    ep: Partial<netlink.MptcpEndpoint> & { id: number },
    what: string,
  ): Promise<netlink.NlMessage[]> {
    if (!this.genl || !this.pmFamily) return Promise.reject(new Error(`${what}: no MPTCP path manager`));
    return this.genl.request((seq) => encode(this.pmFamily, seq, ep as netlink.MptcpEndpoint), what);
  }

  /**
   * A path died: withdraw the endpoint of its source (the kernel closes the local subflows
   * from it and sends REMOVE_ADDR over a live subflow; the server drops its side and
   * reinjects). For the initial subflows' address (no endpoint), remove address id 0.
   * Returns what it did, or undefined when there was nothing to do.
   */
  async withdraw(source: string, stillDown: () => boolean = () => true): Promise<string | undefined> {
    if (this.closed || !this.genl || !this.pmFamily || this.withdrawn.has(source)) return undefined;
    const eps = (await this.genl.request((seq) => netlink.encodeEndpointDump(this.pmFamily, seq), 'dump MPTCP endpoints'))
      .map(netlink.decodeEndpoint)
      .filter((e): e is netlink.MptcpEndpoint => e !== undefined);
    if (!stillDown() || this.withdrawn.has(source)) return undefined;
    const ep = eps.find((e) => e.address === source);
    try {
      if (ep) {
        this.withdrawn.set(source, ep);
        await this.pm(netlink.encodeEndpointDel, { id: ep.id }, `withdraw endpoint ${ep.id}`);
        return `endpoint ${ep.id} (${source}) withdrawn: REMOVE_ADDR sent over the live path`;
      }
      await this.pm(netlink.encodeEndpointDel, { id: 0, address: source }, `remove address id 0 (${source})`);
      return `initial subflows from ${source} removed (REMOVE_ADDR id 0 over the live path)`;
    } catch (err) {
      if (ep) this.withdrawn.delete(source);
      this.once1('withdraw', `cannot withdraw the dead path's endpoint: ${(err as Error).message}${(err as { code?: string }).code === 'EPERM' ? '; the daemon needs CAP_NET_ADMIN' : ''}`);
      return undefined;
    }
  }

  /** The path answers again: put its endpoint back (the kernel re-opens subflows from it). */
  async restore(source: string): Promise<string | undefined> {
    const ep = this.withdrawn.get(source);
    if (!ep || !this.genl) return undefined;
    try {
      await this.pm(netlink.encodeEndpointAdd, ep, `re-add endpoint ${ep.id}`);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') {
        this.once1('restore', `cannot re-add endpoint ${ep.id} (${source}): ${(err as Error).message}`);
        return undefined;
      }
    }
    this.withdrawn.delete(source);
    return `endpoint ${ep.id} (${source}) re-added`;
  }

  private once1(key: string, msg: string): void {
    if (this.saidOnce.has(key)) return;
    this.saidOnce.add(key);
    this.opts.log.error(msg);
  }

  /** Stops; endpoints still withdrawn are put back first (sent at once, before the process exits). */
  shutdown(): void {
    if (this.genl && this.pmFamily) {
      for (const ep of this.withdrawn.values()) this.genl.sendNow((seq) => netlink.encodeEndpointAdd(this.pmFamily, seq, ep));
    }
    this.withdrawn.clear();
    this.close();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.coalesce) clearTimeout(this.coalesce);
    this.route?.close();
    this.events?.close();
    this.genl?.close();
  }
}
