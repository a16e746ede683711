/**
 * The one topology builder: namespaces joined by veth links, a scratch directory, and a
 * teardown that removes all of it (also when building fails half way). The two-ISP lab
 * (lab.ts) and the three-namespace e2e shape below are both built with it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Netns, veth } from './netns';

/** One veth pair between two nodes; an address is optional (an L2 wire has none). */
export interface Link<N extends string> {
  a: N;
  aDev: string;
  aAddr?: string;
  b: N;
  bDev: string;
  bAddr?: string;
}

export interface Topology<N extends string> {
  readonly ns: Record<N, Netns>;
  /** Scratch dir for configs, sockets and logs; removed by destroy(). */
  readonly dir: string;
  destroy(): void;
}

/**
 * Namespaces for `nodes` (node -> name tag, see Netns.create), then `links` in order.
 * Throws after removing whatever was made.
 */
export function buildTopology<N extends string>(nodes: Record<N, string>, links: ReadonlyArray<Link<N>>, dirTag: string): Topology<N> {
  const made: Partial<Record<N, Netns>> = {};
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rts-${dirTag}-`));
  let destroyed = false;
  const destroy = (): void => {
    if (destroyed) return;
    destroyed = true;
    for (const n of Object.keys(nodes).reverse() as N[]) made[n]?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of Object.keys(nodes) as N[]) made[n] = Netns.create(nodes[n]);
    const ns = made as Record<N, Netns>;
    for (const l of links) veth(ns[l.a], l.aDev, l.aAddr ?? '', ns[l.b], l.bDev, l.bAddr ?? '');
    return { ns, dir, destroy };
  } catch (e) {
    destroy();
    throw e;
  }
}

// ---- the e2e shape for redsocks: client -> gateway (nftables REDIRECT to the redsocks under
// test) -> server (proxies + origin). Addresses live only inside our namespaces.

export const CLIENT_IP = '10.77.1.2';
export const GW_LAN = '10.77.1.1';
export const GW_WAN = '10.77.2.1';
export const PROXY_IP = '10.77.2.2';
export const ORIGIN_IP = '10.77.2.3';

export interface Triangle {
  client: Netns;
  gw: Netns;
  srv: Netns;
  dir: string;
  destroy(): void;
}

export function makeTopology(tag: string): Triangle {
  const t = buildTopology({ client: `${tag}c`, gw: `${tag}g`, srv: `${tag}s` }, [
    { a: 'client', aDev: 'c0', aAddr: `${CLIENT_IP}/24`, b: 'gw', bDev: 'g0', bAddr: `${GW_LAN}/24` },
    { a: 'gw', aDev: 'g1', aAddr: `${GW_WAN}/24`, b: 'srv', bDev: 's0', bAddr: `${PROXY_IP}/24` },
  ], tag);
  const { client, gw, srv } = t.ns;
  try {
    srv.exec(`ip addr add ${ORIGIN_IP}/24 dev s0`);
    client.exec(`ip route add default via ${GW_LAN}`);
    srv.exec(`ip route add default via ${GW_WAN}`);
    gw.exec('sysctl -qw net.ipv4.ip_forward=1');
  } catch (e) {
    t.destroy();
    throw e;
  }
  return { client, gw, srv, dir: t.dir, destroy: t.destroy };
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
