export { GatewaySpec, WanSpec, parseWan, parseLan, parseHostPort, defaultSpec } from './spec';
export { planSetup, planUndo, Step, Snapshot } from './plan';
export { nftRules } from './nft-rules';
export { setup, undo, snapshot } from './setup';
export { doctor, formatFindings, Finding, DoctorOptions } from './doctor';
