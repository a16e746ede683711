/** `mptcp-gateway setup`: apply (or print, or undo) the plan. Idempotent: a second run does nothing. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ProxyError } from '@mptcp-proxy/common';
import { GatewaySpec } from './spec';
import { planSetup, planUndo, SavedState, Snapshot, Step, tableOf, TPROXY_TABLE, wantedSysctls } from './plan';
import { familyOf } from './spec';
import { nftTable, readEndpoints, readLimits, readRoutes, readRules, readSysctl } from './system';
import { LEGACY_NFT_FAMILY, NFT_FAMILY, NFT_TABLE } from './nft-rules';

export function snapshot(spec: GatewaySpec): Snapshot {
  const sysctls: Record<string, string | undefined> = {};
  const keys = wantedSysctls(spec, { 'net.ipv4.tcp_fastopen': '0' }).map((s) => s.key);
  for (const k of keys) sysctls[k] = readSysctl(k);
  const routes: Record<number, ReturnType<typeof readRoutes>> = {};
  spec.wans.forEach((w, i) => (routes[tableOf(spec, i)] = readRoutes(tableOf(spec, i), familyOf(w.addr))));
  routes[TPROXY_TABLE] = readRoutes(TPROXY_TABLE);
  return {
    sysctls,
    limits: readLimits(),
    endpoints: readEndpoints(),
    rules: [...readRules(4), ...readRules(6)],
    routes,
    routes6: { [TPROXY_TABLE]: readRoutes(TPROXY_TABLE, 6) },
    nftTable: nftTable(NFT_FAMILY, NFT_TABLE),
    legacyNftTable: nftTable(LEGACY_NFT_FAMILY, NFT_TABLE),
    ipv6: readSysctl('net.ipv6.conf.lo.disable_ipv6') === '0',
  };
}

function exec(step: Step): void {
  // nft reads its ruleset from stdin; everything else runs through bash with stdin closed (see run()).
  const r = step.stdin !== undefined
    ? spawnSync('nft', ['-f', '-'], { encoding: 'utf8', input: step.stdin })
    : spawnSync('bash', ['-c', step.cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0 && !endpointInPlace(step)) {
    throw new ProxyError('EGATEWAY_STEP', `${step.what}: \`${step.cmd}\` failed: ${(r.stderr || r.stdout).trim()}`);
  }
}

/**
 * A running redsocks-ts also puts endpoints back (`paths = auto`, docs/wan-paths.md): when an
 * endpoint add failed because the same endpoint appeared meanwhile, the step's goal is met.
 */
function endpointInPlace(step: Step): boolean {
  const m = / endpoint add ([\d.a-f:]+) dev (\S+) (.*)$/.exec(step.cmd);
  if (!m) return false;
  const want = m[3].split(' ');
  return readEndpoints().some((e) => e.address === m[1] && e.dev === m[2] && want.every((f) => e.flags.includes(f)));
}

export function formatStep(s: Step): string {
  const body = s.stdin ? `${s.cmd} <<'EOF'\n${s.stdin}EOF` : s.cmd;
  return `# ${s.what}\n#   why: ${s.why}\n${body}`;
}

export interface SetupResult {
  steps: Step[];
  applied: boolean;
}

export function setup(spec: GatewaySpec, opts: { dryRun?: boolean } = {}): SetupResult {
  const snap = snapshot(spec);
  const steps = planSetup(spec, snap);
  if (opts.dryRun) return { steps, applied: false };
  // Remember the pre-setup values once (a re-run must not overwrite them with our own).
  const old = loadState(spec.statePath);
  const st: SavedState = old ?? { version: 1, spec, sysctls: {}, limits: snap.limits, endpoints: [] };
  st.spec = spec;
  for (const s of steps) {
    const m = /^sysctl -qw ([^=]+)=/.exec(s.cmd);
    if (m && snap.sysctls[m[1]] !== undefined && !(m[1] in st.sysctls)) st.sysctls[m[1]] = snap.sysctls[m[1]] as string;
    const ep = / endpoint add ([\d.a-f:]+) /.exec(s.cmd);
    if (ep && !st.endpoints.includes(ep[1])) st.endpoints.push(ep[1]);
  }
  for (const s of steps) exec(s);
  fs.mkdirSync(path.dirname(spec.statePath), { recursive: true });
  fs.writeFileSync(spec.statePath, JSON.stringify(st, null, 2));
  return { steps, applied: true };
}

export function loadState(p: string): SavedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8')) as SavedState;
  } catch {
    return undefined;
  }
}

/** Reverse setup from its saved state (or, without one, from the spec given now). */
export function undo(spec: GatewaySpec, opts: { dryRun?: boolean } = {}): SetupResult {
  const st: SavedState = loadState(spec.statePath) ?? {
    version: 1,
    spec,
    sysctls: {},
    endpoints: spec.wans.map((w) => w.addr),
  };
  const steps = planUndo(st, snapshot(st.spec));
  if (opts.dryRun) return { steps, applied: false };
  for (const s of steps) exec(s);
  fs.rmSync(spec.statePath, { force: true });
  return { steps, applied: true };
}
