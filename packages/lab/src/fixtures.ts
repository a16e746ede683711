/**
 * Fixtures that live in the repository (tests never read outside it).
 * `tests/fixtures/compat-examples/` holds the redsocks and Dante example configs that the
 * compatibility tests check our verdicts against.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './paths';

export const COMPAT_EXAMPLES = path.join(ROOT, 'tests/fixtures/compat-examples');

/**
 * The example configs whose names match `pattern`, sorted. Throws when the folder is missing or
 * nothing matches, so a lost fixture fails the suite instead of turning into zero tests.
 */
export function compatExamples(pattern: RegExp): string[] {
  const files = fs.readdirSync(COMPAT_EXAMPLES).filter((f) => pattern.test(f)).sort();
  if (files.length === 0) throw new Error(`no example config matches ${pattern} in ${COMPAT_EXAMPLES}`);
  return files;
}

/** The path of one example config; throws when it is missing. */
export function compatExample(name: string): string {
  const file = path.join(COMPAT_EXAMPLES, name);
  if (!fs.existsSync(file)) throw new Error(`missing fixture ${file}`);
  return file;
}
