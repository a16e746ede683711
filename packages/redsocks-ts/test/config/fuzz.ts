/** Seeded generators shared by the unit fuzz test and the differential test against redsocks. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const VOCABULARY = [
  'base', 'redsocks', 'redudp', 'dnstc', 'reddns', '{', '}', '{', '}', '=', '=', ';', ';', ';', '\n', '\n', ' ', '\t',
  'redirector', 'iptables', 'generic', 'log', 'log_debug', 'log_info', 'daemon', 'on', 'off', 'yes', 'ok', 'On',
  'max_accept_backoff', 'rlimit_nofile', 'redsocks_conn_max', 'tcp_keepalive_time', 'type', 'socks5', 'socks4',
  'http-connect', 'http-relay', 'local_ip', 'local_port', 'ip', 'port', 'login', 'password', 'disclose_src',
  'on_proxy_fail', 'X-Forwarded-For', 'forward_http_err', 'close', 'splice', 'listenq', 'udp_timeout',
  'udp_timeout_stream', 'dest_ip', '0', '1', '08', '010', '1080', '65536', '0x438', '"0x438"', '127.0.0.1',
  '10.1', '10.0.0.0/8', '1/x', '"a\\"b"', '"\\q"', '"x', '"', '"stderr"', '"syslog:daemon"', '//', '/*', '*/',
  '/', '#', '@', '\r', '"-1"', '""', 'mptcp', 'auto', 'paths', '"w 10.1.1.1"',
];

export function tokenSoup(rand: () => number, maxTokens = 40): string {
  const n = 1 + Math.floor(rand() * maxTokens);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(VOCABULARY[Math.floor(rand() * VOCABULARY.length)]!);
    if (rand() < 0.6) parts.push(' ');
  }
  return parts.join('');
}

const SECTIONS: Record<string, string[]> = {
  base: ['redirector', 'log', 'log_debug', 'log_info', 'daemon', 'max_accept_backoff', 'rlimit_nofile', 'tcp_keepalive_time', 'user'],
  redsocks: ['type', 'local_ip', 'local_port', 'ip', 'port', 'login', 'password', 'disclose_src', 'on_proxy_fail', 'splice', 'listenq', 'mptcp', 'fastopen_data_ports', 'paths', 'optimistic'],
  redudp: ['local_ip', 'local_port', 'ip', 'port', 'dest_ip', 'udp_timeout', 'udp_timeout_stream', 'login'],
  dnstc: ['local_ip', 'local_port'],
};
const VALUES = [
  'iptables', 'generic', 'pf', 'on', 'off', 'ok', 'false', 'On', '1', '0', '08', '010', '1080', '65535', '65536', '"0x438"',
  '"-1"', '""', '127.0.0.1', '10.1', '"::1"', 'socks5', 'socks4', 'http-connect', 'http-relay', 'SOCKS5', 'direct',
  'X-Forwarded-For', 'Forwarded_ipport', 'true', 'close', 'forward_http_err', '"stderr"', '"a b"', '"99999999999"',
  'auto', '"443,8443"', '"w1 10.0.0.1, w2 10.0.0.2 backup"',
];

/** Mostly well-formed sections with random keys and values, then a few random mutations. */
export function structuredSoup(rand: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const tokens: string[] = [];
  const sections = 1 + Math.floor(rand() * 3);
  for (let s = 0; s < sections; s++) {
    const name = pick(Object.keys(SECTIONS));
    tokens.push(name, '{', '\n');
    const n = Math.floor(rand() * 5);
    for (let k = 0; k < n; k++) tokens.push(pick(SECTIONS[name]!), rand() < 0.8 ? '=' : '', pick(VALUES), ';', '\n');
    tokens.push('}', '\n');
  }
  const mutations = Math.floor(rand() * 3);
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(rand() * tokens.length);
    const r = rand();
    if (r < 0.4) tokens.splice(at, 1);
    else if (r < 0.7) tokens.splice(at, 0, pick(VOCABULARY));
    else tokens.splice(at, 0, tokens[at] ?? ';');
  }
  return `${tokens.join(' ')}\n`;
}
