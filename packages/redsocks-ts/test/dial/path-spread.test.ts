/** Which path a new connection starts on (src/dial/path-spread.ts): pure rules, no sockets. */
import { EventEmitter } from 'node:events';
import { FRESH_CONNECT_RTTS, PathCounts, WORTH_SLACK_MS, equalCostPaths, leadPath, leastLoaded, worthTaking } from '../../src/dial/path-spread';
import type { PathView } from '../../src/dial/path-health';

const path = (name: string, rttMs: number | null, over: Partial<PathView> = {}): PathView => ({
  name, source: `10.0.0.${name.length}`, backup: false, up: true, state: 'up', rttMs, lastChange: 0, ...over,
});
const all = (): boolean => true;

test('equal links are equal cost; a link 4x slower is not', () => {
  expect(equalCostPaths([path('a', 40), path('b', 41.5)], all).map((p) => p.name)).toEqual(['a', 'b']);
  expect(equalCostPaths([path('a', 30), path('b', 120)], all)).toEqual([]);
  // within 1.25 x + 5 ms of the fastest, whichever is listed first
  expect(equalCostPaths([path('a', 60), path('b', 40), path('c', 54)], all).map((p) => p.name)).toEqual(['b', 'c']);
  expect(equalCostPaths([path('a', 0.1), path('b', 3)], all).map((p) => p.name)).toEqual(['a', 'b']);
});

test('untrusted, backup and unmeasured paths never take part; one path alone is no spread', () => {
  expect(equalCostPaths([path('a', 40), path('b', 40, { backup: true })], all)).toEqual([]);
  expect(equalCostPaths([path('a', 40), path('b', null)], all)).toEqual([]);
  expect(equalCostPaths([path('a', 40), path('b', 40)], (n) => n !== 'b')).toEqual([]);
  expect(equalCostPaths([path('a', 40), path('b', 40), path('c', 40)], (n) => n !== 'b').map((p) => p.name)).toEqual(['a', 'c']);
});

test('leastLoaded: the lowest count, the first on a tie, none of nothing', () => {
  const ps = [path('a', 40), path('b', 40)];
  expect(leastLoaded(ps, () => 0)?.name).toBe('a');
  expect(leastLoaded(ps, (n) => (n === 'a' ? 3 : 2))?.name).toBe('b');
  expect(leastLoaded([], () => 0)).toBeUndefined();
});

test('leadPath: the least-loaded equal-cost path, else the fastest trusted one, whatever the listed order', () => {
  const load = (m: Record<string, number>) => (n: string): number => m[n] ?? 0;
  expect(leadPath([path('a', 40), path('b', 41)], all, load({ a: 3, b: 1 }))?.name).toBe('b');
  // asym listed slow first: the fast one leads
  expect(leadPath([path('slow', 120), path('fast', 30)], all, load({ fast: 9 }))?.name).toBe('fast');
  // the fastest must be trusted and not backup
  expect(leadPath([path('slow', 120), path('fast', 30)], (n) => n !== 'fast', load({}))?.name).toBe('slow');
  expect(leadPath([path('slow', 120), path('fast', 30, { backup: true })], all, load({}))?.name).toBe('slow');
  // nothing measured or trusted: keep the candidates' order
  expect(leadPath([path('a', null), path('b', null)], all, load({}))).toBeUndefined();
  expect(leadPath([path('a', 30)], () => false, load({}))).toBeUndefined();
});

test('worthTaking: a pooled connection beats a fresh connect only on a path under 2 x the fastest RTT + 20 ms', () => {
  expect([FRESH_CONNECT_RTTS, WORTH_SLACK_MS]).toEqual([2, 20]);
  const names = (s: Set<string>): string[] => [...s].sort();
  expect(names(worthTaking([path('a', 40), path('b', 42)], all))).toEqual(['a', 'b']);
  // asym (30 ms and 120 ms): one RTT of isp2 is later than a fresh connect on isp1
  expect(names(worthTaking([path('isp1', 30), path('isp2', 120)], all))).toEqual(['isp1']);
  expect(names(worthTaking([path('isp1', 30), path('isp2', 79.9)], all))).toEqual(['isp1', 'isp2']);
  expect(names(worthTaking([path('isp1', 30), path('isp2', 80)], all))).toEqual(['isp1']);
  // sub-millisecond RTTs differ by jitter only, even a 12 ms spike on a loaded machine
  expect(names(worthTaking([path('a', 0.2), path('b', 12)], all))).toEqual(['a', 'b']);
  // isp1 untrusted (down, suspect): isp2 is all there is
  expect(names(worthTaking([path('isp1', 30), path('isp2', 120)], (n) => n !== 'isp1'))).toEqual(['isp2']);
  // a backup path only while no other path is trusted
  expect(names(worthTaking([path('a', 40), path('m', 20, { backup: true })], all))).toEqual(['a']);
  expect(names(worthTaking([path('a', 40), path('m', 20, { backup: true })], (n) => n !== 'a'))).toEqual(['m']);
  // an unmeasured path is not held against
  expect(names(worthTaking([path('a', 40), path('b', null)], all))).toEqual(['a', 'b']);
  expect(names(worthTaking([path('a', 40)], () => false))).toEqual([]);
});

test('PathCounts counts a socket until it closes', () => {
  const counts = new PathCounts();
  const s1 = new EventEmitter();
  const s2 = new EventEmitter();
  counts.add('a', s1);
  counts.add('a', s2);
  expect(counts.get('a')).toBe(2);
  expect(counts.get('b')).toBe(0);
  s1.emit('close');
  expect(counts.get('a')).toBe(1);
});
