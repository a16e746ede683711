/**
 * Named WAN scenarios for the two-ISP lab. Every delay here is ONE-WAY and applies in each
 * direction, so a link's base RTT is twice its delayMs (equal-20: 20 ms each way = 40 ms RTT).
 * Loss applies independently in each direction. Rates are the bottleneck rate per direction.
 * queuePkts is the bottleneck queue (tail drop) in full-size frames, about 1.5x the BDP.
 */
export interface DirParams {
  delayMs: number;
  rateMbit: number; // 0 = unlimited
  lossPct: number;
  queuePkts: number;
}

export interface LinkProfile {
  up: DirParams; // gateway -> internet
  down: DirParams; // internet -> gateway
}

export interface LabProfile {
  name: string;
  description: string;
  isp1: LinkProfile;
  isp2: LinkProfile;
}

function sym(delayMs: number, rateMbit: number, lossPct: number, queuePkts: number): LinkProfile {
  const d = { delayMs, rateMbit, lossPct, queuePkts };
  return { up: { ...d }, down: { ...d } };
}

export const PROFILES: Record<string, LabProfile> = {
  'equal-20': {
    name: 'equal-20',
    description: 'two equal clean links: 20 Mbit/s, 20 ms one-way (40 ms RTT)',
    isp1: sym(20, 20, 0, 100),
    isp2: sym(20, 20, 0, 100),
  },
  'lossy-10': {
    name: 'lossy-10',
    description: 'two lossy links: 10 Mbit/s, 40 ms one-way (80 ms RTT), 1 % random loss each way',
    isp1: sym(40, 10, 1, 100),
    isp2: sym(40, 10, 1, 100),
  },
  asym: {
    name: 'asym',
    description: 'isp1 30 Mbit/s, 15 ms one-way (30 ms RTT), clean; isp2 8 Mbit/s, 60 ms one-way (120 ms RTT), 1 % loss each way',
    isp1: sym(15, 30, 0, 100),
    isp2: sym(60, 8, 1, 100),
  },
  /** Not a scenario: a fast, short-delay lab for functional tests. */
  fast: {
    name: 'fast',
    description: 'test profile: 100 Mbit/s, 2 ms one-way, clean',
    isp1: sym(2, 100, 0, 200),
    isp2: sym(2, 100, 0, 200),
  },
};

const E2E_LINK = { delayMs: 5, rateMbit: 50, lossPct: 0, queuePkts: 100 };
/** The e2e tests' lab: short and fast, for functional checks (no timing asserts). */
export const E2E_PROFILE: LabProfile = {
  name: 'e2e',
  description: 'two 50 Mbit/s, 5 ms one-way links (short, for tests)',
  isp1: { up: { ...E2E_LINK }, down: { ...E2E_LINK } },
  isp2: { up: { ...E2E_LINK }, down: { ...E2E_LINK } },
};

export function profile(name: string): LabProfile {
  const p = PROFILES[name];
  if (!p) throw new Error(`unknown lab profile "${name}" (known: ${Object.keys(PROFILES).join(', ')})`);
  return p;
}

/** Base RTT of a link in ms (no queueing). */
export function rttMs(l: LinkProfile): number {
  return l.up.delayMs + l.down.delayMs;
}
