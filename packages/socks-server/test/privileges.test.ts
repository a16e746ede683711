/**
 * The permanent privilege drop (privileges.ts over mptcp-native's prctl/capset), in a child
 * process: every uid and gid becomes the unprivileged user's, root can never come back, and
 * only the capabilities asked for stay (CAP_NET_BIND_SERVICE for a udp.portrange below 1024).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CAP } from 'mptcp-native';
import { parseDantedConfig } from '../src';
import { capabilitiesNeeded } from '../src/privileges';

const TSX = join(__dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');
const CHILD = join(__dirname, 'fixtures', 'drop-child.ts');

function dropIn(keep: number[]): Record<string, unknown> {
  const r = spawnSync(TSX, [CHILD, ...keep.map(String)], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('nothing kept: all ids nobody, no capability, setuid(0) fails, ports below 1024 refused', () => {
  const r = dropIn([]);
  expect(r).toMatchObject({
    uid: [65534, 65534, 65534, 65534], gid: [65534, 65534, 65534, 65534], capPrm: '0', capEff: '0', capInh: '0', capAmb: '0',
    setuid: 'EPERM', bindLow: 'EACCES',
  });
  expect(r.groups).not.toContain(0);
});

test('CAP_NET_BIND_SERVICE kept: that one capability only, and a port below 1024 binds', () => {
  const r = dropIn([CAP.NET_BIND_SERVICE]);
  expect(r).toMatchObject({
    uid: [65534, 65534, 65534, 65534], capPrm: (1 << CAP.NET_BIND_SERVICE).toString(16), capEff: (1 << CAP.NET_BIND_SERVICE).toString(16),
    setuid: 'EPERM', bindLow: 'ok',
  });
});

test('the serving process keeps CAP_NET_BIND_SERVICE only for a udp.portrange below 1024', () => {
  const conf = (range: string): string => `internal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none\n`
    + `socks pass { from: 0/0 to: 0/0\n  udp.portrange: ${range}\n}\n`;
  expect(capabilitiesNeeded(parseDantedConfig(conf('40000-40100'), 'a.conf').config)).toEqual([]);
  expect(capabilitiesNeeded(parseDantedConfig(conf('500-600'), 'b.conf').config)).toEqual([CAP.NET_BIND_SERVICE]);
});
