/** The HTTP and SOCKS4 upstreams against fake proxies on real loopback sockets. */
import { httpConnectUpstream } from '../../src/upstream/http-connect';
import { httpRelayUpstream } from '../../src/upstream/http-relay';
import { socks4Upstream } from '../../src/upstream/socks4';

/** Fresh protocol objects (each keeps its own HTTP challenge caches, as one daemon does). */
let httpConnect = httpConnectUpstream();
let httpRelay = httpRelayUpstream();
const socks4 = socks4Upstream();
beforeEach(() => {
  httpConnect = httpConnectUpstream();
  httpRelay = httpRelayUpstream();
});
import { section } from '../helpers/config';
import { collect, fakeProxy, upstreamContext, lanPair } from '../helpers/upstream';

const headDone = (b: Buffer): boolean => b.includes('\r\n\r\n');

describe('http-connect against a fake proxy', () => {
  test('2xx: tunnel up, bytes after the head are the leftover', async () => {
    const proxy = await fakeProxy((_i, got) => (headDone(got) ? 'HTTP/1.0 200 Connection established\r\nX: y\r\n\r\nHELLO' : null));
    const pair = await lanPair();
    const ctx = upstreamContext(pair.client, section({ type: 'http-connect', port: proxy.port, discloseSrc: 'Forwarded_ipport' }));
    const t = await httpConnect.establish(ctx);
    expect(t.leftover.toString()).toBe('HELLO');
    expect(proxy.received[0].toString()).toBe('CONNECT 10.1.2.3:80 HTTP/1.0\r\nForwarded: for="192.168.1.5:40000"\r\n\r\n');
    t.upstream.destroy();
    pair.close();
    await proxy.close();
  });

  test('407 Basic: retried once on a new connection, then pre-emptive', async () => {
    const proxy = await fakeProxy((_i, got) => {
      if (!headDone(got)) return null;
      return got.includes('Proxy-Authorization: Basic dTpw')
        ? 'HTTP/1.1 200 OK\r\n\r\n'
        : 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="t"\r\nContent-Length: 0\r\n\r\n';
    });
    const inst = section({ type: 'http-connect', port: proxy.port, login: 'u', password: 'p' });
    for (let k = 0; k < 2; k++) {
      const pair = await lanPair();
      const t = await httpConnect.establish(upstreamContext(pair.client, inst));
      t.upstream.destroy();
      pair.close();
    }
    // first client: 407 + retry; second client: one connection with credentials
    expect(proxy.received.length).toBe(3);
    expect(proxy.received[0].toString()).not.toMatch(/Proxy-Authorization/);
    expect(proxy.received[1].toString()).toMatch(/Proxy-Authorization: Basic dTpw\r\n/);
    expect(proxy.received[2].toString()).toMatch(/Proxy-Authorization: Basic dTpw\r\n/);
    await proxy.close();
  });

  test('407 Digest with wrong credentials: "HTTP Proxy auth failed"', async () => {
    const proxy = await fakeProxy((_i, got) =>
      headDone(got) ? 'HTTP/1.1 407 No\r\nProxy-Authenticate: Digest realm="r", nonce="abc", qop="auth"\r\n\r\n' : null,
    );
    const pair = await lanPair();
    const inst = section({ type: 'http-connect', port: proxy.port, login: 'u', password: 'bad' });
    await expect(httpConnect.establish(upstreamContext(pair.client, inst))).rejects.toThrow('HTTP Proxy auth failed: HTTP/1.1 407 No');
    expect(proxy.received.length).toBe(2);
    expect(proxy.received[1].toString()).toMatch(
      /^CONNECT 10\.1\.2\.3:80 HTTP\/1\.0\r\nProxy-Authorization: Digest username="u", realm="r", nonce="abc", uri="10\.1\.2\.3:80", response="[0-9a-f]{32}", qop=auth, nc=00000001, cnonce="[0-9a-f]{16}"\r\n\r\n$/,
    );
    pair.close();
    await proxy.close();
  });

  test('407 without credentials configured, and other errors', async () => {
    const proxy = await fakeProxy((i, got) =>
      headDone(got) ? (i === 0 ? 'HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm="x"\r\n\r\n' : 'HTTP/1.0 403 Forbidden\r\n\r\n') : null,
    );
    const inst = section({ type: 'http-connect', port: proxy.port });
    const p1 = await lanPair();
    await expect(httpConnect.establish(upstreamContext(p1.client, inst))).rejects.toThrow(
      'HTTP Proxy auth required, but no login/password configured: HTTP/1.1 407 Auth',
    );
    const p2 = await lanPair();
    await expect(httpConnect.establish(upstreamContext(p2.client, inst))).rejects.toThrow('HTTP Proxy error: HTTP/1.0 403 Forbidden');
    p1.close();
    p2.close();
    await proxy.close();
  });

  test('on_proxy_fail = forward_http_err: the client gets the status line and headers, then FIN', async () => {
    const proxy = await fakeProxy((_i, got) => (headDone(got) ? 'HTTP/1.0 502 Bad Gateway\r\nVia: test\r\n\r\n' : null));
    const pair = await lanPair();
    const got = collect(pair.app);
    const inst = section({ type: 'http-connect', port: proxy.port, onProxyFail: 'forward_http_err' });
    await expect(httpConnect.establish(upstreamContext(pair.client, inst))).rejects.toMatchObject({ clientHandled: true });
    expect((await got).toString()).toBe('HTTP/1.0 502 Bad Gateway\r\nVia: test\r\n\r\n');
    pair.close();
    await proxy.close();
  });
});

describe('http-relay against a fake proxy', () => {
  test('waits for the whole head (split writes), rewrites it, forwards any reply', async () => {
    const proxy = await fakeProxy((_i, got) => (headDone(got) ? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n' : null));
    const pair = await lanPair();
    const ctx = upstreamContext(pair.client, section({ type: 'http-relay', port: proxy.port }), { address: '10.1.2.3', port: 8080 });
    const p = httpRelay.establish(ctx);
    pair.app.write('GET /x HT');
    await new Promise((r) => setTimeout(r, 30));
    expect(proxy.received.length).toBe(0); // not connected before the head is complete
    pair.app.write('TP/1.1\r\nConnection: keep-alive\r\n\r\nBODY');
    const t = await p;
    expect(t.leftover.toString()).toBe('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    expect(proxy.received[0].toString()).toBe(
      'GET http://10.1.2.3:8080/x HTTP/1.1\r\nHost: 10.1.2.3:8080\r\nProxy-Connection: close\r\nConnection: close\r\n\r\nBODY',
    );
    t.upstream.destroy();
    pair.close();
    await proxy.close();
  });
});

describe('socks4 against a fake server', () => {
  test('granted (90) and rejected (91) replies', async () => {
    const proxy = await fakeProxy((i, got) =>
      got.length >= 9 ? Buffer.from([0, i === 0 ? 90 : 91, 0, 0, 0, 0, 0, 0, ...(i === 0 ? [0x41] : [])]) : null,
    );
    const inst = section({ type: 'socks4', port: proxy.port, login: 'bob' });
    const p1 = await lanPair();
    const t = await socks4.establish(upstreamContext(p1.client, inst));
    expect(t.leftover.toString()).toBe('A');
    expect(proxy.received[0].toString('hex')).toBe('040100500a010203' + Buffer.from('bob').toString('hex') + '00');
    t.upstream.destroy();
    const p2 = await lanPair();
    await expect(socks4.establish(upstreamContext(p2.client, inst))).rejects.toThrow('Socks4 server status: fail (91)');
    p1.close();
    p2.close();
    await proxy.close();
    expect(socks4.warnings?.(section({ type: 'socks4', password: 'x' }))).toEqual([
      'password <x> is ignored for socks4 connections',
    ]);
    expect(httpRelay.warnings?.(section({ type: 'http-relay' }))).toEqual(['You should avoid `http-relay`, e.g. due to CVE-2009-0801']);
    expect(httpConnect.warnings).toBeUndefined();
  });
});
