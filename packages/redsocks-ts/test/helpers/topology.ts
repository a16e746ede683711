/**
 * The e2e shape for redsocks: client ns -> gateway ns (nftables REDIRECT to the redsocks
 * under test) -> server ns (proxies + origin). Addresses live only inside our namespaces.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Netns, sh, veth, waitFor } from '../../../../tests/helpers/netns';

export const CLIENT_IP = '10.77.1.2';
export const GW_LAN = '10.77.1.1';
export const GW_WAN = '10.77.2.1';
export const PROXY_IP = '10.77.2.2';
export const ORIGIN_IP = '10.77.2.3';

export const ROOT = path.resolve(__dirname, '../../../..');
const TSCONFIG = path.join(ROOT, 'tsconfig.test.json');

export interface Topology {
  client: Netns;
  gw: Netns;
  srv: Netns;
  dir: string;
  destroy(): void;
}

export function makeTopology(tag: string): Topology {
  const client = Netns.create(`${tag}c`);
  const gw = Netns.create(`${tag}g`);
  const srv = Netns.create(`${tag}s`);
  veth(client, 'c0', `${CLIENT_IP}/24`, gw, 'g0', `${GW_LAN}/24`);
  veth(gw, 'g1', `${GW_WAN}/24`, srv, 's0', `${PROXY_IP}/24`);
  srv.exec(`ip addr add ${ORIGIN_IP}/24 dev s0`);
  client.exec(`ip route add default via ${GW_LAN}`);
  srv.exec(`ip route add default via ${GW_WAN}`);
  gw.exec('sysctl -qw net.ipv4.ip_forward=1');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rts-${tag}-`));
  return {
    client,
    gw,
    srv,
    dir,
    destroy() {
      srv.destroy();
      gw.destroy();
      client.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** nftables REDIRECT in the gateway: each origin port goes to one redsocks port. */
export function redirectRules(gw: Netns, dir: string, map: Array<[number, number]>): void {
  const lines = [
    'table ip rtsredir {',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...map.map(([from, to]) => `    ip daddr ${ORIGIN_IP} tcp dport ${from} meta l4proto tcp redirect to :${to}`),
    '  }',
    '}',
    '',
  ];
  const f = path.join(dir, 'redirect.nft');
  fs.writeFileSync(f, lines.join('\n'));
  gw.exec(`nft -f ${f}`);
}

/** Argv that runs a TypeScript entry point of this repo from source. */
export function tsEntry(rel: string): string[] {
  return ['env', `TSX_TSCONFIG_PATH=${TSCONFIG}`, 'node', '--import', 'tsx', path.join(ROOT, rel)];
}

export interface Daemon {
  proc: ChildProcess;
  output: () => string;
}

export function spawnIn(ns: Netns, argv: string[], opts: { cwd?: string } = {}): Daemon {
  const proc = ns.spawn(argv, { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d) => (out += d.toString()));
  proc.stderr?.on('data', (d) => (out += d.toString()));
  return { proc, output: () => out };
}

/** Wait until something listens on addr:port inside `ns`. */
export async function waitListening(ns: Netns, port: number, ms = 15000): Promise<void> {
  await waitFor(() => ns.exec(`ss -Htln 'sport = :${port}'`, { allowFail: true }).trim().length > 0, ms, `listener on :${port} in ${ns.name}`);
}

/**
 * Origin HTTP server: GET /path -> `hello /path`; GET /bytes/N -> N bytes. Plus a TCP echo on
 * `echoPort`. On `slowPorts` the body follows the head 100 ms later: the C redsocks' http-relay
 * loses a reply whose head, body and FIN arrive together (tinyproxy relays them at once).
 */
export function originScript(httpPorts: number[], echoPort: number, slowPorts: number[] = []): string {
  return `
const http = require('http'), net = require('net');
const h = (q, s) => {
  const m = /^\\/bytes\\/(\\d+)$/.exec(q.url);
  if (m) { const n = +m[1]; s.writeHead(200, {'content-length': n}); s.end(Buffer.alloc(n, 120)); return; }
  const body = 'hello ' + q.url;
  if (${JSON.stringify(slowPorts)}.includes(q.socket.localPort)) {
    s.writeHead(200, {'content-length': body.length}); s.flushHeaders(); setTimeout(() => s.end(body), 100); return;
  }
  s.end(body);
};
for (const p of ${JSON.stringify(httpPorts)}) http.createServer(h).listen(p, '${ORIGIN_IP}');
net.createServer({ allowHalfOpen: true }, (c) => { c.on('error', () => {}); c.pipe(c); }).listen(${echoPort}, '${ORIGIN_IP}');
`;
}

export function writeFile(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

export function userExists(name: string): boolean {
  return sh(`getent passwd ${name}`, { allowFail: true }).trim().length > 0;
}

/** The `base {}` the e2e suites share: debug+info logging to `file:LOG`, iptables redirector. */
export function redsocksBase(log: string, extra = ''): string {
  return `base {\n  log_debug = on;\n  log_info = on;\n  log = "file:${log}";\n  daemon = off;\n  redirector = iptables;\n${extra}}\n`;
}

/** One `redsocks {}` on 0.0.0.0:localPort to PROXY_IP:upPort; `extra` holds indented key lines. */
export function redsocksInstance(localPort: number, upPort: number, type = 'socks5', extra = ''): string {
  return `redsocks {\n  local_ip = 0.0.0.0;\n  local_port = ${localPort};\n  ip = ${PROXY_IP};\n  port = ${upPort};\n  type = ${type};\n${extra}}\n`;
}
