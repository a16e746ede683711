export { createDialer, type Dialer, type DialerOptions, type DialSection } from './dialer';
export { PathHealth, pathChannel, isPathFailure, type PathView, type PathEvent, type PathStateName } from './path-health';
export { WarmPool, type PoolStats, type PooledConn } from './warm-pool';
export { dialLog, dialerDumpLines } from './report';
