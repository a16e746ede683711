#!/usr/bin/env node
// @ts-check
/**
 * npm's install hook for mptcp-native (plain JavaScript: it runs before any TypeScript is built).
 *
 * 1. A prebuilt addon for this platform (prebuilds/<platform>-<arch>/, both mptcp_native.node
 *    and mptcp_splice.node, made by scripts/prebuild.sh and shipped in the npm tarball) is
 *    loaded once; if both load, that is the addon and nothing is compiled.
 * 2. Otherwise (another platform, musl, or `npm install --build-from-source`) node-gyp builds it.
 * 3. If that fails too, the install FAILS with a message saying what is missing and how to fix
 *    it: npm prints a failed script's output, and hides a successful one's unless run with
 *    --foreground-scripts, so failing is the only way to be heard. The daemons refuse every
 *    configuration that needs the addon anyway (docs/packaging.md). MPTCP_NATIVE_OPTIONAL=1
 *    installs without it (plain TCP only) after printing the same message.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const FILES = ['mptcp_native.node', 'mptcp_splice.node'];
const target = `${process.platform}-${process.arch}`;
const prebuildDir = path.join(__dirname, 'prebuilds', target);

/** Why the prebuilt addon cannot be used here, or undefined when both files load. */
function prebuildProblem() {
  if (process.env.npm_config_build_from_source === 'true') return 'skipped (--build-from-source)';
  for (const f of FILES) {
    const p = path.join(prebuildDir, f);
    if (!fs.existsSync(p)) return `none for ${target} (${path.relative(__dirname, p)} is not in this package)`;
    try {
      require(p);
    } catch (e) {
      return `${path.relative(__dirname, p)} does not load here: ${String(/** @type {Error} */ (e).message).split('\n')[0]}`;
    }
  }
  return undefined;
}

function build() {
  let gyp;
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return { ok: false, why: 'node-gyp is not installed' };
  }
  // Node's own headers when they sit beside it (official tarballs, NodeSource, Debian's
  // libnode-dev): node-gyp would otherwise download them, which fails offline.
  const prefix = path.dirname(path.dirname(process.execPath));
  const nodedir = !process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include/node/node_api.h')) ? [`--nodedir=${prefix}`] : [];
  const r = spawnSync(process.execPath, [gyp, 'rebuild', ...nodedir], { cwd: __dirname, stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status === 0 ? { ok: true, why: '' } : { ok: false, why: `node-gyp rebuild exited with ${r.status ?? r.signal}` };
}

function main() {
  const problem = prebuildProblem();
  if (problem === undefined) {
    console.log(`mptcp-native: using the prebuilt addon in prebuilds/${target}`);
    return 0;
  }
  console.log(`mptcp-native: prebuilt addon: ${problem}; building it with node-gyp`);
  const b = build();
  if (b.ok) return 0;
  const optional = process.env.MPTCP_NATIVE_OPTIONAL === '1';
  const bar = '!'.repeat(78);
  process.stderr.write([
    bar,
    'mptcp-native: NO NATIVE ADDON. Its build failed, and there is no usable prebuilt one:',
    `  prebuilt (${target}): ${problem}`,
    `  build: ${b.why} (see the node-gyp output above)`,
    'Without it redsocks-ts cannot redirect at all, and socks-server refuses passwords, forced MPTCP,',
    'TFO and syslog: both refuse such configurations at -t/-V and at start.',
    'To fix, install the build tools and install again:',
    '  apt-get install python3 make g++ libcrypt-dev',
    optional
      ? 'MPTCP_NATIVE_OPTIONAL=1 is set: installing anyway, without the addon (plain TCP only).'
      : 'Or set MPTCP_NATIVE_OPTIONAL=1 to install anyway, without the addon (plain TCP only).',
    bar,
    '',
  ].join('\n'));
  return optional ? 0 : 1;
}

process.exitCode = main();
