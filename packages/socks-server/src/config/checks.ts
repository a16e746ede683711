import * as tls from 'node:tls';
import { msg } from './dante-messages';
import { USERNAME_METHODS } from './keywords';
import type { Token } from './lexer';
import { E, type TokenCursor } from './token-cursor';
import type { DantedConfig, Rule, SettingPos } from './types';

/** Dante's checkrule(): a rule's consistency with itself and with the global settings. */
export function checkRule(c: TokenCursor, g: DantedConfig, rule: Rule, close: Token): void {
  const { session } = rule;
  if (session.stateThrottle && !session.stateKey) c.fail(E.check, close, msg.stateThrottleNoKey());
  if (session.stateMax !== undefined && !session.stateKey) c.fail(E.check, close, msg.stateMaxNoKey());
  if (session.stateKey && session.stateMax === undefined && !session.stateThrottle) {
    c.fail(E.check, close, msg.stateKeyAlone());
  }
  // Rule-local method lists must be subsets of the global ones, in either kind of rule.
  for (const m of rule.socksMethod ?? []) {
    if (!g.socksMethod.includes(m)) c.fail(E.check, close, msg.methodNotGlobal('method', m, g.socksMethod));
  }
  for (const m of rule.clientMethod ?? []) {
    if (!g.clientMethod.includes(m)) c.fail(E.check, close, msg.methodNotGlobal('clientmethod', m, g.clientMethod));
  }
  const wantsUser = rule.user !== undefined || rule.group !== undefined;
  if (rule.type === 'client') {
    const methods = rule.clientMethod ?? g.clientMethod;
    if (wantsUser && methods.every((m) => m === 'none')) c.fail(E.check, close, msg.clientRuleNeedsUser());
    return;
  }
  if (wantsUser) {
    // Only a rule for replies alone can never learn a user name.
    const repliesOnly = rule.command?.every((x) => x === 'udpreply' || x === 'bindreply') ?? false;
    if (repliesOnly && rule.command?.includes('udpreply')) c.fail(E.check, close, msg.udpReplyNeedsUser());
    const replyMethods = rule.clientMethod ?? g.clientMethod;
    if (repliesOnly && !replyMethods.some((m) => USERNAME_METHODS.has(m))) c.fail(E.check, close, msg.replyNeedsUser());
    if (rule.socksMethod && !rule.socksMethod.some((m) => USERNAME_METHODS.has(m))) {
      c.fail(E.check, close, msg.socksRuleNeedsUser(rule.socksMethod[0]));
    }
  }
  let methods = rule.socksMethod ?? g.socksMethod;
  if (wantsUser) methods = methods.filter((m) => USERNAME_METHODS.has(m));
  if (methods.length === 0) c.warn(close, msg.ruleNoMethods(rule.number));
}

/** Dante's checkconfig(): the whole file once it has been read. */
export function checkConfig(c: TokenCursor, config: DantedConfig): void {
  checkTls(c, config);
  // a TLS listener alone is enough (docs/tls.md: beside or instead of the plain one)
  if (config.internal.length === 0 && config.ext.tls.internal.length === 0) c.fail(E.check, null, msg.noInternal());
  if (config.external.length === 0) c.fail(E.check, null, msg.noExternal());
  if (config.socksMethod.length === 0) c.warn(undefined, msg.noSocksMethods());
  if (config.external.length > 1 && config.externalRotation === 'none') c.warn(undefined, msg.manyExternalsNoRotation());
  if (config.external.length === 1 && config.externalRotation === 'same-same') c.warn(undefined, msg.sameSameOneExternal());
  for (const m of config.socksMethod) {
    if (m.startsWith('pam.') || m === 'rfc931') {
      c.warn(undefined, `socksmethod "${m}" is accepted but not implemented by socks-server; requests that need it are blocked`);
    }
  }
}

/** The TLS extension keywords need each other (docs/tls.md); nothing is silently unused. */
function checkTls(c: TokenCursor, config: DantedConfig): void {
  const t = config.ext.tls;
  const at = (p: SettingPos): Token => ({ text: p.text, line: p.line, col: p.col, nl: false });
  const first = t.internal[0];
  if (first !== undefined && (t.cert === undefined || t.key === undefined)) {
    c.fail(E.value, at(first.at), 'extension.tls.internal needs extension.tls.cert and extension.tls.key');
  }
  const orphan = t.cert ?? t.key ?? t.clientCa;
  if (first === undefined && orphan !== undefined) {
    c.fail(E.value, at(orphan.at), 'extension.tls.cert, .key and .clientca need an extension.tls.internal listener');
  }
  if (t.cert !== undefined && t.key !== undefined) {
    try {
      tls.createSecureContext({ cert: t.cert.pem, key: t.key.pem, ca: t.clientCa?.pem });
    } catch (e) {
      c.fail(E.value, at(t.key.at), `extension.tls.cert and extension.tls.key do not make a TLS context: ${(e as Error).message}`);
    }
  }
}
