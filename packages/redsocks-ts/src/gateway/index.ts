export { parseWan, parseLan, parseHostPort, defaultSpec } from './spec';
export type { GatewaySpec, WanSpec } from './spec';
export { planSetup, planUndo } from './plan';
export type { Step, Snapshot } from './plan';
export { nftRules } from './nft-rules';
export { setup, undo, snapshot } from './setup';
export { doctor, formatFindings } from './doctor';
export { parseNetstat, readMptcpCounters } from './system';
export type { Finding, DoctorOptions } from './doctor';
