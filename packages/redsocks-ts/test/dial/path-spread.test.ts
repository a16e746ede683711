/** Which path a new connection starts on (src/dial/path-spread.ts): pure rules, no sockets. */
import { EventEmitter } from 'node:events';
import { PathCounts, equalCostPaths, leastLoaded } from '../../src/dial/path-spread';
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
