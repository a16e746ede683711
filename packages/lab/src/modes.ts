/**
 * The ways the benches carry LAN traffic, each with its own daemons:
 * direct over one ISP, the C pair (redsocks + Dante under mptcpize), and ours in several
 * configurations (a conf/lab config pair, with redsocks.conf / danted.conf keys overridden).
 */
import { Lab, ADDR } from './lab';
import { gatewayCli, labSetupArgs, preferCompiled } from './gateway';
import { stopAll, type Started } from './daemons';
import { C_REDSOCKS_PORT, OUR_REDSOCKS_PORT, startCPair, startOurRedsocks, startOurServer } from './pairs';
import { Source } from './scenarios';

/** One configuration of our pair: conf/lab files and key overrides (null deletes a key). */
export interface OurSpec {
  label: string;
  /** conf/lab file for redsocks-ts (default redsocks.conf). */
  redsocksConf?: string;
  keys: Record<string, string | null>;
  /** conf/lab file for socks-server (default danted.conf). */
  serverConf?: string;
  serverKeys?: Record<string, string | null>;
}

export const OUR_MODES: Record<string, OurSpec> = {
  'ours-plain': { label: 'ours plain', keys: { optimistic: 'off', fastopen: 'off', pool_size: '0' } },
  'ours-oc': { label: 'ours OC', keys: { optimistic: 'on', fastopen: 'off', pool_size: '0' } },
  'ours-oc-tfo': { label: 'ours OC+TFO', keys: { optimistic: 'on', fastopen: 'on', pool_size: '0' } },
  'ours-oc-pool': { label: 'ours OC+pool', keys: { optimistic: 'on', fastopen: 'off', pool_size: '4' } },
  ours: { label: 'ours (conf/lab/redsocks.conf)', keys: {} },
  // issue 10: a drop-in user's configs, no extension key on either side
  dropin: {
    label: 'ours drop-in (no ext. keys)',
    redsocksConf: 'redsocks-dropin.conf',
    keys: {},
    serverConf: 'danted-dropin.conf',
  },
};

export interface Mode {
  name: string;
  label: string;
  src: Source;
  /** redsocks-ts of this mode (ours only). */
  redsocks?: Started;
  stop(): Promise<void>;
}

/** Keeps our socks-server running across modes of one lab (restarted when its config changes). */
export class ModeRunner {
  private server?: Started;
  private serverKey = '';
  constructor(private lab: Lab, private staleLossCnt?: number) {}

  private redirectTo(port: number): void {
    const r = gatewayCli(this.lab, 'gw', labSetupArgs(this.lab, { redsocksPort: port, staleLossCnt: this.staleLossCnt }), preferCompiled());
    if (r.code !== 0) throw new Error(`mptcp-gateway setup: ${r.err || r.out}`);
  }

  async start(name: string): Promise<Mode> {
    if (name === 'direct') {
      return { name, label: 'direct (isp1)', src: { node: 'gw', local: ADDR.wan1 }, stop: async () => undefined };
    }
    if (name === 'c') {
      const ds = await startCPair(this.lab);
      this.redirectTo(C_REDSOCKS_PORT);
      return { name, label: 'redsocks+Dante (C)', src: { node: 'lan' }, stop: () => stopAll(ds) };
    }
    const m = OUR_MODES[name];
    if (!m) throw new Error(`unknown mode ${name}`);
    return this.startOurs(name, m);
  }

  /** Our pair in any configuration (the benches' named modes, or a combination of keys). */
  async startOurs(name: string, spec: OurSpec): Promise<Mode> {
    const serverConf = spec.serverConf ?? 'danted.conf';
    const key = JSON.stringify([serverConf, spec.serverKeys ?? {}]);
    if (!this.server || this.server.proc.exitCode !== null || key !== this.serverKey) {
      await this.server?.stop();
      this.server = await startOurServer(this.lab, serverConf, spec.serverKeys);
      this.serverKey = key;
    }
    const rs = await startOurRedsocks(this.lab, spec.keys, OUR_REDSOCKS_PORT, spec.redsocksConf);
    this.redirectTo(OUR_REDSOCKS_PORT);
    return { name, label: spec.label, src: { node: 'lan' }, redsocks: rs, stop: () => rs.stop() };
  }

  async close(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }
}
