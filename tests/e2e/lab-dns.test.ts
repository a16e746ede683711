/**
 * LAN DNS in the two-ISP lab, with dig on the LAN and Debian's unbound at the server's site:
 * - the `dns {}` forwarder (mptcp-gateway setup --dns-port): any LAN query, UDP or TCP, is
 *   answered through the MPTCP tunnels; 20 of 20 queries during an outage of either ISP;
 * - dnstc, ours and the C redsocks': dig without EDNS gets TC, asks again over TCP, and that
 *   TCP goes through the SOCKS pair like any other connection.
 * Functional only (the query times are measured by bench/dns-bench.ts).
 */
import {
  ADDR, C_REDSOCKS_PORT, DNS_PORT, Lab, digAsync, flowConf, oursBuilt, profile, setupLab, startCDante, startCRedsocks,
  startFlowRedsocks, startLabResolver, startOurServer, stopAll, type IspName, type Started,
} from '@mptcp-proxy/lab';

let lab: Lab;
const daemons: Started[] = [];

beforeAll(async () => {
  const built = oursBuilt();
  if (!built.ok) throw new Error(`the daemons must be built first: ${built.why}`);
  lab = await Lab.create(profile('fast'));
  setupLab(lab, { extra: ['--dns-port', String(DNS_PORT)] });
  daemons.push(await startOurServer(lab));
  daemons.push(await startLabResolver(lab));
  daemons.push(await startFlowRedsocks(lab, flowConf({ probeInterval: 200, probeTimeout: 300 })));
}, 60000);

afterAll(async () => {
  await stopAll(daemons).catch(() => undefined);
  lab?.destroy();
});

test('any LAN query, UDP or TCP, to any resolver address, is answered through the tunnel', async () => {
  const r = await digAsync(lab.ns.lan, '8.8.8.8', 53, 'www.lab');
  expect(r.status).toBe('NOERROR');
  expect(r.answers).toEqual([ADDR.origin]);
  const t = await digAsync(lab.ns.lan, ADDR.gwLan, 53, 'v6.lab', { type: 'AAAA', tcp: true });
  expect(t.answers).toEqual(['2001:db8:9::2']);
  const big = await digAsync(lab.ns.lan, '8.8.8.8', 53, 'big.lab', { type: 'TXT' });
  expect(big.retriedTcp).toBe(true);
  expect(big.answers).toHaveLength(12);
});

test.each(['isp1', 'isp2'] as IspName[])('20 of 20 queries are answered while %s is down', async (isp) => {
  await lab.cut(isp);
  try {
    let answered = 0;
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      // a name nobody asked before: each query crosses the tunnel (NXDOMAIN is an answer too)
      const r = await digAsync(lab.ns.lan, '8.8.8.8', 53, `${isp}-outage-${i}.lab`, { time: 2, tries: 2 });
      if (r.status === 'NXDOMAIN' || r.status === 'NOERROR') answered++;
      times.push(r.ms);
    }
    process.stdout.write(`DNS with ${isp} down: ${answered}/20 answered, query times ${times.join(' ')} ms\n`);
    expect(answered).toBe(20);
  } finally {
    await lab.restore(isp);
  }
}, 120000);

describe('dnstc (redsocks 0.5): TC over UDP, then the query over TCP through the SOCKS pair', () => {
  const DNSTC_PORT = 5300;
  /** LAN UDP 53 to the dnstc port (setup's --dns-port would send it to the forwarder instead). */
  function redirectUdp53(port: number): void {
    lab.exec('gw', `nft delete table ip dnstc_lab 2>/dev/null; nft add table ip dnstc_lab && nft add chain ip dnstc_lab pre '{ type nat hook prerouting priority dstnat - 1; }' && nft add rule ip dnstc_lab pre iifname lan0 udp dport 53 redirect to :${port}`);
  }

  test('ours', async () => {
    setupLab(lab); // TCP to redsocks-ts on 12345, DNS no longer to the forwarder
    const rs = daemons.pop()!;
    await rs.stop();
    const conf = flowConf({ dns: false }).replace('redudp {', `dnstc {\n  local_ip = 0.0.0.0;\n  local_port = ${DNSTC_PORT};\n}\nredudp {`);
    const ours = await startFlowRedsocks(lab, conf, 'redsocks-dnstc.conf');
    daemons.push(ours);
    redirectUdp53(DNSTC_PORT);
    const r = await digAsync(lab.ns.lan, ADDR.origin, 53, 'www.lab', { edns: false, noAdFlag: true });
    expect(r.retriedTcp).toBe(true);
    expect(r.answers).toEqual([ADDR.origin]);
    expect(ours.output()).toContain('sent truncated DNS reply');
    // dig's defaults (EDNS, AD) are "malformed" for dnstc, as for redsocks: no answer at all
    const d = await digAsync(lab.ns.lan, ADDR.origin, 53, 'www.lab', { time: 1 });
    expect(d.status).toBe('');
    expect(ours.output()).toContain('malformed DNS request');
  });

  test('the C redsocks 0.5 with Dante: the same', async () => {
    daemons.push(await startCDante(lab));
    const c = await startCRedsocks(lab, 'redsocks-c-dnstc.conf', [`dnstc { local_ip = 0.0.0.0; local_port = ${DNSTC_PORT + 1}; }`], { logInfo: true });
    daemons.push(c);
    setupLab(lab, { redsocksPort: C_REDSOCKS_PORT });
    redirectUdp53(DNSTC_PORT + 1);
    const r = await digAsync(lab.ns.lan, ADDR.origin, 53, 'www.lab', { edns: false, noAdFlag: true });
    expect(r.retriedTcp).toBe(true);
    expect(r.answers).toEqual([ADDR.origin]);
    expect(c.output()).toContain('sent truncated DNS reply');
  });
});
