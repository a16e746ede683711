import type { DantedConfig, MatchContext, MatchResult, Rule } from './types';

/** First match wins; no match = the implicit `block { from: 0/0 to: 0/0 }`. */
export function matchRule(rules: Rule[], ctx: MatchContext): MatchResult {
  void rules;
  void ctx;
  return { rule: undefined, pass: false };
}

export function matchClientRules(config: DantedConfig, ctx: MatchContext): MatchResult {
  return matchRule(config.clientRules, ctx);
}

export function matchSocksRules(config: DantedConfig, ctx: MatchContext): MatchResult {
  return matchRule(config.socksRules, ctx);
}
