#!/usr/bin/env node
// @ts-check
/**
 * The images' HEALTHCHECK: healthy when every TCP port the daemon's config listens on has a
 * listening socket in this network namespace (/proc/net/tcp and tcp6). It opens no connection,
 * so a check never shows up in the daemon's log or trips its rules.
 *   healthcheck.js socks-server|redsocks-ts CONFIG
 * The config is read with the installed package's own parser (found through its bin).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [daemon, file] = process.argv.slice(2);
if ((daemon !== 'socks-server' && daemon !== 'redsocks-ts') || !file) {
  console.error('usage: healthcheck.js socks-server|redsocks-ts CONFIG');
  process.exit(2);
}

/** The installed package directory: the bin is a link to <package>/dist/cli.js. */
function packageDir(bin) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, bin);
    if (fs.existsSync(p)) return path.resolve(path.dirname(fs.realpathSync(p)), '..');
  }
  throw new Error(`${bin} is not on PATH`);
}

/** Ports with a socket in LISTEN state (st 0A) in this network namespace. */
function listeningPorts() {
  const ports = new Set();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A') ports.add(parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports;
}

const pkg = require(packageDir(daemon));
const wanted = daemon === 'socks-server'
  ? pkg.loadDantedConfig(file).config.internal.map((/** @type {{ port: number }} */ i) => i.port)
  : pkg.loadRedsocksConfig(file).config.redsocks.map((/** @type {{ localPort: number }} */ r) => r.localPort);
const have = listeningPorts();
const missing = wanted.filter((/** @type {number} */ p) => !have.has(p));
if (wanted.length === 0 || missing.length > 0) {
  console.error(`${daemon}: not listening on ${missing.length ? missing.join(', ') : '(no port in the config)'}`);
  process.exit(1);
}
console.log(`${daemon}: listening on ${wanted.join(', ')}`);
