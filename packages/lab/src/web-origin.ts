/**
 * The page-load benchmark's web origins: Debian's nginx in the lab's origin namespace, one
 * address per origin (so the browser opens separate connections to each, as it would to
 * separate sites), HTTP/1.1 on port 8080 for page 1 and HTTPS on 443 for page 2 (HTTP/2 on the
 * origins that the page marks `h2`, HTTP/1.1 on the others). The certificates come from a
 * lab CA made with openssl on each start; every leaf shares one key, whose SPKI hash the
 * browser is told to accept (`--ignore-certificate-errors-spki-list`), so each connection
 * still does its full TLS handshake (docs/lab.md, "Page-load benchmark").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { sh } from './netns';
import type { Lab, NodeName } from './lab';
import { loadPage, type PageLoad } from './browser';
import { waitFor } from './wait';
import { MIME_TYPES, originPort, writePages, type Origin, type Page } from './pages';

export interface WebOrigin {
  page1: Page;
  page2: Page;
  /** Host -> address for the browser's resolver rules. */
  hosts: Record<string, string>;
  /** Base64 SHA-256 of the leaf key's SubjectPublicKeyInfo. */
  spki: string;
  stop(): void;
}

/** A lab CA and one certificate per host, all with one leaf key; returns the key's SPKI hash. */
function makeCerts(dir: string, hosts: string[]): string {
  fs.mkdirSync(dir, { recursive: true });
  const ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1';
  sh(`cd ${dir} && openssl req -x509 ${ec} -nodes -keyout ca.key -out ca.crt -days 7 -subj "/CN=mptcp lab CA" 2>/dev/null`);
  sh(`cd ${dir} && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out leaf.key 2>/dev/null`);
  for (const h of hosts) {
    sh(
      `cd ${dir} && openssl req -x509 -key leaf.key -CA ca.crt -CAkey ca.key -days 7 -subj "/CN=${h}" ` +
        `-addext "subjectAltName=DNS:${h}" -addext "basicConstraints=CA:FALSE" -out ${h}.crt 2>/dev/null && cat ca.crt >> ${h}.crt`,
    );
  }
  return sh(`cd ${dir} && openssl pkey -in leaf.key -pubout -outform der | openssl dgst -sha256 -binary | openssl base64 -A`).trim();
}

function serverBlock(o: Origin, root: string, certDir: string): string {
  const listen = o.tls ? `listen ${o.addr}:443 ssl${o.http === 'h2' ? ' http2' : ''};` : `listen ${o.addr}:${originPort(o)};`;
  return [
    '  server {',
    `    ${listen}`,
    `    server_name ${o.host};`,
    `    root ${path.join(root, o.host)};`,
    ...(o.tls ? [`    ssl_certificate ${path.join(certDir, `${o.host}.crt`)};`, `    ssl_certificate_key ${path.join(certDir, 'leaf.key')};`] : []),
    // Resource Timing details for cross-origin requests, CORS for the font preloads
    '    add_header Timing-Allow-Origin * always;',
    '    add_header Access-Control-Allow-Origin * always;',
    '    add_header Cache-Control no-store always;',
    '  }',
  ].join('\n');
}

function nginxConf(dir: string, origins: Origin[], root: string, certDir: string): string {
  const types = Object.entries(MIME_TYPES).map(([ext, t]) => `${t} ${ext};`).join(' ');
  return [
    'user root;',
    'worker_processes 1;',
    'daemon off;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    'error_log stderr warn;',
    'events { worker_connections 4096; }',
    'http {',
    `  types { ${types} }`,
    '  default_type application/octet-stream;',
    '  access_log off;',
    '  sendfile on;',
    '  tcp_nodelay on;',
    '  keepalive_timeout 65;',
    '  ssl_protocols TLSv1.2 TLSv1.3;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, `${t}-tmp`)};`),
    ...origins.map((o) => serverBlock(o, root, certDir)),
    '}',
    '',
  ].join('\n');
}

/** Generate both pages, certificates and the nginx config under the lab dir; start nginx in the origin namespace. */
export async function startWebOrigin(lab: Lab): Promise<WebOrigin> {
  const dir = path.join(lab.dir, 'web');
  const root = path.join(dir, 'sites');
  const { page1, page2 } = writePages(root);
  const origins = [...page1.origins, ...page2.origins];
  for (const o of origins) lab.exec('origin', `ip addr add ${o.addr}/24 dev eth0`);
  const certDir = path.join(dir, 'certs');
  const spki = makeCerts(certDir, page2.origins.map((o) => o.host));
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConf(dir, origins, root, certDir));
  const proc: ChildProcess = lab.spawn('origin', ['nginx', '-p', dir, '-e', 'stderr', '-c', conf]);
  let out = '';
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const listening = (): boolean => {
    const ss = lab.exec('origin', 'ss -Htln', { allowFail: true });
    return origins.every((o) => ss.includes(`${o.addr}:${originPort(o)}`));
  };
  await waitFor(() => proc.exitCode !== null || listening(), 10000, 'nginx to listen on every origin');
  if (proc.exitCode !== null) throw new Error(`nginx exited: ${out.trim()}`);
  return {
    page1,
    page2,
    hosts: Object.fromEntries(origins.map((o) => [o.host, o.addr])),
    spki,
    stop: () => proc.kill('SIGTERM'),
  };
}

/** `n` loads of `page`, one after another, each in a fresh browser in `node`'s namespace. */
export async function pageLoads(lab: Lab, node: NodeName, web: WebOrigin, page: Page, n: number, timeoutMs = 60000): Promise<PageLoad[]> {
  const out: PageLoad[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await loadPage(page.url, { prefix: ['ip', 'netns', 'exec', lab.ns[node].name], hosts: web.hosts, spkiHashes: [web.spki], timeoutMs }));
  }
  return out;
}
