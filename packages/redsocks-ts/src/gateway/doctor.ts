/**
 * `mptcp-gateway doctor`: check a gateway (or a SOCKS server host) and explain each problem
 * in plain words with the command that fixes it.
 */
import * as net from 'node:net';
import { familyOf } from './spec';
import { interfaceAddrs, nftRuleset, readEndpoints, readLimits, readMptcpCounters, readRoutes, readRules, readSysctl, run } from './system';

export type Level = 'ok' | 'warn' | 'fail';

export interface Finding {
  id: string; // stable: mptcp-enabled, limits, endpoint-route, redirect, redirect-loop, tfo, server-path, fallback ...
  level: Level;
  title: string;
  detail?: string;
  fix?: string;
}

export interface DoctorOptions {
  role: 'gateway' | 'server';
  server?: { host: string; port: number };
  redsocksPort?: number;
  listen?: { host: string; port: number };
  timeoutMs?: number;
}

function probe(host: string, port: number, localAddress: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress });
    const done = (err: string | null): void => {
      s.destroy();
      resolve(err);
    };
    s.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    s.once('connect', () => done(null));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

function checkMptcpEnabled(out: Finding[]): boolean {
  const en = readSysctl('net.mptcp.enabled');
  if (en === undefined) {
    out.push({ id: 'mptcp-enabled', level: 'fail', title: 'this kernel has no MPTCP', detail: 'net.mptcp.enabled does not exist: the kernel was built without CONFIG_MPTCP or is older than 5.6.', fix: 'use a kernel >= 5.19 with CONFIG_MPTCP=y' });
    return false;
  }
  if (en !== '1') {
    out.push({ id: 'mptcp-enabled', level: 'fail', title: 'MPTCP is disabled', detail: 'net.mptcp.enabled is 0, so every MPTCP socket() fails and connections fall back to plain TCP over one ISP.', fix: 'sysctl -w net.mptcp.enabled=1' });
    return false;
  }
  out.push({ id: 'mptcp-enabled', level: 'ok', title: 'MPTCP is enabled' });
  return true;
}

function checkTfo(out: Finding[], bit: number, side: string, why: string): void {
  const v = Number(readSysctl('net.ipv4.tcp_fastopen') ?? '0');
  if ((v & bit) === 0) {
    out.push({ id: 'tfo', level: 'fail', title: `TCP Fast Open ${side} side is off`, detail: `net.ipv4.tcp_fastopen is ${v} (bit 0x${bit.toString(16)} clear): ${why}`, fix: `sysctl -w net.ipv4.tcp_fastopen=${v | bit}` });
  } else {
    out.push({ id: 'tfo', level: 'ok', title: `TCP Fast Open ${side} side is on (tcp_fastopen=${v})` });
  }
}

function checkStale(out: Finding[]): void {
  const st = Number(readSysctl('net.mptcp.stale_loss_cnt') ?? '4');
  if (st > 2) {
    out.push({ id: 'stale-loss-cnt', level: 'warn', title: `slow failover: net.mptcp.stale_loss_cnt is ${st}`, detail: 'a dead ISP\'s subflow is only marked stale after this many retransmission timeouts (the RTO doubles each time). redsocks-ts withdraws a dead ISP\'s MPTCP endpoint itself when it has CAP_NET_ADMIN (the shipped unit grants it), which moves running transfers at once; this setting is the fallback when it cannot, and for REMOVE_ADDR lost on a lossy link.', fix: 'sysctl -w net.mptcp.stale_loss_cnt=2' });
  } else {
    out.push({ id: 'stale-loss-cnt', level: 'ok', title: `subflows go stale after ${st} lost RTOs` });
  }
}

/** Gateway only: the kernel's active-side blackhole detection can silently turn MPTCP off. */
function checkBlackhole(out: Finding[]): void {
  const bh = readSysctl('net.mptcp.blackhole_timeout');
  if (bh === undefined) return; // kernel < 6.12: no such detection
  const mib = readMptcpCounters();
  const disabled = mib.MPCapableSYNTXDisabled ?? 0;
  const fix = 'sysctl -w net.mptcp.blackhole_timeout=0';
  if (Number(bh) !== 0) {
    out.push({
      id: 'mptcp-blackhole',
      level: disabled > 0 ? 'fail' : 'warn',
      title: disabled > 0 ? `MPTCP was switched off by blackhole detection (${disabled} connections opened as plain TCP)` : `MPTCP blackhole detection is on (net.mptcp.blackhole_timeout=${bh})`,
      detail:
        'an MP_CAPABLE SYN lost with its first two retries, then an answered plain SYN (an ISP that comes back at the wrong moment, or a lossy link, is enough) makes the kernel open every new connection as plain TCP for an hour: one ISP, no failover.',
      fix,
    });
  } else {
    out.push({ id: 'mptcp-blackhole', level: 'ok', title: 'MPTCP blackhole detection is off (net.mptcp.blackhole_timeout=0)' });
  }
}

export async function doctor(opts: DoctorOptions): Promise<Finding[]> {
  const out: Finding[] = [];
  checkMptcpEnabled(out);
  const lim = readLimits();
  const endpoints = readEndpoints();

  if (opts.role === 'server') {
    if (!lim || lim.subflows < 1) {
      out.push({ id: 'limits', level: 'fail', title: 'the server refuses extra subflows', detail: `ip mptcp limits: subflows ${lim?.subflows ?? '?'}; every MP_JOIN from the gateway's second ISP is refused, so connections use one ISP.`, fix: 'ip mptcp limits set subflow 2 add_addr_accepted 2' });
    } else out.push({ id: 'limits', level: 'ok', title: `the server accepts ${lim.subflows} extra subflows per connection` });
    const ls = run('ss -MlnH'); // -M alone: with -t, ss would list TCP listeners too
    const tcp = run('ss -tlnH');
    const port = opts.listen?.port ?? opts.server?.port;
    const mptcpPorts = [...ls.out.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1]));
    if (port !== undefined) {
      if (mptcpPorts.includes(port)) out.push({ id: 'listener', level: 'ok', title: `the listener on :${port} is MPTCP` });
      else if (new RegExp(`:${port}\\s`).test(tcp.out)) {
        out.push({ id: 'listener', level: 'fail', title: `the listener on :${port} is plain TCP`, detail: 'MPTCP clients fall back to one path when the server listens with IPPROTO_TCP.', fix: 'start socks-server with the MPTCP extension on (or the C daemon under `mptcpize run`)' });
      } else out.push({ id: 'listener', level: 'fail', title: `nothing listens on :${port}`, fix: 'start the SOCKS server' });
    } else if (mptcpPorts.length === 0) {
      out.push({ id: 'listener', level: 'warn', title: 'no MPTCP listener on this host', detail: 'pass --listen IP:PORT to check the SOCKS server\'s port' });
    }
    checkTfo(out, 0x2, 'server', 'the server cannot accept the SOCKS handshake carried in the SYN.');
    checkStale(out);
    return out;
  }

  // Gateway.
  const subflowEps = endpoints.filter((e) => e.flags.includes('subflow'));
  if (subflowEps.length === 0) {
    out.push({ id: 'endpoints', level: 'fail', title: 'no MPTCP subflow endpoint', detail: 'connections only ever use the ISP of the default route; nothing opens a second subflow.', fix: 'mptcp-gateway setup --wan ... (or: ip mptcp endpoint add ADDR dev IFACE subflow)' });
  } else out.push({ id: 'endpoints', level: 'ok', title: `${subflowEps.length} subflow endpoint(s): ${subflowEps.map((e) => `${e.address}${e.flags.includes('backup') ? ' (backup)' : ''}`).join(', ')}` });
  if (!lim || lim.subflows < 1 || (subflowEps.length > 0 && lim.subflows < subflowEps.length - 1)) {
    out.push({ id: 'limits', level: 'fail', title: 'MPTCP limits too low', detail: `ip mptcp limits: subflows ${lim?.subflows ?? '?'} — the kernel will not open the extra subflow(s) for the other ISP(s).`, fix: `ip mptcp limits set subflow ${Math.max(2, subflowEps.length)} add_addr_accepted ${Math.max(2, subflowEps.length)}` });
  } else out.push({ id: 'limits', level: 'ok', title: `MPTCP limits: subflows ${lim.subflows}, add_addr_accepted ${lim.addAddrAccepted}` });

  const rules = [...readRules(4), ...readRules(6)];
  const addrs = interfaceAddrs();
  for (const ep of subflowEps) {
    const rule = rules.find((r) => r.src === ep.address || r.src === `${ep.address}/32` || r.src === `${ep.address}/128`);
    const dev = ep.dev ?? [...addrs.entries()].find(([, a]) => a.includes(ep.address))?.[0];
    const table = rule?.table;
    const def = table ? readRoutes(table, familyOf(ep.address)).find((r) => r.dst === 'default') : undefined;
    if (!rule || !def) {
      out.push({
        id: 'endpoint-route', level: 'fail',
        title: `endpoint ${ep.address}${dev ? ` (${dev})` : ''} has no policy route`,
        detail: !rule
          ? `no \`ip rule from ${ep.address}\`: its subflow follows the main default route out the other ISP, which drops packets with a foreign source address (or it never finds a next hop).`
          : `rule from ${ep.address} uses table ${table}, which has no default route.`,
        fix: `ip rule add from ${ep.address} lookup ${table ?? 'T'} && ip route replace default via GATEWAY dev ${dev ?? 'IFACE'} table ${table ?? 'T'}  (or re-run mptcp-gateway setup)`,
      });
    } else if (dev && def.dev && def.dev !== dev) {
      out.push({ id: 'endpoint-route', level: 'fail', title: `endpoint ${ep.address} is routed out ${def.dev}, not ${dev}`, detail: `table ${table} sends its subflow through the wrong interface.`, fix: `ip route replace default via GATEWAY dev ${dev} table ${table}` });
    } else {
      out.push({ id: 'endpoint-route', level: 'ok', title: `endpoint ${ep.address} leaves via ${def.dev ?? '?'} (table ${table})` });
    }
  }

  // REDIRECT / TPROXY.
  const rs = nftRuleset();
  const redirectLines = rs.split('\n').filter((l) => /\b(redirect to|tproxy to)\b/.test(l));
  if (redirectLines.length === 0) {
    out.push({ id: 'redirect', level: 'fail', title: 'no REDIRECT/TPROXY rule', detail: 'the LAN\'s TCP connections are not sent to redsocks-ts; they go straight out (or nowhere).', fix: 'mptcp-gateway setup --lan IFACE --redsocks-port PORT ...' });
  } else {
    const ports = redirectLines.map((l) => Number(/to [\d.]*:(\d+)/.exec(l)?.[1]));
    if (opts.redsocksPort !== undefined && !ports.includes(opts.redsocksPort)) {
      out.push({ id: 'redirect', level: 'fail', title: `REDIRECT goes to :${ports.join(', :')}, not to redsocks-ts on :${opts.redsocksPort}`, fix: 'mptcp-gateway setup ... --redsocks-port ' + opts.redsocksPort });
    } else out.push({ id: 'redirect', level: 'ok', title: `LAN TCP is redirected to :${ports.join(', :')}` });
    // A redirect in the output hook catches redsocks-ts' own upstream connections unless excluded.
    for (const chain of rs.split(/\n\s*chain /).slice(1)) {
      if (!/hook output/.test(chain) || !/(redirect|tproxy) to/.test(chain)) continue;
      const excluded = /skuid|skgid|meta mark|ct mark/.test(chain) || (opts.server && chain.includes(opts.server.host));
      if (!excluded) {
        out.push({ id: 'redirect-loop', level: 'fail', title: 'REDIRECT loops to the proxy', detail: 'an output-hook redirect with no exclusion catches redsocks-ts\' own connection to the SOCKS server and sends it back into redsocks-ts.', fix: `add \`ip daddr ${opts.server?.host ?? 'PROXY'} return\` (or \`meta skuid REDSOCKS_USER return\`) before the redirect, or redirect only in prerouting` });
      }
    }
    if (opts.server && !rs.includes(opts.server.host)) {
      out.push({ id: 'redirect-loop', level: 'warn', title: `the proxy address ${opts.server.host} is not excluded from the redirect`, detail: 'a LAN host talking to the SOCKS server directly would be redirected into redsocks-ts and proxied to the proxy itself.', fix: `add \`ip daddr ${opts.server.host} return\` before the redirect (mptcp-gateway setup --proxy does)` });
    }
    if (opts.redsocksPort !== undefined && !run(`ss -ltnH 'sport = :${opts.redsocksPort}'`).out.trim()) {
      out.push({ id: 'redsocks-listening', level: 'warn', title: `nothing listens on :${opts.redsocksPort}`, detail: 'redirected LAN connections will be refused.', fix: 'start redsocks-ts' });
    }
  }

  checkTfo(out, 0x1, 'client', 'redsocks-ts cannot carry the SOCKS handshake in the SYN (fastopen = on has no effect).');
  checkStale(out);
  checkBlackhole(out);
  for (const [dev] of addrs) {
    const rp = readSysctl(`net.ipv4.conf.${dev}.rp_filter`);
    const all = readSysctl('net.ipv4.conf.all.rp_filter');
    const isWan = subflowEps.some((e) => e.dev === dev || addrs.get(dev)?.includes(e.address));
    if (isWan && Math.max(Number(rp ?? 0), Number(all ?? 0)) === 1) {
      out.push({ id: 'rp-filter', level: 'warn', title: `strict rp_filter on ${dev}`, detail: 'replies that arrive on an interface the main table would not use are dropped; loose mode is safer with several ISPs.', fix: `sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.${dev}.rp_filter=2` });
    }
  }

  if (opts.server) {
    const { host, port } = opts.server;
    const t = opts.timeoutMs ?? 3000;
    const results = await Promise.all(subflowEps.map((ep) => probe(host, port, ep.address, t)));
    subflowEps.forEach((ep, i) => {
      const err = results[i];
      if (err) out.push({ id: 'server-path', level: 'fail', title: `server ${host}:${port} unreachable from ${ep.address}${ep.dev ? ` (${ep.dev})` : ''}: ${err}`, detail: 'that ISP is down, its policy route is missing, or the server does not listen.', fix: 'check the link and `ip route get ' + host + ' from ' + ep.address + '`' });
      else out.push({ id: 'server-path', level: 'ok', title: `server ${host}:${port} reachable from ${ep.address}` });
    });
    // Live connections to the server: subflows carry the mptcp ULP; anything else is plain TCP.
    const ss = run(`ss -tinH state established dst ${host} dport = :${port}`);
    const conns = ss.out.split(/\n(?=\S)/).filter((b) => b.trim());
    const plain = conns.filter((b) => !/tcp-ulp-mptcp/.test(b) || /fallback/.test(b));
    if (plain.length) {
      const who = plain.map((b) => b.trim().split(/\s+/).slice(2, 3).join(' ')).join(', ');
      out.push({ id: 'fallback', level: 'fail', title: `${plain.length} live connection(s) to the server fell back to plain TCP`, detail: `from ${who}: they use one ISP and die with it. Usually the server does not listen with MPTCP, or a middlebox strips MPTCP options.`, fix: 'run `mptcp-gateway doctor --role server --listen ' + host + ':' + port + '` on the server' });
    } else if (conns.length) out.push({ id: 'fallback', level: 'ok', title: `${conns.length} live subflow(s) to the server, all MPTCP` });
  }
  return out;
}

export function formatFindings(f: Finding[]): string {
  const tag: Record<Level, string> = { ok: ' ok ', warn: 'WARN', fail: 'FAIL' };
  return f
    .map((x) => `[${tag[x.level]}] ${x.title}${x.detail ? `\n       ${x.detail}` : ''}${x.fix && x.level !== 'ok' ? `\n       fix: ${x.fix}` : ''}`)
    .join('\n');
}
