/**
 * Makes a staged package (scripts/pack.sh) self-contained: our own packages it depends on, and
 * every third-party package they all need at run or install time, are copied into its
 * node_modules from this checkout's (as npm laid them out), and declared bundled. The tarball
 * then installs with `npm install -g` with no registry at all (our packages are not on one), and
 * no dependency is left for a bundled package to miss: npm installs none of a bundled package's.
 *   tsx scripts/pack-bundle.ts STAGED_DIR NAME=STAGED_DIR_OF_OURS ...
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const NM = path.join(ROOT, 'node_modules');

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  bundleDependencies?: string[] | boolean;
}

const readManifest = (dir: string): Manifest => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;

/** The checkout's directory of one of our workspace packages, by package name. */
function workspaceDir(name: string): string {
  const { workspaces } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  const dir = workspaces.map((w) => path.join(ROOT, w)).find((d) => readManifest(d).name === name);
  if (!dir) throw new Error(`pack-bundle: ${name} is not a workspace package`);
  return dir;
}
const runtimeDeps = (m: Manifest): string[] => Object.keys({ ...m.dependencies, ...m.optionalDependencies });

/** Node's lookup: `name` in the node_modules of `from` or of a directory above it, inside the checkout. */
function resolveFrom(from: string, name: string): string {
  for (let dir = from; dir.startsWith(ROOT); dir = path.dirname(dir)) {
    const cand = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(cand, 'package.json'))) return cand;
    if (dir === ROOT) break;
  }
  throw new Error(`pack-bundle: ${name} (needed from ${path.relative(ROOT, from) || '.'}) is not installed here: run npm ci`);
}

function copyPackage(src: string, dest: string): void {
  fs.mkdirSync(dest, { recursive: true });
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    if (e.name === 'node_modules') continue; // its own dependencies are copied as found
    fs.cpSync(path.join(src, e.name), path.join(dest, e.name), { recursive: true, dereference: false });
  }
}

function main(): void {
  const [stage, ...ourArgs] = process.argv.slice(2);
  const ours = new Map(ourArgs.map((a) => a.split('=') as [string, string]));
  const top = readManifest(stage);
  const deps: Record<string, string> = { ...top.dependencies };

  // Our packages: their staged copies, at the top of node_modules.
  const queue: Array<{ from: string; name: string }> = [];
  for (const d of Object.keys(deps)) if (!ours.has(d)) queue.push({ from: workspaceDir(top.name), name: d });
  for (const [name, dir] of ours) {
    copyPackage(dir, path.join(stage, 'node_modules', name));
    const m = readManifest(workspaceDir(name)); // its own dependencies, not those of its bundle
    for (const d of runtimeDeps(m)) {
      if (ours.has(d)) continue;
      // npm installs nothing for a bundled package: its dependencies become the top package's.
      const range = m.dependencies?.[d] ?? m.optionalDependencies?.[d] ?? '*';
      if (deps[d] !== undefined && deps[d] !== range) throw new Error(`pack-bundle: ${d} wanted as ${deps[d]} and ${range}`);
      deps[d] = range;
      queue.push({ from: workspaceDir(name), name: d });
    }
  }

  // Third-party packages: each at the place npm gave it in this checkout, so that every
  // require() resolves in the bundle as it does here.
  // A package nested in one of our workspace packages (another version than the hoisted one)
  // goes to the same place under that package's bundled copy.
  const places: Array<[string, string]> = [[NM, path.join(stage, 'node_modules')]];
  places.push([path.join(workspaceDir(top.name), 'node_modules'), path.join(stage, 'node_modules')]);
  for (const name of ours.keys()) places.push([path.join(workspaceDir(name), 'node_modules'), path.join(stage, 'node_modules', name, 'node_modules')]);
  const destOf = (src: string): string => {
    for (const [from, to] of places) {
      const rel = path.relative(from, src);
      if (!rel.startsWith('..') && !path.isAbsolute(rel)) return path.join(to, rel);
    }
    throw new Error(`pack-bundle: ${src} is in no node_modules this script knows`);
  };
  const copied = new Set<string>();
  while (queue.length > 0) {
    const { from, name } = queue.shift()!;
    const src = resolveFrom(from, name);
    if (copied.has(src)) continue;
    copied.add(src);
    copyPackage(fs.realpathSync(src), destOf(src));
    for (const d of runtimeDeps(readManifest(src))) queue.push({ from: src, name: d });
  }

  // A dependency of ours that landed nested (another version than the hoisted one) is not the
  // top package's: only what sits at the top of the bundle is declared there.
  for (const d of Object.keys(deps)) {
    if (!ours.has(d) && top.dependencies?.[d] === undefined && !fs.existsSync(path.join(stage, 'node_modules', d))) delete deps[d];
  }
  top.dependencies = deps;
  top.bundleDependencies = Object.keys(deps);
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(top, null, 2)}\n`);
  process.stdout.write(`pack-bundle: ${top.name}: ${ours.size} of ours and ${copied.size} third-party packages bundled\n`);
}

main();
