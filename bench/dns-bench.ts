/**
 * Issue 13 §1: LAN DNS in the two-ISP lab (equal-20 by default: RTT 40 ms), dig on the LAN,
 * unbound at the server's site. Prints numbers; never fails on speed.
 *   npx tsx bench/dns-bench.ts [--profile P] [--queries N] [--warmup N]
 *
 * Rows, each the median dig query time of N names nobody asked before (every query crosses
 * the WAN), in ms and in WAN RTTs:
 * - direct: dig from the gateway itself to the resolver over isp1 (no proxy; the floor, 1 RTT);
 * - ours, forwarder: the `dns {}` forwarder, warm pooled MPTCP tunnels (cache on: unique names
 *   miss it, so this is the tunnel's time);
 * - ours, cache hit: the same names again;
 * - C pair, dnstc: redsocks 0.5's dnstc + redsocks + Dante under mptcpize; dig without EDNS/AD
 *   (what dnstc answers) gets TC, then asks over TCP: a new TCP and SOCKS connection per query;
 * - C pair, TCP: dig +tcp through redsocks + Dante (the same, without the UDP round trip).
 * Then the outage rows: N queries while isp1, then isp2, is down (answered of N, median, max).
 */
import {
  ADDR, C_REDSOCKS_PORT, DNS_PORT, type Lab, digAsync, flowConf, median, preferCompiled, runFlowBench, setupLab, startCDante,
  startCRedsocks, startFlowRedsocks, startLabResolver, stopAll, type DigOptions, type IspName,
} from '@mptcp-proxy/lab';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const profileName = arg('profile', 'equal-20');
const queries = Number(arg('queries', '30'));
const warmup = Number(arg('warmup', '5'));
let seq = 0;

interface Row {
  mode: string;
  answered: number;
  total: number;
  medianMs: number;
  maxMs: number;
}

async function series(lab: Lab, mode: string, node: 'lan' | 'gw', server: string, o: DigOptions, names?: string[]): Promise<Row> {
  const list = names ?? Array.from({ length: queries }, () => `b${seq++}.bench.lab`);
  const ms: number[] = [];
  let answered = 0;
  for (const name of list) {
    const r = await digAsync(lab.ns[node], server, 53, name, { time: 2, tries: 2, ...o });
    if (r.status === 'NOERROR' || r.status === 'NXDOMAIN') {
      answered++;
      ms.push(r.ms);
    }
  }
  return { mode, answered, total: list.length, medianMs: ms.length ? median(ms) : NaN, maxMs: ms.length ? Math.max(...ms) : NaN };
}

function print(r: Row, rtt: number, ref?: Row): void {
  const ratio = ref && Number.isFinite(ref.medianMs) && r.medianMs > 0 ? `  ${(ref.medianMs / r.medianMs).toFixed(2)}x faster than the C pair` : '';
  console.log(
    `${r.mode.padEnd(30)} ${String(r.medianMs).padStart(6)} ms  ${(r.medianMs / rtt).toFixed(2).padStart(5)} RTT  max ${String(r.maxMs).padStart(5)} ms  answered ${r.answered}/${r.total}${ratio}`,
  );
}

async function main(): Promise<void> {
  await runFlowBench(profileName, ['--dns-port', String(DNS_PORT)], async ({ lab, prof, rtt, daemons }) => {
    daemons.push(await startLabResolver(lab));
    const ours = await startFlowRedsocks(lab, flowConf());
    daemons.push(ours);
    console.log(`dns-bench: profile ${prof.name} (${prof.description}); RTT ${rtt} ms; ${queries} queries per row after ${warmup} warm-up`);
    console.log('mode                           median          in RTTs');

    await series(lab, 'warm-up', 'gw', ADDR.origin, {}, Array.from({ length: warmup }, () => `w${seq++}.bench.lab`));
    print(await series(lab, 'direct (gateway, isp1)', 'gw', ADDR.origin, {}), rtt);

    await series(lab, 'warm-up', 'lan', '8.8.8.8', {}, Array.from({ length: warmup }, () => `w${seq++}.bench.lab`));
    const names = Array.from({ length: queries }, () => `f${seq++}.bench.lab`);
    const fwd = await series(lab, 'ours, forwarder', 'lan', '8.8.8.8', {}, names);
    const hit = await series(lab, 'ours, cache hit', 'lan', '8.8.8.8', {}, names);
    const fwdTcp = await series(lab, 'ours, forwarder, dig +tcp', 'lan', '8.8.8.8', { tcp: true });

    // The C pair: dnstc for UDP 53, TCP 53 REDIRECTed into redsocks like any TCP
    await ours.stop();
    daemons.pop();
    daemons.push(await startCDante(lab));
    daemons.push(await startCRedsocks(lab, 'redsocks-c-dnstc.conf', ['dnstc { local_ip = 0.0.0.0; local_port = 5301; }']));
    setupLab(lab, { compiled: preferCompiled(), redsocksPort: C_REDSOCKS_PORT });
    lab.exec('gw', "nft add table ip dnstc_bench && nft add chain ip dnstc_bench pre '{ type nat hook prerouting priority dstnat - 1; }' && nft add rule ip dnstc_bench pre iifname lan0 udp dport 53 redirect to :5301");
    await series(lab, 'warm-up', 'lan', ADDR.origin, { edns: false, noAdFlag: true }, Array.from({ length: warmup }, () => `w${seq++}.bench.lab`));
    const cUdp = await series(lab, 'C pair, dnstc (UDP, TC, TCP)', 'lan', ADDR.origin, { edns: false, noAdFlag: true });
    const cTcp = await series(lab, 'C pair, dig +tcp', 'lan', ADDR.origin, { tcp: true });
    print(fwd, rtt, cUdp);
    print(fwdTcp, rtt, cTcp);
    print(hit, rtt);
    print(cUdp, rtt);
    print(cTcp, rtt);

    // Outages, ours again
    lab.exec('gw', 'nft delete table ip dnstc_bench');
    await stopAll(daemons.splice(daemons.length - 2, 2));
    setupLab(lab, { compiled: preferCompiled(), extra: ['--dns-port', String(DNS_PORT)] });
    daemons.push(await startFlowRedsocks(lab, flowConf(), 'redsocks-outage.conf'));
    await series(lab, 'warm-up', 'lan', '8.8.8.8', {}, Array.from({ length: warmup }, () => `w${seq++}.bench.lab`));
    console.log(`outages: ${queries} queries each while one ISP is down (the first query starts at the cut)`);
    for (const isp of ['isp1', 'isp2'] as IspName[]) {
      await lab.cut(isp);
      try {
        print(await series(lab, `ours, ${isp} down`, 'lan', '8.8.8.8', {}), rtt);
      } finally {
        await lab.restore(isp);
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
