/**
 * The ways the benches carry LAN traffic, each with its own daemons:
 * direct over one ISP, the C pair (redsocks + Dante under mptcpize), and ours in several
 * configurations (redsocks.conf extension keys overridden per mode).
 */
import { Lab, ADDR } from './lab';
import { gatewayCli, labSetupArgs, preferCompiled, setupLab } from './gateway';
import type { LabProfile } from './profiles';
import { stopAll, type Started } from './daemons';
import { C_REDSOCKS_PORT, OUR_REDSOCKS_PORT, startCPair, startOurRedsocks, startOurServer } from './pairs';
import { Source } from './scenarios';
import { makeTestCerts, type TestCerts } from './certs';
import * as path from 'node:path';

export interface OurMode {
  label: string;
  /** redsocks.conf keys overridden in the config. */
  keys: Record<string, string>;
  /** conf/lab files of both daemons; default the shipped `redsocks.conf` and `danted.conf`. */
  files?: { redsocks: string; server: string };
  /** TLS 1.3 to the server's TLS listener (docs/tls.md). */
  tls?: boolean;
}

export const OUR_MODES: Record<string, OurMode> = {
  'ours-plain': { label: 'ours plain', keys: { optimistic: 'off', fastopen: 'off', pool_size: '0' } },
  'ours-oc': { label: 'ours OC', keys: { optimistic: 'on', fastopen: 'off', pool_size: '0' } },
  'ours-oc-tfo': { label: 'ours OC+TFO', keys: { optimistic: 'on', fastopen: 'on', pool_size: '0' } },
  'ours-oc-pool': { label: 'ours OC+pool', keys: { optimistic: 'on', fastopen: 'off', pool_size: '4' } },
  ours: { label: 'ours (conf/lab/redsocks.conf)', keys: {} },
  // TLS 1.3 to the server's TLS listener (docs/tls.md), the server's certificate pinned
  'ours-plain-tls': { label: 'ours plain+TLS', keys: { optimistic: 'off', fastopen: 'off', pool_size: '0' }, tls: true },
  'ours-oc-tls': { label: 'ours OC+TLS', keys: { optimistic: 'on', fastopen: 'off', pool_size: '0' }, tls: true },
  'ours-oc-pool-tls': { label: 'ours OC+pool+TLS', keys: { optimistic: 'on', fastopen: 'off', pool_size: '4' }, tls: true },
  /** A drop-in user's configs: redsocks 0.5 / Dante 1.4 keys only, every extension at its default. */
  dropin: { label: 'ours, drop-in configs', keys: {}, files: { redsocks: 'redsocks-dropin.conf', server: 'danted-dropin.conf' } },
};

/** The server's TLS listener in the lab (beside the plain one on OUR_SOCKS_PORT). */
export const LAB_TLS_PORT = 1443;

export interface Mode {
  name: string;
  label: string;
  src: Source;
  /** Our redsocks-ts, when this mode runs it (for its SIGUSR1 dump). */
  redsocks?: Started;
  stop(): Promise<void>;
}

/** `ours+pool_size=8+optimistic=off`: one of OUR_MODES with further redsocks.conf keys overridden. */
export function ourMode(name: string): OurMode | undefined {
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

/** Keeps our socks-server running across modes of one lab. */
export class ModeRunner {
  private server?: Started;
  private certs?: TestCerts;
  private serverConf?: string;
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
    const m = ourMode(name);
    if (!m) throw new Error(`unknown mode ${name}`);
    this.certs ??= makeTestCerts(path.join(this.lab.dir, 'certs'), ADDR.server);
    const c = this.certs;
    const serverConf = m.files?.server ?? 'danted.conf';
    if (this.server && (this.server.proc.exitCode !== null || this.serverConf !== serverConf)) await this.close();
    if (!this.server) {
      // the TLS listener only beside the shipped config: a drop-in config keeps Dante's keywords alone
      const tls = serverConf === 'danted.conf'
        ? [`extension.tls.internal: ${ADDR.server} port = ${LAB_TLS_PORT}`, `extension.tls.cert: ${c.serverCert}`, `extension.tls.key: ${c.serverKey}`]
        : [];
      this.server = await startOurServer(this.lab, tls, serverConf);
      this.serverConf = serverConf;
    }
    const keys = m.tls ? { ...m.keys, port: String(LAB_TLS_PORT), tls: 'on', tls_pin: `"${c.serverPin}"` } : m.keys;
    const rs = await startOurRedsocks(this.lab, keys, OUR_REDSOCKS_PORT, m.files?.redsocks);
    this.redirectTo(OUR_REDSOCKS_PORT);
    return { name, label: m.label, src: { node: 'lan' }, redsocks: rs, stop: () => rs.stop() };
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
