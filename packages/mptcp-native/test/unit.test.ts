/** The TS layer: option validation, error shapes, syslog formatting and the loader's degrade path. */
import * as net from 'node:net';
import * as path from 'node:path';
import { once } from 'node:events';
import { connect, listen, formatSyslog, syslogTimestamp, candidatePaths, loadNative, ErrorCodes, unmetAddonNeeds } from 'mptcp-native';

describe('option validation', () => {
  test.each([
    [{ host: '', port: 80 }, /host/],
    [{ host: '127.0.0.1', port: 0 }, /port/],
    [{ host: '127.0.0.1', port: 70000 }, /port/],
    [{ host: '127.0.0.1', port: 80, localAddress: 'eth0' }, /localAddress/],
    [{ host: '127.0.0.1', port: 80, mark: -1 }, /mark/],
    [{ host: '127.0.0.1', port: 80, timeout: -5 }, /timeout/],
    [{ host: '127.0.0.1', port: 80, bindDevice: 'a-very-long-interface-name' }, /bindDevice/],
    [{ host: '127.0.0.1', port: 80, mptcp: 'yes' }, /mptcp must be/],
  ])('connect(%j) rejects', async (opts, msg) => {
    await expect(connect(opts as never)).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION, message: expect.stringMatching(msg) });
  });

  test.each([
    [{ port: -1 }, /port/],
    [{ port: 0, host: 'localhost' }, /IP literal/],
    [{ port: 0, backlog: 1.5 }, /backlog/],
    [{ port: 0, fastOpen: -1 }, /fastOpen/],
    [{ port: 0, mptcp: 'always' }, /mptcp must be/],
  ])('listen(%j) rejects', async (opts, msg) => {
    await expect(listen(opts as never)).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION, message: expect.stringMatching(msg) });
  });

  test('bind errors carry syscall, address and port', async () => {
    const a = await listen({ host: '127.0.0.1', port: 0, mptcp: 'on' });
    const port = (a.address() as net.AddressInfo).port;
    await expect(listen({ host: '127.0.0.1', port, mptcp: 'on' })).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port });
    await new Promise((r) => a.close(r));
  });
});

describe('syslog format', () => {
  test('RFC 3164 line: <PRI>Mmm dd hh:mm:ss ident[pid]: msg', () => {
    const d = new Date(2026, 10, 5, 7, 8, 9);
    expect(syslogTimestamp(d)).toBe('Nov  5 07:08:09');
    expect(formatSyslog(3 * 8 + 6, 'redsocks', 42, 'hello', d)).toBe('<30>Nov  5 07:08:09 redsocks[42]: hello');
    expect(syslogTimestamp(new Date(2026, 0, 15, 23, 59, 0))).toBe('Jan 15 23:59:00');
  });
});

describe('loader', () => {
  test('lists every path it tried', () => {
    const paths = candidatePaths('/pkg', undefined);
    expect(paths).toEqual([
      '/pkg/build/Release/mptcp_native.node',
      '/pkg/build/Debug/mptcp_native.node',
      `/pkg/prebuilds/${process.platform}-${process.arch}/mptcp_native.node`,
    ]);
    const r = loadNative(paths);
    expect(r.binding).toBeNull();
    for (const p of paths) expect(r.reason).toContain(p);
  });

  test('MPTCP_NATIVE_PATH replaces the search list (dir or file)', () => {
    expect(candidatePaths('/pkg', '/opt/x')).toEqual(['/opt/x/mptcp_native.node']);
    expect(candidatePaths('/pkg', '/opt/y.node')).toEqual(['/opt/y.node']);
  });
});

describe('unmetAddonNeeds', () => {
  test('null when the addon is loaded (both files), or when nothing needs it', () => {
    expect(unmetAddonNeeds([])).toBeNull();
    expect(unmetAddonNeeds([
      { where: 'x.conf:3', setting: 'a = on', why: 'A' },
      { where: 'x.conf:4', setting: 'splice = on', why: 'splice(2)', module: 'splice' },
    ])).toBeNull();
  });
});

describe('degrade path (addon absent)', () => {
  type Api = typeof import('../src/index');
  let api: Api;
  let warn: jest.SpyInstance;

  beforeAll(() => {
    process.env.MPTCP_NATIVE_PATH = path.join('/nonexistent', `mptcp-${process.pid}`);
    warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    jest.isolateModules(() => {
      api = require('../src/index') as Api;
    });
  });
  afterAll(() => {
    delete process.env.MPTCP_NATIVE_PATH;
    warn.mockRestore();
  });

  test('importing works; addonStatus says why; one warning', async () => {
    const st = api.addonStatus();
    expect(st.loaded).toBe(false);
    expect(st.reason).toContain(`/nonexistent/mptcp-${process.pid}/mptcp_native.node`);
    api.addonStatus();
    await api.connect({ host: '127.0.0.1', port: 9 }).catch(() => undefined);
    const msgs = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('falling back to plain TCP'));
    expect(msgs).toHaveLength(1);
  });

  test('unmetAddonNeeds names each setting, what it needs, the alternative and the fix', () => {
    const err = api.unmetAddonNeeds([
      { where: 'x.conf:3', setting: 'mptcp = on', why: 'IPPROTO_MPTCP sockets', instead: 'mptcp = auto' },
      { where: 'x.conf:9', setting: 'splice = on', why: 'splice(2)', module: 'splice' },
    ]);
    expect(err).toMatchObject({ code: 'EMPTCP_ADDON_REQUIRED' });
    expect(err!.message.split('\n').slice(0, 4)).toEqual([
      'this configuration needs the mptcp-native addon:',
      '  x.conf:3: mptcp = on (IPPROTO_MPTCP sockets); or set mptcp = auto',
      '  x.conf:9: splice = on (splice(2))',
      `mptcp_native.node is not loaded: native addon not loaded; tried /nonexistent/mptcp-${process.pid}/mptcp_native.node: not found`,
    ]);
    expect(err!.message).toContain(`cd ${path.resolve(__dirname, '..')} && npm run build`);
  });

  test("mptcp: 'on' fails saying why; 'auto' uses plain net", async () => {
    await expect(api.connect({ host: '127.0.0.1', port: 9, mptcp: 'on' })).rejects.toMatchObject({
      code: 'EMPTCP_UNAVAILABLE', message: expect.stringContaining('not loaded'),
    });
    await expect(api.listen({ port: 0, mptcp: 'on' })).rejects.toMatchObject({ code: 'EMPTCP_UNAVAILABLE' });
    const server = await api.listen({ host: '127.0.0.1', port: 0 }, (s) => s.pipe(s));
    const port = (server.address() as net.AddressInfo).port;
    const s = await api.connect({ host: '127.0.0.1', port });
    s.write('plain');
    const [d] = await once(s, 'data');
    expect(String(d)).toBe('plain');
    expect(api.mptcpInfo(s)).toBeNull();
    expect(api.isMptcp(s)).toBe(false);
    expect(api.subflows(s)).toEqual([]);
    expect(api.localAddressOf(s)).toMatchObject({ address: '127.0.0.1', family: 4 });
    expect(() => api.originalDst(s)).toThrow(expect.objectContaining({ code: 'EMPTCP_UNAVAILABLE' }));
    expect(() => api.cryptHash('x', '$6$abc')).toThrow(expect.objectContaining({ code: 'EMPTCP_UNAVAILABLE' }));
    expect(() => api.openSyslog('t', 'daemon')).toThrow(expect.objectContaining({ code: 'EMPTCP_UNAVAILABLE' }));
    s.destroy();
    await new Promise((r) => server.close(r));
  });

  test('plain-net degrade path reports refused connects like Node', async () => {
    const t = net.createServer();
    t.listen(0, '127.0.0.1');
    await once(t, 'listening');
    const port = (t.address() as net.AddressInfo).port;
    await new Promise((r) => t.close(r));
    await expect(api.connect({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
  });
});
