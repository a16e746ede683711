import { unknownKeyHint, unknownSectionHint } from './migration-hints';
import { RedsocksConfigError, ValueError, type RedsocksErrorLine } from './redsocks-config-error';
import type { ConfigBuilder, ParseContext, SectionSpec } from './section-spec';
import { scanToken } from './tokenizer';

/** Stable error codes (ConfigError.code). */
export const CONFIG_ERROR_CODES = {
  syntax: 'ECONFIG_SYNTAX',
  unknownSection: 'ECONFIG_UNKNOWN_SECTION',
  unknownKey: 'ECONFIG_UNKNOWN_KEY',
  value: 'ECONFIG_VALUE',
  section: 'ECONFIG_SECTION',
  emptyStatement: 'ECONFIG_EMPTY_STATEMENT',
  noNewline: 'ECONFIG_NO_NEWLINE',
  nul: 'ECONFIG_NUL',
} as const;

interface Active {
  spec: SectionSpec<unknown>;
  target: unknown;
}

/** True when `tail` holds nothing but blanks and comments. */
function onlyBlanksAndComments(tail: string, inComment: boolean): boolean {
  const text = `${tail}\n`;
  let pos = 0;
  if (inComment) {
    const end = text.indexOf('*/');
    if (end < 0) return true;
    pos = end + 2;
  }
  for (;;) {
    const r = scanToken(text, pos);
    if (r.kind === 'end') return true;
    if (r.kind !== 'token') return false;
    if (r.type === 'line-comment') return true;
    if (r.type !== 'block-comment') return false;
    const end = text.indexOf('*/', r.next);
    if (end < 0) return true;
    pos = end + 2;
  }
}

/**
 * Runs redsocks 0.5's parser_run() state machine over `text`: lines are read one at a time,
 * a token cut by the end of a line waits for the next line, the first error stops reading
 * and is followed by the same cascade redsocks prints (`unclosed section`, `stale ...`).
 * Two redsocks bugs become clear errors instead: `;` with no key (redsocks aborts) and a
 * last line without a newline (redsocks ignores it).
 */
export function runGrammar(
  text: string,
  file: string,
  sections: ReadonlyArray<SectionSpec<unknown>>,
  builder: ConfigBuilder,
  ctx: ParseContext & { line: number },
): void {
  const errors: RedsocksErrorLine[] = [];
  let code: string = CONFIG_ERROR_CODES.syntax;
  let hint: string | undefined;
  let token: string | undefined;
  const fail = (c: string, messages: string[], h?: string, tok?: string): void => {
    if (errors.length === 0) {
      code = c;
      hint = h;
      token = tok;
    }
    for (const message of messages) errors.push({ line: ctx.line, message });
  };

  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const line = text.slice(0, nul).split('\n').length;
    throw new RedsocksConfigError(CONFIG_ERROR_CODES.nul, file, [{ line, message: 'NUL byte in config file' }],
      'redsocks 0.5 reads such a file unpredictably; remove the NUL byte');
  }

  const physical = text.split('\n');
  const tail = physical.pop() ?? '';
  let buf = '';
  let incompleteSince = 0;
  let inComment = false;
  let section: Active | null = null;
  let sectionToken: string | null = null;
  let key: string | null = null;
  let value: string | null = null;

  const handle = (text: string, punct: boolean): void => {
    if (punct && text === '{') {
      if (section) fail(CONFIG_ERROR_CODES.syntax, ['section-in-section is invalid'], undefined, text);
      else if (sectionToken === null) fail(CONFIG_ERROR_CODES.syntax, ["expected token before ``{''"], undefined, text);
      else {
        const name = sectionToken;
        sectionToken = null;
        const spec = sections.find((s) => s.name === name);
        if (!spec) {
          fail(CONFIG_ERROR_CODES.unknownSection, [`unknown section <${name}>`], unknownSectionHint(name), name);
          return;
        }
        section = { spec, target: spec.create(ctx.line) };
        try {
          spec.onEnter?.(builder);
        } catch (err) {
          if (!(err instanceof ValueError)) throw err;
          fail(CONFIG_ERROR_CODES.section, [err.message, 'section->onenter failed'], err.hint, name);
        }
      }
    } else if (punct && text === '}') {
      if (!section) {
        fail(CONFIG_ERROR_CODES.syntax, ["can't close non-opened section"], undefined, text);
        return;
      }
      const { spec, target } = section;
      section = null;
      try {
        spec.onExit?.(target, ctx);
        spec.commit(target, builder);
      } catch (err) {
        if (!(err instanceof ValueError)) throw err;
        fail(CONFIG_ERROR_CODES.section, [err.message, 'section->onexit failed'], err.hint, spec.name);
      }
    } else if (punct && text === '=') {
      if (!section) fail(CONFIG_ERROR_CODES.syntax, ['assignment used outside of any section'], undefined, text);
      else if (key === null) fail(CONFIG_ERROR_CODES.syntax, ['assignment used without key'], undefined, text);
    } else if (punct && text === ';') {
      if (!section) {
        fail(CONFIG_ERROR_CODES.syntax, ['assignment termination outside of any section'], undefined, text);
      } else if (key !== null && value === null) {
        fail(CONFIG_ERROR_CODES.syntax, [`assignment has only key <${key}> but no value`], undefined, key);
      } else if (key !== null && value !== null) {
        apply(section, key, value);
      } else {
        throw new RedsocksConfigError(CONFIG_ERROR_CODES.emptyStatement, file,
          [{ line: ctx.line, message: '`;` without a key and a value (an empty statement such as `;;`)' }],
          'redsocks 0.5 crashes on this (assertion failure, SIGABRT); delete the extra `;`', ';');
      }
      key = null;
      value = null;
    } else if (!section && sectionToken === null) {
      sectionToken = text;
    } else if (section && key === null) {
      key = text;
    } else if (section && key !== null && value === null) {
      value = text;
    } else {
      fail(CONFIG_ERROR_CODES.syntax,
        [`invalid token order: key_token=${key ?? '(null)'}, value_token=${value ?? '(null)'}, next token=${text}`],
        undefined, text);
    }
  };

  const apply = (active: Active, k: string, v: string): void => {
    const parser = active.spec.keys.get(k);
    if (!parser) {
      fail(CONFIG_ERROR_CODES.unknownKey, [`assignment with unknown key <${k}>`], unknownKeyHint(active.spec.name, k), k);
      return;
    }
    try {
      parser(active.target, v, ctx);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      fail(CONFIG_ERROR_CODES.value, [err.message, `value <${v}> can't be parsed for key <${k}>`], err.hint, v);
    }
  };

  const processBuffer = (): void => {
    let pos = 0;
    if (inComment) {
      const end = buf.indexOf('*/');
      if (end < 0) {
        buf = '';
        return;
      }
      pos = end + 2;
      inComment = false;
    }
    while (errors.length === 0) {
      const r = scanToken(buf, pos);
      if (r.kind === 'end') {
        buf = '';
        return;
      }
      if (r.kind === 'incomplete') {
        if (r.start !== 0 || incompleteSince === 0) incompleteSince = ctx.line;
        buf = buf.slice(r.start);
        return;
      }
      if (r.kind === 'error') {
        fail(CONFIG_ERROR_CODES.syntax, [r.message], undefined, buf.slice(r.start, r.start + 1));
        return;
      }
      incompleteSince = 0;
      pos = r.next;
      if (r.type === 'line-comment') {
        const nl = buf.indexOf('\n', pos);
        pos = nl < 0 ? buf.length : nl + 1;
      } else if (r.type === 'block-comment') {
        const end = buf.indexOf('*/', pos);
        if (end < 0) {
          inComment = true;
          buf = '';
          return;
        }
        pos = end + 2;
      } else {
        handle(r.text, r.type === 'punct');
      }
    }
  };

  for (const physicalLine of physical) {
    if (errors.length > 0) break;
    ctx.line++;
    buf += `${physicalLine}\n`;
    processBuffer();
  }

  if (errors.length === 0 && tail !== '' && !onlyBlanksAndComments(tail, inComment)) {
    throw new RedsocksConfigError(CONFIG_ERROR_CODES.noNewline, file,
      [{ line: ctx.line + 1, message: 'the last line does not end with a newline' }],
      'redsocks 0.5 silently ignores such a line; add the newline');
  }

  const failedBeforeEof = errors.length > 0;
  if (section) fail(CONFIG_ERROR_CODES.syntax, ['unclosed section']);
  if (sectionToken !== null) fail(CONFIG_ERROR_CODES.syntax, ['stale section_token']);
  if (key !== null) fail(CONFIG_ERROR_CODES.syntax, ['stale key_token']);
  if (value !== null) fail(CONFIG_ERROR_CODES.syntax, ['stale value_token']);
  if (errors.length === 0) return;

  if (!failedBeforeEof && buf !== '' && incompleteSince > 0) {
    const what = buf.startsWith('"') ? 'a quoted string' : `the token <${buf.split('\n')[0]!.trim()}>`;
    hint = `${what} that starts at line ${incompleteSince} never ends, so redsocks read the rest of the file into it`;
  }
  throw new RedsocksConfigError(code, file, errors, hint, token);
}
