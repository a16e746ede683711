/**
 * Every program that the code, the tests, the benches or the demo run is listed in
 * scripts/programs.tsv (which scripts/deps.sh installs from), and every program listed for the
 * tests is installed. A new spawn of an unlisted program fails here with its name, instead of
 * passing on a developer's machine and failing on a fresh one.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

interface Listed { pkg: string; who: string[] }

function manifest(): Map<string, Listed> {
  const out = new Map<string, Listed>();
  for (const line of fs.readFileSync(path.join(ROOT, 'scripts/programs.tsv'), 'utf8').split('\n')) {
    if (line.startsWith('#') || !line.trim()) continue;
    const [prog, pkg, who] = line.split('\t');
    out.set(prog, { pkg, who: who.split(',') });
  }
  return out;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', 'out', 'build'].includes(e.name) || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

// A call that runs a program: spawn/exec-like names, `sh(...)` and `run(...)`, with the program as
// the first string argument or the first element of an argv array (possibly after a namespace).
const CALL = /(?:\b\w*[sS]pawn\w*|\bexecFile|\bexecFileSync|\bexecSync|\bexec|\bsh|\brun)\(\s*(?:[\w.]+\s*,\s*)?\[?\s*(['"`])((?:(?!\1).)*)\1(?:\s*,\s*\[\s*(['"`])((?:(?!\3).)*)\3)?/gs;
// First words that are not programs: the lab's namespace names, shell syntax, argv[0] markers.
const NOT_PROGRAMS = new Set(['gw', 'lan', 'remote', 'origin', 'isp1', 'isp2', 'cd', 'netns', 'run', 'policy',
  'ahostsv4', 'import']);

/** Program names found at command positions in the repository's TypeScript (or in `files`). */
function spawnedPrograms(files = ['packages', 'tests', 'bench'].flatMap((d) => sources(path.join(ROOT, d)))): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const add = (w: string, f: string): void => {
    const name = w.replace(/^\/(usr\/)?s?bin\//, '');
    if (NOT_PROGRAMS.has(name)) return;
    if (!found.has(name)) found.set(name, new Set());
    found.get(name)!.add(path.relative(ROOT, f));
  };
  for (const f of files) {
    const src = fs.readFileSync(f, 'utf8');
    for (const m of src.matchAll(/['"`](\/usr\/s?bin\/[\w.+-]+)/g)) add(m[1], f);
    // an argv built before the call: `const argv = ['curl', ...]`
    for (const m of src.matchAll(/\b(?:argv|cmd|command)\s*=\s*\[\s*(['"`])([a-z][\w.+-]*)\1/g)) add(m[2], f);
    for (const m of src.matchAll(CALL)) {
      for (const lit of [m[2], m[4] ?? '']) {
        for (const seg of lit.split(/\|\||&&|[|;]|\$\(/)) {
          let words = seg.trim().split(/\s+/);
          while (words.length) {
            const w = words[0];
            if (w === 'mptcpize' && words[1] === 'run') { add(w, f); words = words.slice(2); continue; }
            if (w === 'timeout') { add(w, f); words = words.slice(/^[\d.]+s?$/.test(words[1] ?? '') ? 2 : 1); continue; }
            if (w === 'ip' && words[1] === 'netns' && words[2] === 'exec') { add(w, f); words = words.slice(4); continue; }
            if (/^[a-z][a-z0-9_.+-]*$|^\/(usr\/)?s?bin\//.test(w)) add(w, f);
            break;
          }
        }
      }
    }
  }
  return found;
}

const listed = manifest();
const found = spawnedPrograms();

test('the scan finds the programs the suite is known to run', () => {
  for (const p of ['ip', 'nft', 'curl', 'ncat', 'danted', 'redsocks', 'mptcpize', 'iperf3', 'squid', 'tinyproxy', 'microsocks']) {
    expect([p, found.has(p)]).toEqual([p, true]);
  }
});

test('every program the code runs is listed in scripts/programs.tsv', () => {
  const unlisted = [...found].filter(([p]) => !listed.has(p)).map(([p, files]) => `${p} (run in ${[...files].join(', ')})`);
  expect(unlisted).toEqual([]);
});

test('every program the tests need is installed', () => {
  expect(listed.size).toBeGreaterThan(20);
  const bin = path.join(ROOT, 'node_modules/.bin');
  const missing = [...listed]
    .filter(([, l]) => l.who.includes('test'))
    .filter(([p]) => spawnSync('bash', ['-c', `command -v ${p}`], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin:${bin}` } }).status !== 0)
    .map(([p, l]) => `${p} (Debian package ${l.pkg})`);
  expect(missing).toEqual([]);
});

/** The TypeScript files `entry` imports, directly or not (relative imports only). */
function importClosure(entry: string): string[] {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/(?:from|import|require)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const base = path.resolve(path.dirname(f), m[1]);
      const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
      if (hit) todo.push(hit);
    }
  }
  return [...seen];
}

test('the demo column is what `npm run demo` runs: no more, no less', () => {
  // The demo's own code, plus the daemons and mptcp-gateway it starts (the product packages' src).
  const product = ['mptcp-native', 'common', 'socks-server', 'redsocks-ts'].flatMap((p) => sources(path.join(ROOT, 'packages', p, 'src')));
  const files = [...importClosure(path.join(ROOT, 'packages/lab/src/demo.ts')), ...product];
  const runs = spawnedPrograms(files);
  // `--pair c` alone starts the C pair (redsocks + Dante under mptcpize): scripts/demo.sh
  // installs those (role demo-c) only then.
  const cPair = ['danted', 'mptcpize', 'redsocks'];
  // Run by scripts/demo.sh and scripts/deps.sh rather than from TypeScript: the shell, Node,
  // tsx, and the addon's build (npm run build: node-gyp with make, cc and python3).
  // rm: in socks-server's pidfile-removal `sh -c` script, held in a variable the scan does not read.
  const indirect = ['bash', 'cc', 'make', 'node', 'npx', 'python3', 'rm', 'tsx'];
  const demo = [...listed].filter(([, l]) => l.who.includes('demo')).map(([p]) => p).sort();
  const demoC = [...listed].filter(([, l]) => l.who.includes('demo-c')).map(([p]) => p).sort();
  expect(demoC).toEqual(cPair);
  // In a module the demo imports (packages/lab/src/daemons.ts: the tests' temporary users),
  // but never called by the demo.
  const besideDemo = ['chpasswd', 'useradd', 'userdel'];
  const needed = [...runs.keys()].filter((p) => !cPair.includes(p) && !besideDemo.includes(p));
  expect(needed.filter((p) => !demo.includes(p)).map((p) => `${p} (run in ${[...runs.get(p)!].join(', ')})`)).toEqual([]);
  expect(demo.filter((p) => !needed.includes(p) && !indirect.includes(p))).toEqual([]);
});
