/**
 * Dante 1.4.2's own complaint texts (observed with `danted -V`), so operators can grep
 * for the same words. `.detail` of a ConfigError carries one of these.
 */
export const SYNTAX_ERROR = 'syntax error';

export const msg = {
  noNetmask: (fam: 'IPv4' | 'IPv6') =>
    `No netmask has been specified for this ${fam} address, but a netmask must be specified in this context.  ` +
    'You can specify a netmask using the standard "/ <netmask bits>" syntax',
  netmaskNotAllowed: (fam: 'IPv4' | 'IPv6') =>
    `A netmask has been specified for this ${fam} address, but no netmask should be specified in this context`,
  badNetmask: (fam: 'IPv4' | 'IPv6', n: string) =>
    `bad ${fam} address netmask: ${n}.  Legal range is 0 - ${fam === 'IPv4' ? 32 : 128}`,
  badAnyNetmask: (n: string) => `bad <IPvAny> address netmask: ${n}.  Only legal value is 0`,
  unknownService: () => 'unknown tcp/udp protocol',
  numberTooLarge: (n: number, max: number) => `number ${n} is too large.  Maximum is ${max}`,
  notANumber: () => 'confusing.  Thought we would have a number here',
  // Dante prints the two ports the other way round; kept verbatim.
  badRange: (start: number, end: number) => `end port (${start}) can not be less than start port (${end})`,
  cannotResolve: (h: string) => `could not resolve hostname "${h}": Name or service not known`,
  noPortToBind: (addr: string) => `addinternal(): address ${addr}.0 does not specify a portnumber to bind`,
  protocolAfterAddress: (side: 'internal' | 'external') =>
    `protocols and address-families on the ${side === 'internal' ? 'internal/client-side' : 'external/target-side'} ` +
    'interface must be specified before addresses for the same interface are specified, so that we can know which ' +
    'addresses to ignore',
  noSuchUser: (u: string) => `getpwnam(3) says no such user "${u}"`,
  noSuchGroup: (g: string) => `getgrnam(3) says no such group "${g}"`,
  deprecated: (old: string, now: string) =>
    `keyword "${old}" is deprecated - assuming the new keyword "${now}" was meant.  ` +
    "Please update Dante's config file (FILE) to use the new keyword as appropriate",
  obsolete: (kw: string) => `keyword "${kw}" is deprecated and no longer used.  Please remove the keyword from Dante's config file (FILE)`,
  notClientMethod: (m: string, n: number) => `method ${m} (${n}) is not a valid method for clientmethods`,
  notLinked: (lib: string) =>
    `in order to set the given keyword/value, Dante must be linked with an external ${lib} library at compiletime.  ` +
    'When Dante was compiled, no such linking was done, perhaps due to no usable ' +
    `${lib} library being installed on the system at the time.  If a ${lib} library has since been installed on this ` +
    "system, please rerun ./configure in Dante's source directory, recompile and reinstall Dante",
  license: (mod: string) => `license error: module "${mod}" is not installed.  Please contact Inferno Nettverk for a license or assistance.`,
  hostidUnsupported: () => 'hostid is not supported on this system',
  badLibwrap: () => 'bad libwrap line',
  unsupportedOption: () => 'unsupported option',
  unknownFacility: (f: string) => `unknown syslog facility "${f}"`,
  extensionBind: () =>
    'we are currently considering deprecating the Dante-specific SOCKS bind extension.  ' +
    'If you are using it, please let us know on the public dante-misc@inet.no mailinglist',
  methodNotGlobal: (kind: 'method' | 'clientmethod', m: string, global: string[]) =>
    `${kind} "${m}" is set in the rule, but not in the global ${kind === 'method' ? 'socksmethod' : 'clientmethod'} ` +
    `specification (containing "${global.join(', ')}').  Only methods that are part of the global method ` +
    'specification can be part of the methods set in a local rule',
  clientRuleNeedsUser: () =>
    'the settings in this client-rule requires the client to provide a user/group-name in some way, but this rule ' +
    'specifies, implicitly or explicitly, the clientmethod none, which cannot be depended on to provide this information',
  ruleNoMethods: (n: number) =>
    `checkrule(): socks-rule #${n} sets no socks authentication methods, not even the method "none".  ` +
    'This means no clients can ever be matched by this rule.  Is that really intended?',
  socksRuleNeedsUser: (m: string) =>
    'the settings in this socks-rule requires the client to provide a user/group-name in some way, but this rule ' +
    `specifies, implicitly or explicitly, the socksmethod ${m}, which cannot be depended on to provide this information`,
  replyNeedsUser: () =>
    'the settings in this socks-rule requires the client to provide a user/group-name in some way, but this rule ' +
    'specifies, implicitly or explicitly, the clientmethod "none" to be used for replies, which cannot be depended on ' +
    'to provide this information',
  udpReplyNeedsUser: () =>
    'UDP replies cannot provide any username, but the settings in this rule requires an username to be provided by ' +
    'the target sending the UDP reply',
  stateKeyAlone: () => 'session state key is set (1), but no value has been given to state.max or state.throttle',
  stateMaxNoKey: () => 'state.session.max is set, but session.state.key is not',
  externalOptionInBlock: () =>
    'it does not make sense to set a socket option for the external side in a rule that blocks access; the external ' +
    'side will never be accessed as the rule blocks access to it.',
  noneShadowsMethods: (next: string) =>
    'authentication method "none" is configured in the global socksmethod list, but since authentication methods are ' +
    'selected by the priority given, we will never try to match any of the subsequent authentication methods.  I.e., ' +
    `no match will ever be attempted on the next method, method "${next}".`,
  stateThrottleNoKey: () => 'session.state.throttle is set, but session.state.key is not',
  monitorNoAlarms: () => 'monitor has no alarms configured.  Is this intended?',
  noInternal: () => 'checkconfig(): no internal address given for server to listen for clients on',
  noExternal: () => 'checkconfig(): no external address specified for server to use when forwarding data on behalf of clients',
  noSocksMethods: () =>
    'checkconfig(): no socks authentication methods enabled.  This means all socks requests will be blocked after ' +
    'negotiation.  Perhaps this is not intended?',
  manyExternalsNoRotation: () =>
    'checkconfig(): more than one external address has been specified, but as long as external.rotation has the ' +
    'default value none only the first address specified will be used',
  sameSameOneExternal: () =>
    'checkconfig(): rotation for external addresses is set to same-same, but the number of external addresses is ' +
    'only one, so this does not make sense',
  unprivilegedRoot: () => 'checkconfig(): setting the unprivileged uid to 0 is not recommended for security reasons',
};
