import {
  AuthCaches,
  basicCredentials,
  digestCredentials,
  parseAuthParams,
  proxyAuthorization,
} from '../../src/upstream/http-auth';

describe('http-auth', () => {
  test('Basic is base64(login:password) (RFC 2617 §2 example)', () => {
    expect(basicCredentials('Aladdin', 'open sesame')).toBe('QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  });

  test('auth-params with quoted commas and bare tokens', () => {
    expect(parseAuthParams('realm="a, b", qop="auth,auth-int", algorithm=MD5, stale=false')).toEqual({
      realm: 'a, b',
      qop: 'auth,auth-int',
      algorithm: 'MD5',
      stale: 'false',
    });
  });

  test('Digest response matches the RFC 2617 §3.5 example', () => {
    const params = parseAuthParams(
      'realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    const s = digestCredentials(params, {
      user: 'Mufasa',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      nc: 1,
      cnonce: '0a4f113b',
    });
    expect(s).toBe(
      'username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
        'uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, ' +
        'cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
  });

  test('Digest without qop uses the RFC 2069 response', () => {
    const s = digestCredentials(
      { realm: 'r', nonce: 'n' },
      { user: 'u', password: 'p', method: 'CONNECT', uri: '1.2.3.4:80', nc: 1, cnonce: 'c' },
    );
    expect(s).toMatch(/^username="u", realm="r", nonce="n", uri="1.2.3.4:80", response="[0-9a-f]{32}"$/);
  });

  test('Digest offering only auth-int, or lacking a nonce, cannot be answered', () => {
    const base = { user: 'u', password: 'p', method: 'CONNECT', uri: 'x', nc: 1, cnonce: 'c' };
    expect(digestCredentials({ realm: 'r', nonce: 'n', qop: 'auth-int' }, base)).toBeUndefined();
    expect(digestCredentials({ realm: 'r' }, base)).toBeUndefined();
  });

  test('the cached challenge is answered pre-emptively; nc counts per instance', () => {
    const inst = {};
    const caches = new AuthCaches();
    const cache = caches.for(inst);
    expect(proxyAuthorization(cache, 'u', 'p', 'CONNECT', '1.2.3.4:443')).toBe('');
    cache.challenge = 'Digest realm="r", nonce="n", qop="auth"';
    const a = proxyAuthorization(cache, 'u', 'p', 'CONNECT', '1.2.3.4:443');
    const b = proxyAuthorization(cache, 'u', 'p', 'CONNECT', '1.2.3.4:443');
    expect(a).toMatch(/^Proxy-Authorization: Digest .*nc=00000001, cnonce="[0-9a-f]{16}"\r\n$/);
    expect(b).toMatch(/nc=00000002/);
    expect(caches.for(inst)).toBe(cache);
    expect(caches.for({})).not.toBe(cache);
    expect(new AuthCaches().for(inst)).not.toBe(cache);
    cache.challenge = 'Basic realm="x"';
    expect(proxyAuthorization(cache, 'u', 'p', 'CONNECT', 'x')).toBe('Proxy-Authorization: Basic dTpw\r\n');
    // Negotiate first means redsocks never authenticates
    cache.challenge = 'Negotiate';
    expect(proxyAuthorization(cache, 'u', 'p', 'CONNECT', 'x')).toBe('');
    // no credentials configured
    cache.challenge = 'Basic realm="x"';
    expect(proxyAuthorization(cache, undefined, 'p', 'CONNECT', 'x')).toBe('');
  });
});
