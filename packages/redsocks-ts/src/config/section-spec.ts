import type { HostResolver } from './resolver';
import type { KeyLine, RedsocksConfig } from './types';

/** What a value parser or section check may use while the file is being read. */
export interface ParseContext {
  readonly file: string;
  /** The line redsocks would report right now. */
  readonly line: number;
  warn(message: string): void;
  readonly resolve: HostResolver;
}

/** Parses one value and stores it; throws ConfigValueError with redsocks' message text. */
export type KeyParser<T> = (target: T, value: string, ctx: ParseContext) => void;

/** The config being built, plus what section hooks need to know about it. */
export interface ConfigBuilder {
  config: RedsocksConfig;
  baseSeen: boolean;
  /** Filled by the grammar: where each key was assigned. */
  keyLines: KeyLine[];
}

/**
 * One section type, declared by its subsystem the way redsocks' parser_section is:
 * a key table plus enter/exit hooks.
 */
export interface SectionSpec<T> {
  readonly name: string;
  readonly keys: ReadonlyMap<string, KeyParser<T>>;
  create(line: number): T;
  /** Throws ConfigValueError to refuse the section (reported with `section->onenter failed`). */
  onEnter?(builder: ConfigBuilder): void;
  /** Throws ConfigValueError to refuse the section (reported with `section->onexit failed`). */
  onExit?(target: T, ctx: ParseContext): void;
  commit(target: T, builder: ConfigBuilder): void;
}
