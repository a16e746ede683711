/** Keyword tables of Dante 1.4.2's danted.conf grammar (values as danted.conf(5) spells them). */

export const SOCKS_METHODS: ReadonlySet<string> = new Set([
  'none', 'username', 'pam.any', 'pam.address', 'pam.username', 'rfc931',
]);

export const CLIENT_METHODS: ReadonlySet<string> = new Set(['none', 'pam.any', 'pam.address', 'rfc931']);

/** Methods Dante refuses in `clientmethod`, with the method number it prints. */
export const CLIENT_METHOD_NUMBERS: Readonly<Record<string, number>> = { username: 2 };

/** Methods that give the server a user name (what `user:`/`group:` need). */
export const USERNAME_METHODS: ReadonlySet<string> = new Set(['username', 'pam.any', 'pam.username', 'rfc931']);

export const COMMANDS: ReadonlySet<string> = new Set(['connect', 'bind', 'udpassociate', 'bindreply', 'udpreply']);
export const PROTOCOLS: ReadonlySet<string> = new Set(['tcp', 'udp']);
export const PROXY_PROTOCOLS: ReadonlySet<string> = new Set(['socks_v4', 'socks_v5']);
export const LOG_EVENTS: ReadonlySet<string> = new Set(['connect', 'disconnect', 'data', 'error', 'iooperation', 'tcpinfo']);
export const MPTCP_MODES: ReadonlySet<string> = new Set(['auto', 'on', 'off']);

/** `internal.tcp.tcp_nodelay`, `external.ip.ip_tos`, `socket.*` ... (socket options; accepted, ignored). */
export function isSocketOption(name: string): boolean {
  return /^(internal|external)\.(ip|ipv4|ipv6|tcp|udp|socket)\.[a-z0-9_]+$/i.test(name);
}
