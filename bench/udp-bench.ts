/**
 * Issue 13 §2 and §3: LAN UDP and QUIC in the two-ISP lab (equal-20 by default: RTT 40 ms).
 * Prints numbers; never fails on speed.
 *   npx tsx bench/udp-bench.ts [--profile P] [--runs N]
 *
 * A game or a call in miniature: a UDP ping-pong from the LAN (one 64-byte datagram every 20 ms)
 * to an echo at the origin, intercepted by TPROXY (`mptcp-gateway setup --udp-port`).
 * - steady (3 s): round-trip median and datagrams lost; ours (redsocks-ts `redudp {}` +
 *   socks-server, the association's control connection on MPTCP) and the C pair (redsocks 0.5
 *   redudp + Dante, the control connection under mptcpize).
 * - across a cut (N runs each): the ping-pong runs 8 s; 2 s in, the ISP its datagrams use is cut
 *   (ours: the path the association's UDP socket is pinned to; the C pair: the gateway's route to
 *   the server), and restored after the run. The longest stretch without an answer (the gap),
 *   datagrams lost, and whether answers came back while the ISP was still down.
 * - QUIC (the default table rejects LAN UDP/443): 10 probes from the LAN to the origin's UDP 443:
 *   time to the ICMP port-unreachable; then the fallback a browser makes at once, a TCP HTTP
 *   request through the bond (redsocks-ts as flowConf() configures it): time from the QUIC
 *   datagram to the first HTTP byte. Then 20 probes 50 ms apart (a page opening QUIC to many
 *   sites), as setup leaves the kernel (net.ipv4.icmp_ratelimit = 0) and with its default.
 */
import {
  ADDR, C_REDSOCKS_PORT, C_SOCKS_PORT, REDUDP_PORT, UDP_ECHO_PORT, flowConf, median, preferCompiled, runFlowBench, setupLab, sleep,
  startCDante, startCRedsocks, startFlowRedsocks, startUdpEcho, pingPongAcrossCut, udpPathOf, udpPingPong, writeFile, type IspName,
  type Lab, type PingPongResult,
} from '@mptcp-proxy/lab';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const profileName = arg('profile', 'equal-20');
const runs = Number(arg('runs', '3'));
const CUT_AT_MS = 2000;
const RUN_MS = 8000;

/**
 * UDP/443 probes from one LAN client. "fallback N": per probe a datagram, then (once refused)
 * GET /small over TCP, 200 ms apart; "burst N GAP_MS": datagrams only, GAP_MS apart. Prints
 * JSON [[refusedMs | "timeout" | "answered", firstByteMs | null], ...].
 */
const QUIC_PROBE = String.raw`
import json, socket, sys, time
mode, host, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
gap = float(sys.argv[4]) / 1000 if len(sys.argv) > 4 else 0.2
out = []
for i in range(n):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1.0)
    u.connect((host, 443))
    t0 = time.monotonic()
    u.send(b'\xc0' + b'\x00' * 1199)
    try:
        u.recv(2048)
        out.append(['answered', None]); continue
    except ConnectionRefusedError:
        refused = time.monotonic() - t0
    except socket.timeout:
        out.append(['timeout', None]); continue
    finally:
        u.close()
    first = None
    if mode == 'fallback':
        t = socket.create_connection((host, 80), timeout=5)
        t.sendall(b'GET /small HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n')
        t.recv(1)
        first = (time.monotonic() - t0) * 1000
        t.close()
    out.append([refused * 1000, first])
    time.sleep(gap)
print(json.dumps(out))
`;

type Probe = Array<[number | string, number | null]>;

function printProbes(title: string, probes: Probe, rtt: number): void {
  const refused = probes.filter((q): q is [number, number | null] => typeof q[0] === 'number');
  const other = probes.filter((q) => typeof q[0] !== 'number').map((q) => q[0]);
  console.log(`${title}: ${refused.length}/${probes.length} refused${other.length ? ` (others: ${other.join(', ')}; the sequence: ${probes.map((q) => (typeof q[0] === 'number' ? 'R' : String(q[0])[0])).join('')})` : ''}`);
  if (!refused.length) return;
  const ms = refused.map((q) => q[0]);
  console.log(`  ICMP port-unreachable after: median ${median(ms).toFixed(2)} ms, max ${Math.max(...ms).toFixed(2)} ms`);
  const fb = refused.map((q) => q[1]).filter((x): x is number => x !== null);
  if (fb.length) console.log(`  QUIC datagram to the first HTTP byte over bonded TCP: median ${median(fb).toFixed(1)} ms (${(median(fb) / rtt).toFixed(2)} RTT), max ${Math.max(...fb).toFixed(1)} ms`);
}

interface CutRow {
  isp: IspName | '?';
  r: PingPongResult;
}

/** The ISP the gateway's routing sends unbound sockets' datagrams to the server by (the C redsocks). */
function routedIsp(lab: Lab): IspName | undefined {
  const out = lab.exec('gw', `ip route get ${ADDR.server}`);
  return /dev wan1\b/.test(out) ? 'isp1' : /dev wan2\b/.test(out) ? 'isp2' : undefined;
}

async function cutRun(lab: Lab, which: (before: Map<string, string>) => IspName | undefined): Promise<CutRow> {
  const { isp, r } = await pingPongAcrossCut(lab, which, RUN_MS, CUT_AT_MS);
  await sleep(3000); // the path health sees it up again
  return { isp: isp ?? '?', r };
}

function printSteady(name: string, r: PingPongResult, rtt: number): void {
  console.log(`${name.padEnd(34)} rtt p50 ${String(r.rttP50Ms).padStart(6)} ms (${((r.rttP50Ms ?? NaN) / rtt).toFixed(2)} RTT)  first answer ${r.firstAnswerMs} ms  lost ${r.lost}/${r.sent}  longest gap ${r.maxGapMs} ms`);
}

function printCut(name: string, rows: CutRow[]): void {
  for (const { isp, r } of rows) {
    // answers after the gap while the ISP was still down: the gap ended before RUN_MS
    const back = r.gapStartMs + r.maxGapMs < RUN_MS - 200;
    console.log(
      `${name.padEnd(34)} cut ${isp}: gap ${String(r.maxGapMs).padStart(5)} ms  lost ${String(r.lost).padStart(3)}/${r.sent}  ${back ? 'answers came back during the outage' : 'no answer until the end of the run'}`,
    );
  }
  const gaps = rows.map((x) => x.r.maxGapMs);
  console.log(`${name.padEnd(34)} median gap ${median(gaps)} ms, max ${Math.max(...gaps)} ms over ${rows.length} cuts`);
}

async function main(): Promise<void> {
  await runFlowBench(profileName, ['--udp-port', String(REDUDP_PORT)], async ({ lab, prof, rtt, daemons }) => {
    daemons.push(await startUdpEcho(lab));
    console.log(`udp-bench: profile ${prof.name} (${prof.description}); RTT ${rtt} ms; ping-pong every 20 ms; ${runs} cuts per pair, ${CUT_AT_MS} ms into an ${RUN_MS} ms run`);

    // ours
    const ours = await startFlowRedsocks(lab, flowConf({ dns: false }));
    await udpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 1000); // warm-up
    const oursSteady = await udpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 3000);
    const oursCuts: CutRow[] = [];
    for (let i = 0; i < runs; i++) oursCuts.push(await cutRun(lab, (before) => udpPathOf(lab, before)));

    // QUIC, with ours carrying the TCP fallback
    const probe = writeFile(lab.dir, 'quic-probe.py', QUIC_PROBE);
    const quic = JSON.parse(lab.exec('lan', `python3 ${probe} fallback ${ADDR.origin} 10`)) as Probe;
    const burst = JSON.parse(lab.exec('lan', `python3 ${probe} burst ${ADDR.origin} 20 50`)) as Probe;
    // the same with the kernel's default per-host ICMP limit (setup sets 0: 1 s, burst 6)
    lab.exec('gw', 'sysctl -qw net.ipv4.icmp_ratelimit=1000');
    await sleep(7000); // the bucket refills
    const limited = JSON.parse(lab.exec('lan', `python3 ${probe} burst ${ADDR.origin} 20 50`)) as Probe;
    lab.exec('gw', 'sysctl -qw net.ipv4.icmp_ratelimit=0');
    await ours.stop();

    // the C pair: redsocks 0.5 (redsocks + redudp) and Dante
    daemons.push(await startCDante(lab));
    daemons.push(await startCRedsocks(lab, 'redsocks-c-udp-bench.conf', [
      `redudp { local_ip = 0.0.0.0; local_port = ${REDUDP_PORT + 1}; ip = ${ADDR.server}; port = ${C_SOCKS_PORT}; udp_timeout = 30; }`,
    ]));
    setupLab(lab, { compiled: preferCompiled(), redsocksPort: C_REDSOCKS_PORT, extra: ['--udp-port', String(REDUDP_PORT + 1)] });
    await udpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 1000);
    const cSteady = await udpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, 3000);
    const cCuts: CutRow[] = [];
    for (let i = 0; i < runs; i++) cCuts.push(await cutRun(lab, () => routedIsp(lab)));

    console.log('\nsteady');
    printSteady('ours, redudp', oursSteady, rtt);
    printSteady('C pair, redudp + Dante', cSteady, rtt);
    console.log('\nacross a cut of the ISP the datagrams use');
    printCut('ours, redudp', oursCuts);
    printCut('C pair, redudp + Dante', cCuts);
    console.log('\nQUIC (UDP/443 from the LAN, the default table)');
    printProbes('  10 probes 200 ms apart, each followed by the TCP fallback', quic, rtt);
    printProbes('  20 probes 50 ms apart', burst, rtt);
    printProbes('  the same, the kernel\'s default net.ipv4.icmp_ratelimit (1000)', limited, rtt);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

