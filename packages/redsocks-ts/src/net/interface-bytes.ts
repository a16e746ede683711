/**
 * Byte counters of network interfaces from /proc/net/dev (the reading process' network
 * namespace), for the per-path bytes of paths that name a device (docs/metrics.md).
 */
import * as fs from 'node:fs';

export interface InterfaceBytes {
  rx: number;
  tx: number;
}

/**
 * Parses /proc/net/dev: two header lines, then `name: rx_bytes rx_packets ... (8 rx fields)
 * tx_bytes ...`. Lines that do not have that shape are skipped. Pure.
 */
export function parseProcNetDev(text: string): Map<string, InterfaceBytes> {
  const out = new Map<string, InterfaceBytes>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (name === '' || f.length < 16 || !f.every((x) => /^\d+$/.test(x))) continue;
    out.set(name, { rx: Number(f[0]), tx: Number(f[8]) });
  }
  return out;
}

/** The counters now; an empty map when /proc/net/dev cannot be read. */
export function readInterfaceBytes(path = '/proc/net/dev'): Map<string, InterfaceBytes> {
  try {
    return parseProcNetDev(fs.readFileSync(path, 'utf8'));
  } catch {
    return new Map();
  }
}
