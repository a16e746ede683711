/**
 * Advice for keys and sections redsocks 0.5 rejects but users bring from redsocks2
 * (semigodking/redsocks), newer redsocks, or old redsocks versions. redsocks' own error
 * text is kept; the hint is extra.
 */
const V2_ADDR = 'redsocks2 syntax; redsocks 0.5 uses';

const KEY_HINTS: Record<string, Record<string, string>> = {
  base: {
    reuseport: 'redsocks2 key; not in redsocks 0.5 (each instance needs its own local_port)',
    min_accept_backoff: 'redsocks2 key; redsocks 0.5 has only `max_accept_backoff` (in `base`)',
    log_level: 'use `log_debug = on;` / `log_info = on;`',
  },
  redsocks: {
    bind: `${V2_ADDR} \`local_ip = A.B.C.D; local_port = N;\``,
    relay: `${V2_ADDR} \`ip = A.B.C.D; port = N;\``,
    interface: 'redsocks2 key; bind the WAN side with the `paths = "NAME SOURCE dev DEV";` extension instead',
    timeout: 'redsocks2 key (autoproxy); not in redsocks 0.5',
    autoproxy: 'redsocks2 autoproxy is not supported',
    min_accept_backoff: 'redsocks2 key; redsocks 0.5 has only `max_accept_backoff`, in `base`',
    max_accept_backoff: 'max_accept_backoff is not per-port setting anymore, move it from `redsocks` to `base`',
    redirector: 'move `redirector` to the `base { }` section',
    log_debug: 'move logging keys to the `base { }` section',
    log_info: 'move logging keys to the `base { }` section',
    user: 'move `user` to the `base { }` section',
    dest_ip: '`dest_ip` belongs to `redudp { }`; TCP destinations come from the redirector',
    dest_port: '`dest_port` belongs to `redudp { }`; TCP destinations come from the redirector',
    wan_paths: 'the key is `paths = "NAME SOURCE [dev DEV] [mark N] [backup], ...";`',
    path: 'the key is `paths = "NAME SOURCE [dev DEV] [mark N] [backup], ...";`',
    tfo: 'the key is `fastopen = on;`',
    tcp_fastopen: 'the key is `fastopen = on;`',
  },
  redudp: {
    bind: `${V2_ADDR} \`local_ip = A.B.C.D; local_port = N;\``,
    relay: `${V2_ADDR} \`ip = A.B.C.D; port = N;\``,
    dest: `${V2_ADDR} \`dest_ip = A.B.C.D; dest_port = N;\``,
    type: 'redudp in redsocks 0.5 speaks SOCKS5 only and has no `type` key',
    max_pktqueue: 'not configurable in redsocks 0.5 (fixed at 5 packets)',
  },
  dnstc: {
    bind: `${V2_ADDR} \`local_ip = A.B.C.D; local_port = N;\``,
  },
};

const SECTION_HINTS: Record<string, string> = {
  autoproxy: 'redsocks2 section; autoproxy is not supported by redsocks 0.5',
  ipcache: 'redsocks2 section; not supported by redsocks 0.5',
  tcpdns: 'redsocks2 section; redsocks 0.5 has `dnstc { }` (answers UDP DNS with TC so resolvers retry over TCP)',
  dnsu2t: '`dnsu2t` appeared after redsocks 0.5; use `dnstc { }`',
  reddns: '`reddns` is not built in redsocks 0.5; use `dnstc { }`',
  redsocks2: 'the section is called `redsocks { }`',
};

export function unknownKeyHint(section: string, key: string): string | undefined {
  const table = Object.prototype.hasOwnProperty.call(KEY_HINTS, section) ? KEY_HINTS[section]! : undefined;
  if (table !== undefined && Object.prototype.hasOwnProperty.call(table, key)) return table[key];
  return undefined;
}

export function unknownSectionHint(section: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(SECTION_HINTS, section) ? SECTION_HINTS[section] : undefined;
}
