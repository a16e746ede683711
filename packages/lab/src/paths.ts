/** Where things are in the repository (the lab runs from source, through tsx). */
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');
export const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
export const TSCONFIG = path.join(ROOT, 'tsconfig.test.json');

/** Argv that runs a TypeScript entry point of this repository from source (`rel` from ROOT). */
export function tsEntry(rel: string): string[] {
  return ['env', `TSX_TSCONFIG_PATH=${TSCONFIG}`, 'node', '--import', 'tsx', path.join(ROOT, rel)];
}

/**
 * Argv that runs one of our compiled daemons (`rel` from ROOT) under node, with the extra node
 * flags of RTS_LAB_NODE_FLAGS (space-separated, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`;
 * docs/lab.md, "Profiling the daemons in the lab").
 */
export function daemonEntry(rel: string): string[] {
  const flags = (process.env.RTS_LAB_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  return ['node', ...flags, path.join(ROOT, rel)];
}
