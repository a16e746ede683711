/**
 * redudp in the two-ISP lab (mptcp-gateway setup --udp-port: LAN UDP by TPROXY): a UDP
 * ping-pong from the LAN to an echo behind the SOCKS server keeps working when the ISP its
 * association uses is cut (the flow moves to the other path; the gap is printed, the bench
 * bench/udp-bench.ts measures it); interop with Dante's UDP ASSOCIATE; the C redsocks'
 * redudp through our socks-server. Functional only: no timing asserts beyond "it came back".
 */

import {
  ADDR, C_SOCKS_PORT, Lab, REDUDP_PORT, UDP_ECHO_PORT, flowConf, labConf, oursBuilt, profile, setupLab, startDaemon,
  startFlowRedsocks, startOurServer, startUdpEcho, startUdpPingPong, stopAll, udpPingPong, writeFile, type IspName, type Started,
} from '@mptcp-proxy/lab';

let lab: Lab;
const daemons: Started[] = [];
let redsocks: Started | undefined;

/** The ISP whose source address the association's UDP socket uses (ss in the gateway). */
function associationIsp(): IspName | undefined {
  // a socket pinned to a path shows as ADDR%DEV:PORT
  const out = lab.exec('gw', 'ss -Huan');
  for (const [isp, addr] of [['isp1', ADDR.wan1], ['isp2', ADDR.wan2]] as const) {
    if (new RegExp(`\\s${addr.replace(/\./g, '\\.')}(%\\w+)?:\\d+\\s`).test(out)) return isp;
  }
  return undefined;
}

beforeAll(async () => {
  const built = oursBuilt();
  if (!built.ok) throw new Error(`the daemons must be built first: ${built.why}`);
  lab = await Lab.create(profile('fast'));
  setupLab(lab, { extra: ['--udp-port', String(REDUDP_PORT)] });
  daemons.push(await startOurServer(lab));
  daemons.push(await startUdpEcho(lab));
}, 60000);

afterAll(async () => {
  await stopAll([...(redsocks ? [redsocks] : []), ...daemons]).catch(() => undefined);
  lab?.destroy();
});

test('a UDP ping-pong through redudp keeps going when its ISP is cut', async () => {
  redsocks = await startFlowRedsocks(lab, flowConf({ dns: false, probeInterval: 200, probeTimeout: 300 }));
  const warm = await udpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 1000);
  // answers came back (a new flow's first datagrams beyond the 5 that wait while its association
  // opens are dropped, as in redsocks: on a loaded machine that can be a few)
  expect(warm.received).toBeGreaterThan(warm.sent / 2);
  const running = startUdpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 6000);
  await running.sending;
  await new Promise((r) => setTimeout(r, 1500));
  const isp = associationIsp();
  expect(isp).toBeDefined();
  await lab.cut(isp!);
  try {
    const r = await running.result;
    process.stdout.write(`redudp across a cut of ${isp}: ${JSON.stringify(r)}\n`);
    // the flow moved and answers came back after the cut
    expect(r.received).toBeGreaterThan(r.sent / 2);
    expect(r.gapStartMs).toBeGreaterThan(1000);
    expect(r.maxGapMs).toBeLessThan(4000);
    expect(redsocks.output()).toMatch(/moved to path isp[12]/);
    expect(associationIsp()).not.toBe(isp);
  } finally {
    await lab.restore(isp!);
  }
}, 60000);

test("interop: redudp through Dante's UDP ASSOCIATE", async () => {
  await redsocks?.stop();
  const dante = await startDaemon(lab.ns.remote, 'danted (C)', ['mptcpize', 'run', 'danted', '-f', labConf(lab, 'danted-c.conf')], C_SOCKS_PORT);
  daemons.push(dante);
  redsocks = await startFlowRedsocks(lab, flowConf({ dns: false, socksPort: C_SOCKS_PORT }), 'redsocks-dante.conf');
  const r = await udpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 2000);
  expect(r.received).toBeGreaterThan(r.sent - 5);
  await redsocks.stop();
  redsocks = undefined;
}, 60000);

test("interop: the C redsocks' redudp through our socks-server", async () => {
  const port = REDUDP_PORT + 1;
  const conf = writeFile(lab.dir, 'redsocks-c-udp.conf', [
    'base { log_debug = off; log_info = on; log = stderr; daemon = off; redirector = iptables; }',
    'redsocks { local_ip = 0.0.0.0; local_port = 12346; ip = 10.9.0.1; port = 1080; type = socks5; }',
    `redudp { local_ip = 0.0.0.0; local_port = ${port}; ip = ${ADDR.server}; port = 1080; udp_timeout = 10; }`,
    '',
  ].join('\n'));
  const c = await startDaemon(lab.ns.gw, 'redsocks (C)', ['mptcpize', 'run', 'redsocks', '-c', conf], 12346);
  try {
    setupLab(lab, { extra: ['--udp-port', String(port)] });
    const r = await udpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 2000);
    expect(r.received).toBeGreaterThan(r.sent - 5);
    expect(c.output()).toContain('Starting UDP relay');
  } finally {
    await c.stop();
    setupLab(lab, { extra: ['--udp-port', String(REDUDP_PORT)] });
  }
}, 60000);
