/**
 * The ways the benches carry LAN traffic, each with its own daemons:
 * direct over one ISP, the C pair (redsocks + Dante under mptcpize), and ours in several
 * configurations (a conf/lab config pair, with redsocks.conf / danted.conf keys overridden).
 */
import { Lab, ADDR, IFACES } from './lab';
import { gatewayCli, labSetupArgs, preferCompiled, setupLab } from './gateway';
import type { LabProfile } from './profiles';
import { stopAll, type Started } from './daemons';
import { C_REDSOCKS_PORT, OUR_REDSOCKS_PORT, startCPair, startOurRedsocks, startOurServer } from './pairs';
import { Source } from './scenarios';
import { makeTestCerts, type TestCerts } from './certs';
import * as path from 'node:path';

/** One configuration of our pair: conf/lab files and key overrides (null deletes a key). */
export interface OurSpec {
  label: string;
  /** conf/lab file for redsocks-ts (default redsocks.conf). */
  redsocksConf?: string;
  keys: Record<string, string | null>;
  /** conf/lab file for socks-server (default danted.conf). */
  serverConf?: string;
  serverKeys?: Record<string, string | null>;
  /** TLS 1.3 to the server's TLS listener (docs/tls.md), its certificate pinned. */
  tls?: boolean;
}

/** The lab's two WANs as a fixed `paths` list (what `paths = auto` finds there, named by ISP). */
export const FIXED_PATHS = `"isp1 ${ADDR.wan1} dev ${IFACES.wan1}, isp2 ${ADDR.wan2} dev ${IFACES.wan2}"`;

export const OUR_MODES: Record<string, OurSpec> = {
  'ours-plain': { label: 'ours plain', keys: { optimistic: 'off', fastopen: 'off', pool_size: '0' } },
  'ours-oc': { label: 'ours OC', keys: { optimistic: 'on', fastopen: 'off', pool_size: '0' } },
  'ours-oc-tfo': { label: 'ours OC+TFO', keys: { optimistic: 'on', fastopen: 'on', pool_size: '0' } },
  'ours-oc-pool': { label: 'ours OC+pool', keys: { optimistic: 'on', fastopen: 'off', pool_size: '4' } },
  // conf/lab/redsocks.conf = conf/redsocks.conf as shipped (pool and optimistic auto, paths = auto)
  ours: { label: 'ours (conf/lab/redsocks.conf)', keys: {} },
  // the lab's config before it mirrored the shipped one: optimistic on, no pool, fixed paths
  'ours-fixed': {
    label: 'ours OC, fixed paths, no pool',
    keys: { optimistic: 'on', pool_size: '0', paths: FIXED_PATHS, path_probe_interval: '500' },
  },
  // TLS 1.3 to the server's TLS listener (docs/tls.md), the server's certificate pinned
  'ours-plain-tls': { label: 'ours plain+TLS', keys: { optimistic: 'off', fastopen: 'off', pool_size: '0' }, tls: true },
  'ours-oc-tls': { label: 'ours OC+TLS', keys: { optimistic: 'on', fastopen: 'off', pool_size: '0' }, tls: true },
  'ours-oc-pool-tls': { label: 'ours OC+pool+TLS', keys: { optimistic: 'on', fastopen: 'off', pool_size: '4' }, tls: true },
  // issue 10: a drop-in user's configs, no extension key on either side
  dropin: {
    label: 'ours drop-in (no ext. keys)',
    redsocksConf: 'redsocks-dropin.conf',
    keys: {},
    serverConf: 'danted-dropin.conf',
  },
};

/** The server's TLS listener in the lab (beside the plain one on OUR_SOCKS_PORT). */
export const LAB_TLS_PORT = 1443;

export interface Mode {
  name: string;
  label: string;
  src: Source;
  /** redsocks-ts of this mode (ours only). */
  redsocks?: Started;
  stop(): Promise<void>;
  /** The redsocks daemon's output so far (our modes only). */
  output?: () => string;
  /** The mode's daemons (redsocks and its SOCKS server; none for direct), for their CPU time. */
  daemons: Started[];
}

/** `ours+pool_size=8+optimistic=off`: one of OUR_MODES with further redsocks.conf keys overridden. */
export function ourMode(name: string): OurSpec | undefined {
  const [base, ...kv] = name.split('+');
  const m = OUR_MODES[base];
  if (!m) return undefined;
  if (!kv.length) return m;
  const keys = { ...m.keys };
  for (const x of kv) {
    const i = x.indexOf('=');
    if (i <= 0) throw new Error(`mode ${name}: "${x}" is not key=value`);
    keys[x.slice(0, i)] = x.slice(i + 1);
  }
  return { ...m, label: `${m.label} ${kv.join(' ')}`, keys };
}

/** Keeps our socks-server running across modes of one lab (restarted when its config changes). */
export class ModeRunner {
  private server?: Started;
  private certs?: TestCerts;
  private serverKey = '';
  constructor(private lab: Lab, private staleLossCnt?: number) {}

  private redirectTo(port: number): void {
    const r = gatewayCli(this.lab, 'gw', labSetupArgs(this.lab, { redsocksPort: port, staleLossCnt: this.staleLossCnt }), preferCompiled());
    if (r.code !== 0) throw new Error(`mptcp-gateway setup: ${r.err || r.out}`);
  }

  async start(name: string): Promise<Mode> {
    if (name === 'direct') {
      return { name, label: 'direct (isp1)', src: { node: 'gw', local: ADDR.wan1 }, stop: async () => undefined, daemons: [] };
    }
    if (name === 'c') {
      const ds = await startCPair(this.lab);
      this.redirectTo(C_REDSOCKS_PORT);
      return { name, label: 'redsocks+Dante (C)', src: { node: 'lan' }, stop: () => stopAll(ds), daemons: ds };
    }
    const m = ourMode(name);
    if (!m) throw new Error(`unknown mode ${name}`);
    return this.startOurs(name, m);
  }

  /** Our pair in any configuration (the benches' named modes, or a combination of keys). */
  async startOurs(name: string, spec: OurSpec): Promise<Mode> {
    this.certs ??= makeTestCerts(path.join(this.lab.dir, 'certs'), ADDR.server);
    const c = this.certs;
    const serverConf = spec.serverConf ?? 'danted.conf';
    // TLS modes: a TLS listener beside the plain one (the drop-in configs stay untouched otherwise)
    const tlsKeys = { 'extension.tls.internal': `${ADDR.server} port = ${LAB_TLS_PORT}`, 'extension.tls.cert': c.serverCert, 'extension.tls.key': c.serverKey };
    const serverKeys = { ...(spec.tls ? tlsKeys : {}), ...spec.serverKeys };
    const key = JSON.stringify([serverConf, serverKeys]);
    if (!this.server || this.server.proc.exitCode !== null || key !== this.serverKey) {
      await this.server?.stop();
      this.server = await startOurServer(this.lab, serverConf, serverKeys);
      this.serverKey = key;
    }
    const keys = spec.tls ? { ...spec.keys, port: String(LAB_TLS_PORT), tls: 'on', tls_pin: `"${c.serverPin}"` } : spec.keys;
    const rs = await startOurRedsocks(this.lab, keys, OUR_REDSOCKS_PORT, spec.redsocksConf);
    this.redirectTo(OUR_REDSOCKS_PORT);
    return { name, label: spec.label, src: { node: 'lan' }, redsocks: rs, stop: () => rs.stop(), output: rs.output, daemons: this.server ? [rs, this.server] : [rs] };
  }

  /**
   * Runs `fn` with each mode in turn, stopping it afterwards; a mode that cannot start goes to
   * `startFailed` (or throws without it).
   */
  async each(names: string[], fn: (mode: Mode) => Promise<void>, startFailed?: (name: string, e: unknown) => void): Promise<void> {
    for (const name of names) {
      let mode: Mode;
      try {
        mode = await this.start(name);
      } catch (e) {
        if (!startFailed) throw e;
        startFailed(name, e);
        continue;
      }
      try {
        await fn(mode);
      } finally {
        await mode.stop();
      }
    }
  }

  async close(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }
}

/** A lab set up as the README says, a ModeRunner in it, `fn`, then both torn down. */
export async function withModeLab<T>(prof: LabProfile, fn: (lab: Lab, runner: ModeRunner) => Promise<T>): Promise<T> {
  const lab = await Lab.create(prof);
  const runner = new ModeRunner(lab);
  try {
    setupLab(lab, { compiled: preferCompiled() });
    return await fn(lab, runner);
  } finally {
    await runner.close().catch(() => undefined);
    lab.destroy();
  }
}
