/**
 * The fuzz targets of bench/fuzz-bench.ts (both config grammars, every SOCKS, RFC 1929, UDP,
 * optimistic-connect and HTTP-CONNECT parser, whole and cut at every byte), short and seeded:
 * a crash found by the long run stays found here once its input is in the seed's reach.
 */
import { TARGETS, fuzz } from '../../bench/fuzz-targets';

const SEED = 0x5eed;
const INPUTS = 400;

test.each(TARGETS.map((t) => [t.name, t] as const))('%s: no crash in a short seeded run', (_name, target) => {
  const r = fuzz(target, INPUTS, SEED);
  expect(r.counterexample).toBeUndefined();
  expect(r.crashes).toBe(0);
  expect(r.inputs).toBe(INPUTS);
});
