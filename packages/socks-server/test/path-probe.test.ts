/**
 * redsocks-ts' WAN path probes (issue 14 §4): a greeting offering only PATH_PROBE_METHOD, then
 * EOF. With the shipped `log: error` the server must not log them as blocked connections
 * (debug only), while a real client that leaves before negotiating still logs block.
 */
import { PATH_PROBE_GREETING } from '@mptcp-proxy/common';
import { waitFor } from '@mptcp-proxy/lab';
import { RawClient, serverFrom } from './helpers/fixture';

const CONF = `internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: none
debug: 1
client pass { from: 0/0 to: 0/0
  log: error }
socks pass { from: 0/0 to: 0/0
  log: error }
`;

test('a path probe is answered "no method", logged at debug, never as block; a bare EOF still logs block', async () => {
  const fx = await serverFrom(CONF);
  try {
    const p = await RawClient.connect(fx.port);
    p.write(PATH_PROBE_GREETING);
    p.sock.end();
    expect((await p.read(2)).toString('hex')).toBe('05ff');
    await p.untilEnd();
    await waitFor(() => fx.lines.some((l) => l.includes('WAN path probe')), 5000, 'the probe debug line');
    expect(fx.lines.filter((l) => /block\(/.test(l))).toEqual([]);

    const e = await RawClient.connect(fx.port);
    e.sock.end();
    await e.untilEnd();
    await waitFor(() => fx.lines.some((l) => /block\(\d+\): tcp\/accept \]: .*eof from local client/.test(l)), 5000, 'block line');
    expect(fx.lines.filter((l) => /block\(/.test(l))).toHaveLength(1);
  } finally {
    await fx.close();
  }
});
