/**
 * danted.conf tokens. `#` starts a comment anywhere; `\` before a newline joins lines.
 * `nl` marks the first token of a logical line: Dante ends value lists and requires rule
 * keywords there.
 */
export interface Token {
  text: string;
  line: number;
  /** 1-based column in the physical line. */
  col: number;
  nl: boolean;
}

const TOKEN_RE = /\{|\}|>=|<=|!=|==|=|<|>|[^\s{}=<>!]+|!/g;

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const lines = text.split(/\r?\n|\r/);
  let continued = false;
  for (let i = 0; i < lines.length; i++) {
    let raw = lines[i];
    const hash = raw.indexOf('#');
    if (hash >= 0) raw = raw.slice(0, hash);
    // A trailing backslash (outside a comment) continues the logical line.
    const trimmed = raw.replace(/\s+$/, '');
    const continues = trimmed.endsWith('\\');
    const body = continues ? trimmed.slice(0, -1) : raw;
    let first = !continued;
    for (const m of body.matchAll(TOKEN_RE)) {
      tokens.push({ text: m[0], line: i + 1, col: (m.index ?? 0) + 1, nl: first });
      first = false;
    }
    continued = continues;
  }
  return tokens;
}

/** `from:`, `socksmethod:`, `timeout.io.tcp:` ... (but not `::` or `fe80::`). */
export function isKeywordToken(text: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_.-]*:$/.test(text);
}
