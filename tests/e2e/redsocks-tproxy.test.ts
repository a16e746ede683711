/**
 * `redirector = generic` behind an nftables TPROXY rule: the original destination is the
 * accepted socket's own address. redsocks-ts opens that listener with IP_TRANSPARENT. The
 * C redsocks 0.5 does not, so the tproxy rule finds no transparent socket, does not match,
 * and the connection is routed straight to the origin, bypassing redsocks (checked below).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  dantedConf, stopProcess, waitFor, CLIENT_IP, makeTopology, ORIGIN_IP, originScript, PROXY_IP,
  redsocksSection, spawnIn, tsEntry, waitListening, writeFile, type Triangle,
} from '@mptcp-proxy/lab';

let topo: Triangle;

beforeAll(async () => {
  topo = makeTopology('rtp');
  const { srv, gw, dir } = topo;
  spawnIn(srv, ['node', '-e', originScript([8001], 7007)]);
  spawnIn(srv, ['danted', '-f', writeFile(dir, 'd.conf', dantedConf({ internal: PROXY_IP, port: 1080, users: true }))]);
  for (const p of [8001, 1080]) await waitListening(srv, p);
  gw.exec('ip rule add fwmark 1 lookup 100 && ip route add local 0.0.0.0/0 dev lo table 100');
  const nft = [
    'table ip rtstproxy {',
    '  chain prerouting {',
    '    type filter hook prerouting priority mangle; policy accept;',
    `    ip daddr ${ORIGIN_IP} tcp dport 8001 tproxy to :12001 meta mark set 1 accept`,
    '  }',
    '}',
    '',
  ].join('\n');
  gw.exec(`nft -f ${writeFile(dir, 'tproxy.nft', nft)}`);
}, 60000);

afterAll(() => topo?.destroy());

describe.each(['redsocks-ts', 'redsocks'] as const)('%s', (impl) => {
  test(`redirector = generic with TPROXY: ${impl === 'redsocks' ? 'not intercepted (no IP_TRANSPARENT)' : 'intercepted and relayed'}`, async () => {
    const logFile = path.join(topo.dir, `${impl}.log`);
    const conf = writeFile(
      topo.dir,
      `${impl}.conf`,
      `base {\n  log_info = on;\n  log = "file:${logFile}";\n  redirector = generic;\n}\n` +
        redsocksSection(12001, 1080),
    );
    const argv = impl === 'redsocks' ? ['redsocks', '-c', conf] : [...tsEntry('packages/redsocks-ts/src/cli.ts'), '-c', conf];
    const rs = spawnIn(topo.gw, argv);
    try {
      await waitListening(topo.gw, 12001, 20000);
      const out = topo.client.exec(`curl -sS --max-time 3 http://${ORIGIN_IP}:8001/tp 2>&1; echo " rc=$?"`, { allowFail: true });
      const log = (): string => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
      expect(out).toBe('hello /tp rc=0\n');
      const accepted = new RegExp(`\\[${CLIENT_IP}:\\d+->${ORIGIN_IP}:8001\\]: accepted`);
      if (impl === 'redsocks-ts') {
        await waitFor(() => accepted.test(log()), 5000, 'accepted line');
      } else {
        // the reply came from the origin directly: redsocks never saw the connection
        expect(log()).toMatch(/redsocks started/);
        expect(log()).not.toMatch(accepted);
      }
    } finally {
      await stopProcess(rs.proc);
    }
  });
});
