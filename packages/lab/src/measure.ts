/**
 * Check that each emulated link delivers its configured delay and rate:
 * ping (RTT) and iperf3 up/down from the gateway to the ISP router on that link.
 *   npx tsx packages/lab/src/measure.ts [profile]
 */
import { waitFor } from './wait';
import { Lab, ADDR, IspName, destroyLabsOnSignals } from './lab';
import { rttMs } from './profiles';

export interface LinkMeasure {
  isp: IspName;
  rttMs: number;
  downMbit: number;
  upMbit: number;
}

export async function measureLinks(lab: Lab, seconds = 3): Promise<LinkMeasure[]> {
  const srv = lab.spawn('remote', ['iperf3', '-s', '-p', '5201']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const out: LinkMeasure[] = [];
    for (const isp of ['isp1', 'isp2'] as const) {
      const target = isp === 'isp1' ? ADDR.gw1 : ADDR.gw2;
      const ping = lab.exec('gw', `ping -q -c 5 -i 0.2 ${target}`);
      const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(ping)?.[1] ?? NaN);
      const iperf = (rev: boolean): number => {
        const j = JSON.parse(lab.exec('gw', `iperf3 -J -c ${target} -p 5201 -t ${seconds} -O 1 ${rev ? '-R' : ''}`));
        return j.end.sum_received.bits_per_second / 1e6;
      };
      out.push({ isp, rttMs: avg, downMbit: iperf(true), upMbit: iperf(false) });
    }
    return out;
  } finally {
    srv.kill('SIGKILL');
  }
}

export function formatMeasure(lab: Lab, m: LinkMeasure[]): string {
  const lines = [`profile ${lab.profile.name}: ${lab.profile.description}`];
  lines.push('link  rtt cfg/meas (ms)   down cfg/meas (Mbit/s)   up cfg/meas (Mbit/s)');
  for (const x of m) {
    const p = lab.profile[x.isp];
    lines.push(
      `${x.isp}  ${String(rttMs(p)).padStart(6)} / ${x.rttMs.toFixed(1).padStart(6)}   ` +
        `${String(p.down.rateMbit).padStart(8)} / ${x.downMbit.toFixed(2).padStart(6)}        ` +
        `${String(p.up.rateMbit).padStart(6)} / ${x.upMbit.toFixed(2).padStart(6)}` +
        (p.down.lossPct || p.up.lossPct ? `   (loss ${p.down.lossPct} %/dir: TCP cannot fill it)` : ''),
    );
  }
  return lines.join('\n');
}

if (require.main === module) {
  destroyLabsOnSignals();
  (async () => {
    const names = process.argv.slice(2);
    for (const name of names.length ? names : ['equal-20']) {
      const lab = await Lab.create(name, { origin: false });
      try {
        console.log(formatMeasure(lab, await measureLinks(lab)));
      } finally {
        lab.destroy();
      }
    }
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

/**
 * The MPTCP ceiling of the bonded path (issue 10's acceptance): `mptcpize run iperf3` from the
 * gateway to the remote host over both WANs, down (-R) and up, after `setupLab` (endpoints and
 * routes). The first second (slow start, the second subflow joining) is left out (-O 1).
 */
export async function mptcpCeiling(lab: Lab, seconds = 6): Promise<{ downMbit: number; upMbit: number }> {
  const port = 5202;
  const srv = lab.spawn('remote', ['mptcpize', 'run', 'iperf3', '-s', '-p', String(port), '-B', ADDR.server]);
  try {
    await waitFor(() => lab.exec('remote', `ss -Hltn 'sport = :${port}'`, { allowFail: true }).trim() !== '', 10000, 'iperf3 to listen');
    const iperf = (rev: boolean): number => {
      const j = JSON.parse(lab.exec('gw', `mptcpize run iperf3 -J -c ${ADDR.server} -p ${port} -t ${seconds} -O 1 ${rev ? '-R' : ''}`));
      return j.end.sum_received.bits_per_second / 1e6;
    };
    return { downMbit: iperf(true), upMbit: iperf(false) };
  } finally {
    srv.kill('SIGKILL');
  }
}
