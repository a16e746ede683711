/**
 * The node flags a daemon's bin passes in its shebang (`#!/usr/bin/env -S node
 * --max-semi-space-size=1`: socks-server's; redsocks-ts' has none), so a bench that runs the
 * compiled cli.js with `node` gives each daemon the heap it ships with.
 */
import { readFileSync } from 'node:fs';

export function shebangFlags(cliJs: string): string[] {
  const first = readFileSync(cliJs, 'utf8').split('\n', 1)[0];
  const m = /^#!.*\bnode\b(.*)$/.exec(first);
  return m ? m[1].trim().split(/\s+/).filter((f) => f.startsWith('--')) : [];
}
