/**
 * `mptcp-gateway status` on the lab gateway, reading the running redsocks-ts and socks-server
 * through their metrics endpoints (docs/metrics.md): a real outage of isp1 shows the path dead,
 * then back, in `status --watch`; the one-shot view shows every section.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ADDR, Lab, E2E_PROFILE, LAB_METRICS_PORT, compiledIsFresh, gatewayCli, gatewayCliArgv, startOurLab,
  stopAll, stopProcess, transfer, waitFor, type Started,
} from '@mptcp-proxy/lab';

const E2E = E2E_PROFILE;
const SERVER_METRICS = `${ADDR.server}:9102`;

let lab: Lab;
let daemons: Started[] = [];

beforeAll(async () => {
  // the server's endpoint on its LAN-side address, so the gateway's status can read it
  ({ lab, daemons } = await startOurLab(E2E, {
    serverKeys: { 'extension.metrics': `${ADDR.server} port = 9102` },
    redsocks: { 'base.metrics_port': String(LAB_METRICS_PORT) },
  }));
}, 60000);

afterAll(async () => {
  await stopAll(daemons).catch(() => undefined);
  lab?.destroy();
});

test('status: paths, connections, optimistic connect and the server side', async () => {
  const t = await transfer(lab, 'lan', 'get', 2e6, { timeoutMs: 20000 });
  expect(t.ok).toBe(true);
  const r = gatewayCli(lab, 'gw', ['status', '--server-metrics', SERVER_METRICS]);
  if (process.env.RTS_METRICS_CAPTURE) {
    const scrape = (node: 'gw' | 'remote', at: string): string => lab.exec(node, `curl -sS --max-time 5 http://${at}/metrics`);
    fs.writeFileSync(process.env.RTS_METRICS_CAPTURE, `${r.out}\n---- redsocks-ts\n${scrape('gw', `127.0.0.1:${LAB_METRICS_PORT}`)}\n---- socks-server\n${scrape('remote', SERVER_METRICS)}`);
  }
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^path +state/m);
  // conf/lab/redsocks.conf has `paths = auto`: the paths are named by their devices
  expect(r.out).toMatch(/^wan1 +up /m);
  expect(r.out).toMatch(/^wan2 +up /m);
  expect(r.out).toMatch(/^connections: \d+ active, [1-9]\d* total; closed: ok [1-9]/m);
  expect(r.out).toContain(`server ${ADDR.server}:1080: speaks optimistic connect`);
  expect(r.out).toMatch(/^server side: \d+ active, [1-9]\d* total, 0 refused at accept; closed: .*ok [1-9]\d*.*optimistic connect accepted [1-9]/m);
  // the request went up with the optimistic-connect handshake: counted as relayed bytes
  const sc = gatewayCli(lab, 'gw', ['status', '--json']);
  expect(JSON.parse(sc.out)).toMatchObject({ total: expect.any(Number) });
  const up = lab.exec('gw', `curl -sS --max-time 5 http://127.0.0.1:${LAB_METRICS_PORT}/metrics`).match(/^redsocks_bytes_total\{[^}]*direction="up"\} (\d+)/m);
  expect(Number(up?.[1])).toBeGreaterThan(30);
  // the download crossed both paths' devices
  const mbDown = [...r.out.matchAll(/^wan[12] .* ([\d.]+) +[\d.]+$/gm)].map((m) => Number(m[1]));
  expect(mbDown).toHaveLength(2);
  for (const x of mbDown) expect(x).toBeGreaterThan(0.2);
}, 60000);

test('status --watch during an outage of isp1: the path goes DOWN, then comes back up', async () => {
  let out = '';
  const argv = [...gatewayCliArgv(compiledIsFresh()), 'status', '--watch', '--server-metrics', SERVER_METRICS];
  const w: ChildProcess = lab.spawn('gw', argv);
  w.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  w.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(() => /wan1 up .*wan2 up/.test(out), 20000, 'both paths up in status --watch');
    const dl = transfer(lab, 'lan', 'get', 80e6, { timeoutMs: 60000 });
    await waitFor(() => out.split('\n').filter((l) => /conns [1-9]/.test(l)).length >= 2, 10000, 'the download in the view');
    await lab.cut('isp1');
    await waitFor(() => /wan1 DOWN/.test(out), 15000, 'wan1 DOWN in status --watch');
    const downAt = out.length;
    // a few seconds of the outage on screen, then the link comes back
    await waitFor(() => out.slice(downAt).split('\n').length > 3, 10000, 'outage lines');
    await lab.restore('isp1');
    await waitFor(() => /wan1 up /.test(out.slice(downAt)), 20000, 'wan1 up again in status --watch');
    const upAt = out.indexOf('wan1 up ', downAt);
    await waitFor(() => out.slice(upAt).split('\n').length > 3, 10000, 'lines after recovery');
    expect((await dl).ok).toBe(true);
  } finally {
    await stopProcess(w);
    fs.writeFileSync(path.join(lab.dir, 'status-watch.txt'), out);
    if (process.env.RTS_STATUS_CAPTURE) fs.writeFileSync(process.env.RTS_STATUS_CAPTURE, out);
  }
  const lines = out.split('\n').filter((l) => /^\d\d:\d\d:\d\d /.test(l));
  const down = lines.findIndex((l) => /wan1 DOWN/.test(l));
  expect(down).toBeGreaterThan(0);
  expect(lines.slice(0, down).some((l) => /wan1 up /.test(l))).toBe(true);
  // while isp1 was down isp2 kept the bond alive
  expect(lines.slice(down).some((l) => /wan1 DOWN .*wan2 up /.test(l))).toBe(true);
  expect(lines.slice(down).some((l) => /wan1 up .*wan2 up /.test(l))).toBe(true);
}, 120000);
