/**
 * redsocks' gettoken(): one token from a buffer that always ends with a complete line.
 * A token that reaches the end of the buffer is "incomplete": the caller appends the next
 * line and tries again from the same place (this is how a quoted string spans lines, and
 * why `1/x` swallows the rest of the file in redsocks).
 */
export type TokenKind = 'word' | 'string' | 'punct' | 'line-comment' | 'block-comment';

export type ScanResult =
  | { kind: 'token'; type: TokenKind; text: string; start: number; next: number }
  | { kind: 'end' }
  | { kind: 'incomplete'; start: number }
  | { kind: 'error'; message: string; start: number };

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };

export const isCSpace = (c: string | undefined): boolean =>
  c !== undefined && (c === ' ' || (c >= '\t' && c <= '\r'));
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));

export function scanToken(buf: string, from: number): ScanResult {
  let i = from;
  while (i < buf.length && isCSpace(buf[i])) i++;
  if (i >= buf.length) return { kind: 'end' };
  const start = i;
  const c = buf[i]!;

  if (c === '"') {
    let text = '';
    let p = i + 1;
    for (;;) {
      if (p >= buf.length) return { kind: 'incomplete', start };
      const ch = buf[p]!;
      if (ch === '"') break;
      if (ch === '\\') {
        if (p + 1 >= buf.length) return { kind: 'incomplete', start };
        const esc = ESCAPES[buf[p + 1]!];
        if (esc === undefined || !Object.prototype.hasOwnProperty.call(ESCAPES, buf[p + 1]!)) {
          return { kind: 'error', message: 'unknown escaped char after \\', start };
        }
        text += esc;
        p += 2;
        continue;
      }
      text += ch;
      p++;
    }
    return { kind: 'token', type: 'string', text, start, next: p + 1 };
  }

  if (isDigit(c)) {
    // integer or IP[/mask]: digits, dots, and `/` only when a digit follows
    let p = i;
    for (;;) {
      if (p >= buf.length) return { kind: 'incomplete', start };
      const ch = buf[p]!;
      if (isDigit(ch) || ch === '.') p++;
      else if (ch === '/') {
        if (isDigit(buf[p + 1])) p++;
        else if (buf[p + 1] === '/' || buf[p + 1] === '*') break;
        else return { kind: 'incomplete', start };
      } else break;
    }
    return { kind: 'token', type: 'word', text: buf.slice(i, p), start, next: p };
  }

  if (isAlpha(c)) {
    let p = i;
    for (;;) {
      if (p >= buf.length) return { kind: 'incomplete', start };
      const ch = buf[p]!;
      if (isAlpha(ch) || isDigit(ch) || ch === '_' || ch === '.' || ch === '-') p++;
      else break;
    }
    return { kind: 'token', type: 'word', text: buf.slice(i, p), start, next: p };
  }

  if (c === '{' || c === '}' || c === '=' || c === ';') {
    return { kind: 'token', type: 'punct', text: c, start, next: i + 1 };
  }
  if (c === '/' && buf[i + 1] === '/') {
    return { kind: 'token', type: 'line-comment', text: '//', start, next: i + 2 };
  }
  if (c === '/' && buf[i + 1] === '*') {
    return { kind: 'token', type: 'block-comment', text: '/*', start, next: i + 2 };
  }
  return { kind: 'error', message: 'unexpected char', start };
}
