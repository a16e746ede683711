/**
 * redudp in the two-ISP lab (mptcp-gateway setup --udp-port: LAN UDP by TPROXY): a UDP
 * ping-pong from the LAN to an echo behind the SOCKS server keeps working when the ISP its
 * association uses is cut (the flow moves to the other path; the gap is printed, the bench
 * bench/udp-bench.ts measures it); interop with Dante's UDP ASSOCIATE; the C redsocks'
 * redudp through our socks-server. Functional only: no timing asserts beyond "it came back".
 */

import {
  ADDR, C_SOCKS_PORT, Lab, OUR_SOCKS_PORT, REDUDP_PORT, UDP_ECHO_PORT, flowConf, oursBuilt, profile, setupLab, startCDante,
  startCRedsocks, startFlowRedsocks, startOurServer, startUdpEcho, pingPongAcrossCut, stopAll, udpPathOf, udpPingPong, type Started,
} from '@mptcp-proxy/lab';

let lab: Lab;
const daemons: Started[] = [];
let redsocks: Started | undefined;

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
  const { isp, r, before } = await pingPongAcrossCut(lab, (b) => udpPathOf(lab, b), 6000, 1500);
  expect(isp).toBeDefined();
  process.stdout.write(`redudp across a cut of ${isp}: ${JSON.stringify(r)}\n`);
  // the flow moved and answers came back after the cut
  expect(r.received).toBeGreaterThan(r.sent / 2);
  expect(r.gapStartMs).toBeGreaterThan(1000);
  expect(r.maxGapMs).toBeLessThan(4000);
  expect(redsocks.output()).toMatch(/moved to path isp[12]/);
  expect(udpPathOf(lab, before)).not.toBe(isp);
}, 60000);

test('a live flow whose answers stop moves at once, without waiting for the path probes (here every 5 s)', async () => {
  await redsocks?.stop();
  redsocks = await startFlowRedsocks(lab, flowConf({ dns: false, probeInterval: 5000, probeTimeout: 5000 }), 'redsocks-slow-probes.conf');
  await udpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 1000);
  const { isp, r } = await pingPongAcrossCut(lab, (b) => udpPathOf(lab, b), 5000, 1500);
  expect(isp).toBeDefined();
  process.stdout.write(`redudp across a cut of ${isp}, probes every 5 s: ${JSON.stringify(r)}\n`);
  expect(r.received).toBeGreaterThan(r.sent / 2);
  // the probes' verdict would take two 5 s timeouts; the flow's own stall moved it
  expect(r.maxGapMs).toBeLessThan(3000);
  // (the idle warm-up flow stays on the cut path until the probes say it is down)
  expect(redsocks.output()).toMatch(new RegExp(`moved to path isp[12] .*: no answer for \\d+ ms on path ${isp}`));
}, 60000);

test("interop: redudp through Dante's UDP ASSOCIATE", async () => {
  await redsocks?.stop();
  daemons.push(await startCDante(lab));
  redsocks = await startFlowRedsocks(lab, flowConf({ dns: false, socksPort: C_SOCKS_PORT }), 'redsocks-dante.conf');
  const r = await udpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 2000);
  expect(r.received).toBeGreaterThan(r.sent - 5);
  await redsocks.stop();
  redsocks = undefined;
}, 60000);

test("interop: the C redsocks' redudp through our socks-server", async () => {
  const port = REDUDP_PORT + 1;
  const c = await startCRedsocks(lab, 'redsocks-c-udp.conf', [
    `redudp { local_ip = 0.0.0.0; local_port = ${port}; ip = ${ADDR.server}; port = ${OUR_SOCKS_PORT}; udp_timeout = 10; }`,
  ], { socksPort: OUR_SOCKS_PORT, logInfo: true });
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
