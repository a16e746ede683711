/**
 * TLS 1.3 on the WAN leg (docs/tls.md), end to end: curl in a client namespace -> nftables
 * REDIRECT -> redsocks-ts -> socks-server's TLS listener (MPTCP) -> an origin. A plain
 * listener keeps serving plain clients (curl --socks5 included), a TLS listener refuses
 * cleartext with a clear log line, and a wrong pin, a wrong CA or a missing client certificate
 * never gets a byte through.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  dantedConf, makeTestCerts, makeTopology, ORIGIN_IP, originScript, PROXY_IP, redirectRules, redsocksBase, redsocksSection,
  spawnIn, stopProcess, tsEntry, waitFor, waitListening, writeFile, type Daemon, type TestCerts, type Triangle,
} from '@mptcp-proxy/lab';

let topo: Triangle;
let certs: TestCerts;
const procs: Daemon[] = [];
let rsLog = '';
const serverOutput = (): string => procs.filter((p) => p !== procs[0]).map((p) => p.output()).join('\n');

beforeAll(async () => {
  topo = makeTopology('tl');
  const { srv, gw, dir } = topo;
  certs = makeTestCerts(path.join(dir, 'certs'), PROXY_IP);
  procs.push(spawnIn(srv, ['node', '-e', originScript([8001, 8002, 8003, 8004, 8005, 8006, 8007, 8008, 8009], 7007)]));
  // one server: plain on 1080, TLS on 1443; a second one requires client certificates on 1444
  const plainAndTls = dantedConf({
    internal: PROXY_IP, port: 1080,
    extra: [`extension.tls.internal: ${PROXY_IP} port = 1443`, `extension.tls.cert: ${certs.serverCert}`, `extension.tls.key: ${certs.serverKey}`],
  });
  // username only: a verified client certificate stands in for the password (its CN is the user)
  fs.writeFileSync(path.join(dir, 'passwd'), `someone:${srv.exec('openssl passwd -6 -salt tlstest unused').trim()}\n`);
  const mutual = [
    'logoutput: stderr', `internal: ${PROXY_IP} port = 1081`, `external: ${PROXY_IP}`, 'clientmethod: none', 'socksmethod: username',
    `extension.passwordfile: ${path.join(dir, 'passwd')}`,
    `extension.tls.internal: ${PROXY_IP} port = 1444`, `extension.tls.cert: ${certs.serverCert}`, `extension.tls.key: ${certs.serverKey}`, `extension.tls.clientca: ${certs.ca}`,
    'client pass { from: 0/0 to: 0/0 }',
    'socks pass {', '  from: 0/0 to: 0/0', '  user: gateway1', '  log: connect', '}',
    '',
  ].join('\n');
  procs.push(spawnIn(srv, [...tsEntry('packages/socks-server/src/cli.ts'), '-f', writeFile(dir, 'd1.conf', plainAndTls)]));
  procs.push(spawnIn(srv, [...tsEntry('packages/socks-server/src/cli.ts'), '-f', writeFile(dir, 'd2.conf', mutual)]));
  for (const p of [1080, 1443, 1081, 1444]) await waitListening(srv, p, 20000);
  const s = (port: number, up: number, extra: string): string => redsocksSection(port, up, 'socks5', extra);
  // The sections that must fail (wrong pin, no client certificate) keep no pool: its refills
  // would fail against the server all through the file. A section without `tls = on` to the TLS
  // listener is refused when the file is read (docs/tls.md): curl --socks5 sends the cleartext below.
  const conf = redsocksBase(`${dir}/rs.log`) +
    s(12001, 1080, '') +
    s(12002, 1443, `  tls = on;\n  tls_pin = "${certs.serverPin}";\n`) +
    s(12003, 1443, `  tls = on;\n  tls_ca = "${certs.ca}";\n`) +
    s(12004, 1443, `  tls = on;\n  tls_pin = "sha256:${'ab'.repeat(32)}";\n  pool_size = 0;\n`) +
    s(12006, 1444, `  tls = on;\n  tls_ca = "${certs.ca}";\n  tls_cert = "${certs.clientCert}";\n  tls_key = "${certs.clientKey}";\n`) +
    s(12007, 1444, `  tls = on;\n  tls_ca = "${certs.ca}";\n  pool_size = 0;\n`) +
    s(12008, 1443, `  tls = on;\n  tls_ca = "${certs.otherCa}";\n`) +
    // the warm pool finishes its handshakes before it is used
    s(12009, 1443, `  tls = on;\n  tls_pin = "${certs.serverPin}";\n  pool_size = 2;\n`);
  procs.push(spawnIn(gw, [...tsEntry('packages/redsocks-ts/src/cli.ts'), '-c', writeFile(dir, 'rs.conf', conf)]));
  await waitListening(gw, 12009, 20000);
  redirectRules(gw, dir, [...[8001, 8002, 8003, 8004, 8005, 8006, 8007, 8008, 8009].map((p, i) => [p, 12001 + i] as [number, number]), [7007, 12002]]);
}, 60000);

afterAll(async () => {
  if (process.env.RTS_E2E_DUMP) process.stdout.write(`---- redsocks-ts\n${rs()}\n---- servers\n${serverOutput()}\n`);
  for (const p of procs) await stopProcess(p.proc);
  topo?.destroy();
});

const get = (port: number, p = '/x'): string => topo.client.exec(`curl -sS --max-time 10 http://${ORIGIN_IP}:${port}${p}`, { allowFail: true });
const rs = (): string => (rsLog = fs.existsSync(path.join(topo.dir, 'rs.log')) ? fs.readFileSync(path.join(topo.dir, 'rs.log'), 'utf8') : rsLog);

test('a plain listener keeps serving plain clients: redsocks-ts and curl --socks5', () => {
  expect(get(8001, '/plain')).toBe('hello /plain');
  expect(topo.gw.exec(`curl -sS --max-time 10 --socks5 ${PROXY_IP}:1080 http://${ORIGIN_IP}:8001/curl`)).toBe('hello /curl');
});

test('TLS with a pinned certificate, and with a CA; a large download is intact', () => {
  expect(get(8002, '/pinned')).toBe('hello /pinned');
  expect(get(8003, '/ca')).toBe('hello /ca');
  const file = path.join(topo.dir, 'download.bin');
  topo.client.exec(`curl -sS --max-time 20 -o ${file} http://${ORIGIN_IP}:8003/bytes/3000000`);
  expect(fs.readFileSync(file).equals(Buffer.alloc(3000000, 'x'))).toBe(true);
});

test('half-close through TLS both ways (client FIN, echo, server FIN)', () => {
  const payload = 'x'.repeat(200000);
  const f = writeFile(topo.dir, 'payload.txt', payload);
  expect(topo.client.exec(`timeout 10 ncat ${ORIGIN_IP} 7007 < ${f}`)).toBe(payload);
});

test('a wrong pin or a wrong CA: no byte goes through, the log says why', async () => {
  expect(get(8004)).not.toContain('hello');
  expect(get(8008)).not.toContain('hello');
  await waitFor(() => /ETLS_PIN|pinned/.test(rs()), 10000, 'the pin failure in the redsocks-ts log');
  expect(rs()).toMatch(/sha256 [0-9a-f]{64}, not the pinned abab/);
  await waitFor(() => /SELF_SIGNED_CERT_IN_CHAIN|unable to verify|self-signed/i.test(rs()), 10000, 'the CA failure in the log');
});

test('a TLS listener refuses cleartext SOCKS with a clear log line', async () => {
  expect(topo.gw.exec(`curl -sS --max-time 5 --socks5 ${PROXY_IP}:1443 http://${ORIGIN_IP}:8001/x`, { allowFail: true })).not.toContain('hello');
  await waitFor(() => /cleartext SOCKS on a TLS listener is refused/.test(serverOutput()), 10000, 'the refusal line');
  expect(serverOutput()).toMatch(/TLS listener 10\.77\.2\.2\.1443: client 10\.77\.2\.1\.\d+ sent cleartext \(SOCKS v5\)/);
});

test('mutual authentication: the client certificate is the user (no password); without it the server refuses', async () => {
  expect(get(8006, '/mutual')).toBe('hello /mutual');
  await waitFor(() => /username%gateway1@10\.77\.2\.1\.\d+/.test(serverOutput()), 10000, 'the connect line with the certificate\'s user');
  expect(get(8007)).not.toContain('hello');
  // a plain client on the username-only server's plain listener still needs its password
  expect(topo.gw.exec(`curl -sS --max-time 5 --socks5 ${PROXY_IP}:1081 http://${ORIGIN_IP}:8001/x`, { allowFail: true })).not.toContain('hello');
});

test('the warm pool hands out connections that already finished TLS', () => {
  for (let i = 0; i < 3; i++) expect(get(8009, `/pool${i}`)).toBe(`hello /pool${i}`);
});
