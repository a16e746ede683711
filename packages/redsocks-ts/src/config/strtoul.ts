/**
 * C's strtoul(s, &end, 0) on an LP64 glibc, which is how redsocks reads every number:
 * leading blanks and a sign are allowed, `0x` means hex, a leading `0` means octal,
 * overflow saturates at ULONG_MAX and a minus sign negates modulo 2^64.
 */
export interface StrtoulResult {
  value: bigint;
  /** Index of the first unconsumed char (0 when nothing was converted, as C sets end = s). */
  end: number;
}

export const ULONG_MAX = (1n << 64n) - 1n;

const isCSpace = (c: string): boolean => c === ' ' || (c >= '\t' && c <= '\r');

function digitValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  if (code >= 65 && code <= 90) return code - 55;
  return 99;
}

export function strtoul(s: string, start = 0): StrtoulResult {
  let i = start;
  while (i < s.length && isCSpace(s[i]!)) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-';
    i++;
  }
  let base = 10;
  if (s[i] === '0') {
    if ((s[i + 1] === 'x' || s[i + 1] === 'X') && i + 2 < s.length && digitValue(s[i + 2]!) < 16) {
      base = 16;
      i += 2;
    } else {
      base = 8;
    }
  }
  const digitsStart = i;
  let value = 0n;
  let overflow = false;
  while (i < s.length) {
    const d = digitValue(s[i]!);
    if (d >= base) break;
    value = value * BigInt(base) + BigInt(d);
    if (value > ULONG_MAX) overflow = true;
    i++;
  }
  if (i === digitsStart) return { value: 0n, end: start };
  if (overflow) return { value: ULONG_MAX, end: i };
  if (negative && value !== 0n) value = (ULONG_MAX + 1n - value) & ULONG_MAX;
  return { value, end: i };
}
