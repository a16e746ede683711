import { unknownKeyHint, unknownSectionHint } from './migration-hints';
import { ConfigValueError, type ConfigErrorLine } from '@mptcp-proxy/common';
import { redsocksConfigError } from './error-text';
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
  line: number;
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
  const errors: ConfigErrorLine[] = [];
  let code: string = CONFIG_ERROR_CODES.syntax;
  let hint: string | undefined;
  let token: string | undefined;
  let column: number | undefined;
  /** Column of the token being handled, and of the pending key and value (undefined: not on the error's line). */
  let col: number | undefined;
  let keyCol: number | undefined;
  let valueCol: number | undefined;
  /** The column of a token seen on line `at`, if the error is reported on that line. */
  const onErrorLine = (c: number | undefined, at: number): number | undefined => (at === ctx.line ? c : undefined);
  let keyLine = 0;
  let valueLine = 0;
  let sectionCol: number | undefined;
  let sectionLine = 0;
  const fail = (c: string, messages: string[], h: string | undefined, tok: string | undefined, tokCol: number | undefined): void => {
    if (errors.length === 0) {
      code = c;
      hint = h;
      token = tok;
      column = tokCol;
    }
    for (const message of messages) errors.push({ line: ctx.line, message });
  };

  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const line = text.slice(0, nul).split('\n').length;
    throw redsocksConfigError(CONFIG_ERROR_CODES.nul, file, [{ line, message: 'NUL byte in config file' }], {
      hint: 'redsocks 0.5 reads such a file unpredictably; remove the NUL byte',
    });
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
      if (section) fail(CONFIG_ERROR_CODES.syntax, ['section-in-section is invalid'], undefined, text, col);
      else if (sectionToken === null) fail(CONFIG_ERROR_CODES.syntax, ["expected token before ``{''"], undefined, text, col);
      else {
        const name = sectionToken;
        sectionToken = null;
        const spec = sections.find((s) => s.name === name);
        if (!spec) {
          fail(CONFIG_ERROR_CODES.unknownSection, [`unknown section <${name}>`], unknownSectionHint(name), name, onErrorLine(sectionCol, sectionLine));
          return;
        }
        section = { spec, target: spec.create(ctx.line), line: ctx.line };
        try {
          spec.onEnter?.(builder);
        } catch (err) {
          if (!(err instanceof ConfigValueError)) throw err;
          fail(CONFIG_ERROR_CODES.section, [err.message, 'section->onenter failed'], err.hint, name, onErrorLine(sectionCol, sectionLine));
        }
      }
    } else if (punct && text === '}') {
      if (!section) {
        fail(CONFIG_ERROR_CODES.syntax, ["can't close non-opened section"], undefined, text, col);
        return;
      }
      const { spec, target } = section;
      section = null;
      try {
        spec.onExit?.(target, ctx);
        spec.commit(target, builder);
      } catch (err) {
        if (!(err instanceof ConfigValueError)) throw err;
        fail(CONFIG_ERROR_CODES.section, [err.message, 'section->onexit failed'], err.hint, spec.name, undefined);
      }
    } else if (punct && text === '=') {
      if (!section) fail(CONFIG_ERROR_CODES.syntax, ['assignment used outside of any section'], undefined, text, col);
      else if (key === null) fail(CONFIG_ERROR_CODES.syntax, ['assignment used without key'], undefined, text, col);
    } else if (punct && text === ';') {
      if (!section) {
        fail(CONFIG_ERROR_CODES.syntax, ['assignment termination outside of any section'], undefined, text, col);
      } else if (key !== null && value === null) {
        fail(CONFIG_ERROR_CODES.syntax, [`assignment has only key <${key}> but no value`], undefined, key, onErrorLine(keyCol, keyLine));
      } else if (key !== null && value !== null) {
        apply(section, key, value);
      } else {
        throw redsocksConfigError(CONFIG_ERROR_CODES.emptyStatement, file,
          [{ line: ctx.line, message: '`;` without a key and a value (an empty statement such as `;;`)' }],
          { hint: 'redsocks 0.5 crashes on this (assertion failure, SIGABRT); delete the extra `;`', token: ';', column: col });
      }
      key = null;
      value = null;
    } else if (!section && sectionToken === null) {
      sectionToken = text;
      sectionCol = col;
      sectionLine = ctx.line;
    } else if (section && key === null) {
      key = text;
      keyCol = col;
      keyLine = ctx.line;
    } else if (section && key !== null && value === null) {
      value = text;
      valueCol = col;
      valueLine = ctx.line;
    } else {
      fail(CONFIG_ERROR_CODES.syntax,
        [`invalid token order: key_token=${key ?? '(null)'}, value_token=${value ?? '(null)'}, next token=${text}`],
        undefined, text, col);
    }
  };

  const apply = (active: Active, k: string, v: string): void => {
    const parser = active.spec.keys.get(k);
    if (!parser) {
      fail(CONFIG_ERROR_CODES.unknownKey, [`assignment with unknown key <${k}>`], unknownKeyHint(active.spec.name, k), k, onErrorLine(keyCol, keyLine));
      return;
    }
    try {
      parser(active.target, v, ctx);
      builder.keyLines.push({ section: active.spec.name, sectionLine: active.line, key: k, line: ctx.line });
    } catch (err) {
      if (!(err instanceof ConfigValueError)) throw err;
      fail(CONFIG_ERROR_CODES.value, [err.message, `value <${v}> can't be parsed for key <${k}>`], err.hint, v, onErrorLine(valueCol, valueLine));
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
        fail(CONFIG_ERROR_CODES.syntax, [r.message], undefined, buf.slice(r.start, r.start + 1), columnOf(buf, r.start));
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
        col = columnOf(buf, r.start);
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
    throw redsocksConfigError(CONFIG_ERROR_CODES.noNewline, file,
      [{ line: ctx.line + 1, message: 'the last line does not end with a newline' }],
      { hint: 'redsocks 0.5 silently ignores such a line; add the newline' });
  }

  const failedBeforeEof = errors.length > 0;
  // errors at the end of the file name no token, so no column either
  if (section) fail(CONFIG_ERROR_CODES.syntax, ['unclosed section'], undefined, undefined, undefined);
  if (sectionToken !== null) fail(CONFIG_ERROR_CODES.syntax, ['stale section_token'], undefined, undefined, undefined);
  if (key !== null) fail(CONFIG_ERROR_CODES.syntax, ['stale key_token'], undefined, undefined, undefined);
  if (value !== null) fail(CONFIG_ERROR_CODES.syntax, ['stale value_token'], undefined, undefined, undefined);
  if (errors.length === 0) return;

  if (!failedBeforeEof && buf !== '' && incompleteSince > 0) {
    const what = buf.startsWith('"') ? 'a quoted string' : `the token <${buf.split('\n')[0]!.trim()}>`;
    hint = `${what} that starts at line ${incompleteSince} never ends, so redsocks read the rest of the file into it`;
  }
  throw redsocksConfigError(code, file, errors, { hint, token, column });
}

/**
 * 1-based column of buf[pos] on the error's line (the last line in `buf`), or undefined when the
 * token began on an earlier line (a token cut by a line end and completed by the next).
 */
function columnOf(buf: string, pos: number): number | undefined {
  const lineStart = buf.lastIndexOf('\n', pos - 1) + 1;
  const nextNl = buf.indexOf('\n', pos);
  if (nextNl >= 0 && nextNl < buf.length - 1) return undefined;
  return pos - lineStart + 1;
}
