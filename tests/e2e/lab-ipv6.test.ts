/**
 * IPv6 in a dual-stack lab (Lab.create(p, { ipv6 })), one case per promise of issue 13 §4:
 * - LAN IPv6 TCP is intercepted (inet table, REDIRECT) and reaches an IPv6 destination through
 *   SOCKS5 address type 4, the socks-server dialing IPv6, over IPv4-only WANs ('lan' mode);
 * - LAN IPv6 UDP goes through redudp the same way;
 * - MPTCP subflows over IPv6 WAN addresses, when the ISPs provide them ('dual' mode), carrying
 *   IPv6 and IPv4 destinations alike;
 * - an IPv6 listener and upstream address in redsocks.conf.
 */
import {
  ADDR, ADDR6, IFACES, Lab, REDUDP_PORT, flowConf, oursBuilt, profile, setupLab, startDaemon, startFlowRedsocks, startUdpEcho,
  stopAll, udpPingPong, waitFor, writeFile, ROOT, type Started,
} from '@mptcp-proxy/lab';
import * as path from 'node:path';

const ORIGIN6 = `http://[${ADDR6.origin}]/`;

function socksConf(lab: Lab, internal6: boolean): string {
  return writeFile(lab.dir, `danted-v6-${internal6 ? 'dual' : 'lan'}.conf`, [
    'logoutput: stderr',
    `internal: ${ADDR.server} port = 1080`,
    ...(internal6 ? [`internal: ${ADDR6.server} port = 1080`] : []),
    'external: o0',
    'socksmethod: none',
    'clientmethod: none',
    'extension.mptcp: on',
    'client pass {',
    '  from: 0/0 to: 0/0',
    '}',
    'socks pass {',
    '  from: 0/0 to: 0/0',
    '  log: connect disconnect',
    '}',
    '',
  ].join('\n'));
}

async function startServer(lab: Lab, internal6: boolean): Promise<Started> {
  return startDaemon(lab.ns.remote, 'socks-server', ['node', path.join(ROOT, 'packages/socks-server/dist/cli.js'), '-f', socksConf(lab, internal6)], 1080);
}

function curl(lab: Lab, url: string, extra = ''): string {
  return lab.exec('lan', `curl -s -g -o /dev/null -w '%{http_code}' --max-time 10 ${extra} '${url}' || true`).trim();
}

beforeAll(() => {
  const built = oursBuilt();
  if (!built.ok) throw new Error(`the daemons must be built first: ${built.why}`);
});

describe("'lan' mode: IPv6 on the LAN and at the destination, IPv4-only ISPs", () => {
  let lab: Lab;
  const daemons: Started[] = [];
  beforeAll(async () => {
    lab = await Lab.create(profile('fast'), { ipv6: 'lan' });
    setupLab(lab, { extra: ['--udp-port', String(REDUDP_PORT)] });
    daemons.push(await startServer(lab, false));
    daemons.push(await startUdpEcho(lab, ADDR6.origin));
    daemons.push(await startFlowRedsocks(lab, flowConf({ dns: false })));
  }, 60000);
  afterAll(async () => {
    await stopAll(daemons).catch(() => undefined);
    lab?.destroy();
  });

  test('LAN IPv6 TCP to an IPv6 destination: intercepted, ATYP 4 over the IPv4 WANs, dialed over IPv6 by socks-server', async () => {
    // the gateway itself has no IPv6 route out: only the tunnel can carry this connection
    expect(lab.exec('gw', `ip -6 route get ${ADDR6.origin} 2>&1 || true`)).toMatch(/unreachable|Network is unreachable/);
    expect(curl(lab, `${ORIGIN6}small`)).toBe('200');
    // Dante's line: the client over IPv4 (a WAN address), the destination in IPv6
    const line = new RegExp(`tcp/connect \\[: 10\\.0\\.[12]\\.2\\.\\d+ ${ADDR.server.replace(/\./g, '\\.')}\\.1080 -> \\S+ ${ADDR6.origin}\\.80`);
    await waitFor(() => line.test(daemons[0]!.output()), 5000, 'the server\'s connect line');
    expect(daemons[2]!.output()).toContain(`[${ADDR6.lanClient}:`);
  });

  test('LAN IPv6 UDP through redudp to an IPv6 destination', async () => {
    const r = await udpPingPong(lab, ADDR6.origin, 7, 20, 1500);
    // answered, from the first answer on (datagrams beyond the 5 that wait while a new flow's
    // association opens are dropped, as in redsocks: on a loaded machine that can be a few)
    expect(r.firstAnswerMs).not.toBeNull();
    expect(r.received).toBeGreaterThan(r.sent / 2);
  });

  test('IPv4 keeps working beside it', () => {
    expect(curl(lab, `http://${ADDR.origin}/small`)).toBe('200');
  });
});

describe("'dual' mode: IPv6 WAN addresses, MPTCP subflows over them", () => {
  let lab: Lab;
  const daemons: Started[] = [];
  beforeAll(async () => {
    lab = await Lab.create(profile('fast'), { ipv6: 'dual' });
    setupLab(lab, {
      extra: ['--wan', `isp1v6=${IFACES.wan1},${ADDR6.wan1},${ADDR6.gw1}`, '--wan', `isp2v6=${IFACES.wan2},${ADDR6.wan2},${ADDR6.gw2}`],
    });
    daemons.push(await startServer(lab, true));
    daemons.push(
      await startFlowRedsocks(lab, flowConf({ dns: false, server: ADDR6.server, paths: `isp1 ${ADDR6.wan1} dev wan1, isp2 ${ADDR6.wan2} dev wan2` })),
    );
  }, 60000);
  afterAll(async () => {
    await stopAll(daemons).catch(() => undefined);
    lab?.destroy();
  });

  test('a download to an IPv6 destination runs over two IPv6 subflows, one per ISP', () => {
    // 12 MB at 4 MB/s: the subflows are listed every 250 ms while it runs
    const out = lab.exec(
      'lan',
      `curl -s -g -o /dev/null -w 'http %{http_code}' --max-time 20 --limit-rate 4M '${ORIGIN6}bytes/12000000' & ` +
        `for i in $(seq 1 10); do sleep 0.25; ip netns exec ${lab.ns.gw.name} ss -Htn; done; wait`,
    );
    expect(out).toContain('http 200');
    const locals = new Set<string>();
    for (const line of out.split('\n').filter((l) => l.includes(`[${ADDR6.server}]:1080`))) {
      const m = /\[(fd00:[12]::2)\](%\w+)?:\d+/.exec(line);
      if (m) locals.add(m[1]!);
    }
    expect([...locals].sort()).toEqual([ADDR6.wan1, ADDR6.wan2]);
  });

  test('an IPv4 destination over the IPv6 tunnel', async () => {
    expect(curl(lab, `http://${ADDR.origin}/small`)).toBe('200');
    const line = new RegExp(`tcp/connect \\[: fd00:[12]::2\\.\\d+ fd09::1\\.1080 -> \\S+ ${ADDR.origin.replace(/\./g, '\\.')}\\.80`);
    await waitFor(() => line.test(daemons[0]!.output()), 5000, 'the server\'s connect line');
  });
});
