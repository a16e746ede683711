import * as net from 'node:net';
import { ConfigValueError } from '@mptcp-proxy/common';
import { strtoul } from './strtoul';
import type { WanPath } from './types';

const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const DEVICE = /^[A-Za-z0-9_.:@-]{1,15}$/;

/**
 * `paths = "wan1 10.1.1.1 dev eth1, wan2 10.1.2.1 dev eth2 mark 0x2 backup";`
 * One quoted string (redsocks' grammar has no lists and a repeated key would just win):
 * comma-separated entries of `NAME SOURCE_IP [dev DEVICE] [mark N] [backup]`.
 */
export function parseWanPaths(value: string): WanPath[] {
  const paths: WanPath[] = [];
  if (value.trim() === '') return paths;
  for (const entry of value.split(',')) {
    const words = entry.trim().split(/\s+/).filter((w) => w !== '');
    if (words.length < 2) {
      throw new ConfigValueError(`path <${entry.trim()}> needs a name and a source address`);
    }
    const [name, source, ...rest] = words as [string, string, ...string[]];
    if (!NAME.test(name)) throw new ConfigValueError(`path name <${name}> must be 1-32 of [A-Za-z0-9_-]`);
    if (paths.some((p) => p.name === name)) throw new ConfigValueError(`path name <${name}> is used twice`);
    if (net.isIP(source) === 0) throw new ConfigValueError(`path <${name}>: source <${source}> is not an IP address`);
    const path: WanPath = { name, source, backup: false };
    for (let i = 0; i < rest.length; i++) {
      const word = rest[i]!;
      if (word === 'backup') path.backup = true;
      else if (word === 'dev' && rest[i + 1] !== undefined) {
        const dev = rest[++i]!;
        if (!DEVICE.test(dev)) throw new ConfigValueError(`path <${name}>: bad device name <${dev}>`);
        path.device = dev;
      } else if (word === 'mark' && rest[i + 1] !== undefined) {
        const text = rest[++i]!;
        const r = strtoul(text);
        if (r.end !== text.length || text.length === 0 || r.value > 0xffffffffn || /^\s|[-+]/.test(text)) {
          throw new ConfigValueError(`path <${name}>: mark <${text}> is not a 32-bit number`);
        }
        path.mark = Number(r.value);
      } else {
        throw new ConfigValueError(`path <${name}>: unexpected <${word}> (expected dev DEVICE, mark N or backup)`);
      }
    }
    paths.push(path);
  }
  if (paths.length > 0 && paths.every((p) => p.backup)) {
    throw new ConfigValueError('every path is a backup path; at least one must be active');
  }
  return paths;
}
