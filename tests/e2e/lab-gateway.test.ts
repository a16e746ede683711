/**
 * mptcp-gateway in the lab: setup then doctor is clean; every broken setting is caught;
 * setup is idempotent; --dry-run changes nothing; --undo reverses.
 */
import * as path from 'node:path';
import { waitFor, Lab, ADDR, gatewayCli, labSetupArgs, REDSOCKS_PORT, SOCKS_PORT } from '@mptcp-proxy/lab';

interface Finding {
  id: string;
  level: 'ok' | 'warn' | 'fail';
  title: string;
  fix?: string;
}

describe('mptcp-gateway setup and doctor in the lab', () => {
  let lab: Lab;
  const doctor = (extra: string[] = []): Finding[] => {
    const r = gatewayCli(lab, 'gw', ['doctor', '--json', '--server', `${ADDR.server}:${SOCKS_PORT}`, '--redsocks-port', String(REDSOCKS_PORT), ...extra]);
    return JSON.parse(r.out) as Finding[];
  };
  const fails = (f: Finding[]): string[] => f.filter((x) => x.level === 'fail').map((x) => x.id);
  const serverDoctor = (): Finding[] =>
    JSON.parse(gatewayCli(lab, 'remote', ['doctor', '--json', '--role', 'server', '--listen', `${ADDR.server}:${SOCKS_PORT}`]).out) as Finding[];

  beforeAll(async () => {
    lab = await Lab.create('fast', { origin: false });
    // Stand-ins for the daemons: an MPTCP listener on the server, a listener on the redirect port.
    lab.spawn('remote', ['mptcpize', 'run', 'ncat', '-lk', ADDR.server, String(SOCKS_PORT)]);
    lab.spawn('gw', ['ncat', '-lk', '0.0.0.0', String(REDSOCKS_PORT)]);
    await waitFor(() => lab.exec('remote', `ss -MltnH`).includes(`:${SOCKS_PORT}`), 5000, 'server listener');
  });
  afterAll(() => lab?.destroy());

  test('--dry-run prints the commands with reasons and changes nothing', () => {
    const r = gatewayCli(lab, 'gw', [...labSetupArgs(lab), '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('ip mptcp endpoint add 10.0.2.2 dev wan2 subflow');
    expect(r.out).toContain('why:');
    expect(lab.exec('gw', 'ip mptcp endpoint show').trim()).toBe('');
    expect(lab.exec('gw', 'ip rule show')).not.toContain('10.0.2.2');
  });

  test('before setup, doctor finds the gateway unconfigured', () => {
    const f = fails(doctor());
    expect(f).toEqual(expect.arrayContaining(['endpoints', 'redirect']));
  });

  test('setup, then doctor reports clean (gateway and server)', () => {
    const g = gatewayCli(lab, 'gw', labSetupArgs(lab));
    expect(g.code).toBe(0);
    const s = gatewayCli(lab, 'remote', ['setup', '--role', 'server', '--state', path.join(lab.dir, 'srv.json')]);
    expect(s.code).toBe(0);
    const f = doctor();
    expect(fails(f)).toEqual([]);
    expect(f.filter((x) => x.id === 'server-path' && x.level === 'ok')).toHaveLength(2);
    expect(fails(serverDoctor())).toEqual([]);
    const text = gatewayCli(lab, 'gw', ['doctor', '--server', `${ADDR.server}:${SOCKS_PORT}`]);
    expect(text.code).toBe(0);
    expect(text.out).toContain('no problems found');
  });

  test('setup is idempotent', () => {
    const again = gatewayCli(lab, 'gw', labSetupArgs(lab));
    expect(again.code).toBe(0);
    expect(again.out).toContain('nothing to do');
  });

  const broken: Array<[string, string, string, string]> = [
    ['a deleted policy rule', `ip rule del from ${ADDR.wan2} lookup 102`, 'endpoint-route', ''],
    ['MPTCP limits 0', 'ip mptcp limits set subflow 0 add_addr_accepted 0', 'limits', ''],
    ['a removed redirect', 'nft delete table inet mptcp_gateway', 'redirect', ''],
    ['MPTCP disabled', 'sysctl -qw net.mptcp.enabled=0', 'mptcp-enabled', ''],
    ['tcp_fastopen 0', 'sysctl -qw net.ipv4.tcp_fastopen=0', 'tfo', ''],
  ];
  test.each(broken)('doctor catches %s, and setup repairs it', (_what, breakCmd, id) => {
    lab.exec('gw', breakCmd);
    const f = doctor().filter((x) => x.level === 'fail');
    expect(f.map((x) => x.id)).toContain(id);
    expect(f.find((x) => x.id === id)?.fix).toBeTruthy();
    expect(gatewayCli(lab, 'gw', labSetupArgs(lab)).code).toBe(0);
    expect(fails(doctor())).toEqual([]);
  });

  test('doctor catches a dead path to the server', async () => {
    await lab.cut('isp2');
    try {
      const f = doctor();
      const bad = f.filter((x) => x.id === 'server-path' && x.level === 'fail');
      expect(bad).toHaveLength(1);
      expect(bad[0].title).toContain(ADDR.wan2);
    } finally {
      await lab.restore('isp2');
    }
  });

  test('blackhole detection: doctor warns, setup turns it off', () => {
    lab.exec('gw', 'sysctl -qw net.mptcp.blackhole_timeout=3600');
    const f = doctor().find((x) => x.id === 'mptcp-blackhole');
    expect(f?.level).toBe('warn');
    expect(f?.fix).toBe('sysctl -w net.mptcp.blackhole_timeout=0');
    expect(gatewayCli(lab, 'gw', labSetupArgs(lab)).code).toBe(0);
    expect(lab.exec('gw', 'sysctl -n net.mptcp.blackhole_timeout').trim()).toBe('0');
    expect(doctor().find((x) => x.id === 'mptcp-blackhole')?.level).toBe('ok');
  });

  test('an ISP that comes back between MP_CAPABLE SYN retries switches MPTCP off unless setup turned the detection off', async () => {
    const mib = (): Record<string, number> => {
      const [k, v] = lab.exec('gw', 'cat /proc/net/netstat').split('\n').filter((l) => l.startsWith('MPTcpExt:'));
      const keys = k.split(/\s+/);
      const vals = v.split(/\s+/).map(Number);
      return Object.fromEntries(keys.map((x, i) => [x, vals[i]]));
    };
    // One connect from isp1's address while isp1 is cut: its SYNs with MP_CAPABLE at 0, 1 and
    // 2 s are lost (tcp_syn_linear_timeouts); after that second retransmission the kernel sends
    // the next SYN (3 s) without MP_CAPABLE, and isp1 is back by then, so that one is answered.
    const connectThroughCut = async (): Promise<void> => {
      await lab.cut('isp1');
      const syn0 = mib().MPCapableSYNTX;
      const c = lab.spawn('gw', ['mptcpize', 'run', 'ncat', '--send-only', '-w', '10', '-s', ADDR.wan1, ADDR.server, String(SOCKS_PORT)], { stdio: ['pipe', 'ignore', 'ignore'] });
      c.stdin?.end();
      // Time from the first SYN, not from the spawn (process start-up varies on a loaded host).
      await waitFor(() => mib().MPCapableSYNTX > syn0, 5000, 'the first MP_CAPABLE SYN');
      await new Promise((r) => setTimeout(r, 2500));
      await lab.restore('isp1');
      await new Promise((r) => c.once('exit', r));
    };
    const newMptcpConnect = (): void => {
      lab.exec('gw', `echo | mptcpize run ncat --send-only -w 5 -s ${ADDR.wan1} ${ADDR.server} ${SOCKS_PORT}`, { allowFail: true });
    };
    lab.exec('gw', 'sysctl -qw net.mptcp.blackhole_timeout=3600');
    try {
      const m0 = mib();
      await connectThroughCut();
      const m1 = mib();
      expect(m1.MPCapableSYNTXDrop - m0.MPCapableSYNTXDrop).toBeGreaterThanOrEqual(1);
      newMptcpConnect();
      expect(mib().MPCapableSYNTXDisabled - m1.MPCapableSYNTXDisabled).toBeGreaterThanOrEqual(1);
      const f = doctor().find((x) => x.id === 'mptcp-blackhole');
      expect(f?.level).toBe('fail');
      expect(f?.title).toContain('switched off');
    } finally {
      expect(gatewayCli(lab, 'gw', labSetupArgs(lab)).code).toBe(0);
    }
    // With the detection off (setup's value) the same sequence leaves MPTCP on.
    await connectThroughCut();
    const m2 = mib();
    newMptcpConnect();
    const m3 = mib();
    expect(m3.MPCapableSYNTXDisabled - m2.MPCapableSYNTXDisabled).toBe(0);
    expect(m3.MPCapableSYNACKRX - m2.MPCapableSYNACKRX).toBe(1);
  });

  test('doctor catches a live connection that is plain TCP', async () => {
    const c = lab.spawn('gw', ['ncat', '--recv-only', ADDR.server, String(SOCKS_PORT)]);
    try {
      await waitFor(() => lab.exec('gw', `ss -tnH state established dst ${ADDR.server}`).trim() !== '', 5000, 'plain connection');
      expect(fails(doctor())).toContain('fallback');
    } finally {
      c.kill('SIGKILL');
    }
  });

  test('server doctor catches a plain-TCP listener and refused joins', () => {
    lab.exec('remote', 'ip mptcp limits set subflow 0 add_addr_accepted 0');
    expect(fails(serverDoctor())).toContain('limits');
    lab.exec('remote', 'ip mptcp limits set subflow 2 add_addr_accepted 2');
    const plainPort = SOCKS_PORT + 1;
    const p = lab.spawn('remote', ['ncat', '-lk', ADDR.server, String(plainPort)]);
    try {
      const r = gatewayCli(lab, 'remote', ['doctor', '--json', '--role', 'server', '--listen', `${ADDR.server}:${plainPort}`]);
      const f = JSON.parse(r.out) as Finding[];
      // ncat may not be listening yet on the first try; either way the listener is not MPTCP.
      expect(f.find((x) => x.id === 'listener')?.level).toBe('fail');
    } finally {
      p.kill('SIGKILL');
    }
  });

  test('--undo puts the gateway back', () => {
    const r = gatewayCli(lab, 'gw', [...labSetupArgs(lab), '--undo']);
    expect(r.code).toBe(0);
    expect(lab.exec('gw', 'ip mptcp endpoint show').trim()).toBe('');
    expect(lab.exec('gw', 'ip rule show')).not.toContain(ADDR.wan2);
    expect(lab.exec('gw', 'nft list ruleset')).not.toContain('mptcp_gateway');
    expect(lab.exec('gw', 'sysctl -n net.mptcp.stale_loss_cnt').trim()).toBe('4');
    expect(lab.exec('gw', 'sysctl -n net.mptcp.blackhole_timeout').trim()).toBe('3600');
  });
});
