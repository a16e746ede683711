/**
 * Peer-supplied text in log lines, escaped the way Dante 1.4.2 does it (str2vis(): strvisx()
 * with VIS_TAB | VIS_NL | VIS_CSTYLE | VIS_OCTAL, checked against the running danted): printable
 * ASCII and space as they are, a backslash doubled, \n \r \t \b \a \v \f and \0 in C style,
 * every other byte (control bytes, DEL, each byte of a UTF-8 sequence) as three octal digits.
 * A peer can therefore never start a new log line or forge a field.
 */
const SAFE = /^[\x20-\x5b\x5d-\x7e]*$/;

const CSTYLE: Readonly<Record<number, string>> = {
  0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x07: '\\a', 0x0b: '\\v', 0x0c: '\\f',
};

export function vis(text: string | Buffer): string {
  if (typeof text === 'string' && SAFE.test(text)) return text;
  const b = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  let out = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) out += String.fromCharCode(c);
    else if (CSTYLE[c] !== undefined) out += CSTYLE[c];
    else if (c === 0) out += i + 1 < b.length && b[i + 1] >= 0x30 && b[i + 1] <= 0x37 ? '\\000' : '\\0';
    else out += `\\${c.toString(8).padStart(3, '0')}`;
  }
  return out;
}
