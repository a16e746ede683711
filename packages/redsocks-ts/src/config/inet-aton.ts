import { strtoul, ULONG_MAX } from './strtoul';

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isCSpace = (c: string): boolean => c === ' ' || (c >= '\t' && c <= '\r');

/**
 * glibc inet_aton(): 1 to 4 dot-separated parts, each read as strtoul(.., 0) reads it
 * (so `10.1` = 10.0.0.1, `0x7f000001` and `010.0.0.1` work), and anything after a blank
 * is ignored. Returns the dotted quad, or null where inet_aton returns 0.
 */
export function inetAton(s: string): string | null {
  const parts: number[] = [];
  let i = 0;
  let val = 0n;
  for (;;) {
    if (!isDigit(s[i])) return null;
    const r = strtoul(s, i);
    if (r.value === ULONG_MAX || r.value > 0xffffffffn) return null;
    val = r.value;
    i = r.end;
    if (s[i] === '.') {
      if (parts.length > 2 || val > 0xffn) return null;
      parts.push(Number(val));
      i++;
    } else {
      break;
    }
  }
  if (i < s.length && !isCSpace(s[i]!)) return null;
  const max = [0xffffffffn, 0xffffffn, 0xffffn, 0xffn][parts.length]!;
  if (val > max) return null;
  let word = 0;
  parts.forEach((p, idx) => {
    word += p * 2 ** (24 - 8 * idx);
  });
  word += Number(val);
  return [word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff].join('.');
}
