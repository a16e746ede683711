/**
 * The ways the benches carry LAN traffic, each with its own daemons:
 * direct over one ISP, the C pair (redsocks + Dante under mptcpize), and ours in several
 * configurations (redsocks.conf extension keys overridden per mode).
 */
import { Lab, ADDR } from './lab';
import { gatewayCli, labSetupArgs, preferCompiled } from './gateway';
import { stopAll, type Started } from './daemons';
import { C_REDSOCKS_PORT, OUR_REDSOCKS_PORT, startCPair, startOurRedsocks, startOurServer } from './pairs';
import { Source } from './scenarios';

export const OUR_MODES: Record<string, { label: string; keys: Record<string, string> }> = {
  'ours-plain': { label: 'ours plain', keys: { optimistic: 'off', fastopen: 'off', pool_size: '0' } },
  'ours-oc': { label: 'ours OC', keys: { optimistic: 'on', fastopen: 'off', pool_size: '0' } },
  'ours-oc-tfo': { label: 'ours OC+TFO', keys: { optimistic: 'on', fastopen: 'on', pool_size: '0' } },
  'ours-oc-pool': { label: 'ours OC+pool', keys: { optimistic: 'on', fastopen: 'off', pool_size: '4' } },
  ours: { label: 'ours (conf/lab/redsocks.conf)', keys: {} },
};

export interface Mode {
  name: string;
  label: string;
  src: Source;
  stop(): Promise<void>;
}

/** Keeps our socks-server running across modes of one lab. */
export class ModeRunner {
  private server?: Started;
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
    if (!this.server || this.server.proc.exitCode !== null) this.server = await startOurServer(this.lab);
    const rs = await startOurRedsocks(this.lab, m.keys);
    this.redirectTo(OUR_REDSOCKS_PORT);
    return { name, label: m.label, src: { node: 'lan' }, stop: () => rs.stop() };
  }

  async close(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }
}
