/**
 * The whole chain with optimistic connect and the warm pool: curl in a client namespace ->
 * nftables REDIRECT -> the redsocks-ts daemon (optimistic = on, pool_size = 2, mptcp = on) ->
 * our socks-server (extension.optimistic: yes, MPTCP listener) -> origin. A blocked destination
 * gets the LAN client reset and not one byte; the pool serves connections.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  dantedConf, stopProcess, waitFor, ORIGIN_IP, PROXY_IP, makeTopology, originScript, redirectRules,
  redsocksBase, redsocksSection, spawnIn, tsEntry, waitListening, writeFile, type Daemon, type Triangle,
} from '@mptcp-proxy/lab';

jest.setTimeout(90000);

let topo: Triangle;
let rs: Daemon;
let logFile: string;
let sinkFile: string;
const servers: Daemon[] = [];
const log = (): string => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');

/** A listener on the blocked port that appends whatever it receives to a file. */
const sinkScript = (file: string): string => `
const net = require('net'), fs = require('fs');
net.createServer((c) => { fs.appendFileSync('${file}', 'conn\\n'); c.on('data', (d) => fs.appendFileSync('${file}', d)); c.on('error', () => {}); })
  .listen(8443, '${ORIGIN_IP}');
`;

beforeAll(async () => {
  topo = makeTopology('f2oc');
  const { srv, gw, dir } = topo;
  for (const ns of [gw, srv]) ns.exec('ip mptcp limits set subflow 2 add_addr_accepted 2');
  sinkFile = path.join(dir, 'blocked.bytes');
  fs.writeFileSync(sinkFile, '');
  servers.push(spawnIn(srv, ['node', '-e', originScript([8080], 7070)]));
  servers.push(spawnIn(srv, ['node', '-e', sinkScript(sinkFile)]));
  const danted = dantedConf({
    internal: PROXY_IP,
    port: 1080,
    extra: ['extension.optimistic: yes', 'extension.mptcp: on'],
    blocks: [{ to: `${ORIGIN_IP}/32`, port: 8443 }],
  });
  servers.push(spawnIn(srv, [...tsEntry('packages/socks-server/src/cli.ts'), '-f', writeFile(dir, 'oc.conf', danted)]));
  for (const p of [8080, 8443]) await waitListening(srv, p);
  await waitListening(srv, 1080, 20000).catch((e) => {
    throw new Error(`socks-server did not start: ${e.message}\n${servers[2].output()}`);
  });
  redirectRules(gw, dir, [
    [8080, 12001],
    [8443, 12001],
  ]);
  logFile = path.join(dir, 'redsocks-ts.log');
  const conf =
    redsocksBase(logFile) +
    redsocksSection(12001, 1080, 'socks5', '  mptcp = on;\n  optimistic = on;\n  pool_size = 2;\n  pool_idle_timeout = 60;\n');
  rs = spawnIn(gw, [...tsEntry('packages/redsocks-ts/src/cli.ts'), '-c', writeFile(dir, 'rs.conf', conf)]);
  await waitListening(gw, 12001, 20000).catch((e) => {
    throw new Error(`redsocks-ts did not start: ${e.message}\n${rs.output()}\n${log()}`);
  });
  // the pool's two connections are established at the server before the first request
  await waitFor(
    () => srv.exec(`ss -Htn state established 'sport = :1080'`, { allowFail: true }).trim().split('\n').filter(Boolean).length >= 2,
    15000,
    'two pooled connections at the server',
  );
}, 90000);

afterAll(async () => {
  if (process.env.F2_DEBUG) process.stdout.write(`---- log ----\n${log()}\n${rs?.output()}\n${servers[2]?.output()}\n`);
  await stopProcess(rs?.proc);
  topo?.destroy();
});

test('HTTP through OC + warm pool: every request answered, over MPTCP connections made ahead of time', () => {
  for (const p of ['/a', '/b', '/c', '/d']) {
    expect(topo.client.exec(`curl -sS --max-time 10 http://${ORIGIN_IP}:8080${p}`)).toBe(`hello ${p}`);
  }
  expect(log()).not.toMatch(/Socks5 server status/);
});

test('blocked destination: curl sees a reset, the destination not a byte, the log has the REP text', async () => {
  const out = topo.client.exec(`curl -sS --max-time 10 -o /dev/null -w '%{http_code}' http://${ORIGIN_IP}:8443/secret 2>&1; echo " rc=$?"`, {
    allowFail: true,
  });
  expect(out).toMatch(/reset by peer|rc=56/);
  await waitFor(() => /connection not allowed by ruleset \(2\)/.test(log()), 5000, 'the REP text in the log');
  expect(fs.readFileSync(sinkFile, 'utf8')).toBe('');
});
