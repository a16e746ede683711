/** The netlink codec byte by byte (layouts from the kernel UAPI headers; no sockets). */
import { netlink as nl } from '../src';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const msg = (type: number, payload: Buffer, flags = 0): nl.NlMessage => ({ type, flags, seq: 9, pid: 0, payload });

test('a dump request: nlmsghdr (len, type, REQUEST|DUMP, seq, pid 0) and a zeroed family header', () => {
  expect(nl.encodeRtDump(nl.RTM.GETLINK, 7).toString('hex')).toBe('20000000' + '1200' + '0103' + '07000000' + '00000000' + '00'.repeat(16));
  expect(nl.encodeRtDump(nl.RTM.GETADDR, 1).length).toBe(24);
  expect(nl.encodeRtDump(nl.RTM.GETROUTE, 1).length).toBe(28);
  expect(nl.encodeRtDump(nl.RTM.GETRULE, 1).length).toBe(28);
});

test('CTRL_CMD_GETFAMILY "mptcp_pm": the name attribute NUL-terminated and padded to 4', () => {
  expect(nl.encodeGetFamily('mptcp_pm', 1).toString('hex')).toBe(
    '24000000' + '1000' + '0100' + '01000000' + '00000000' + '03010000' + '0d00' + '0200' + '6d707463705f706d00' + '000000',
  );
});

test('a family reply: id and the multicast groups array', () => {
  const groups = nl.encodeAttrs([
    { type: 1, value: [{ type: 1, value: Buffer.from('mptcp_pm_cmds\0') }, { type: 2, value: hex('0b000000') }] },
    { type: 2, value: [{ type: 1, value: Buffer.from('mptcp_pm_events\0') }, { type: 2, value: hex('0c000000') }] },
  ]);
  const body = Buffer.concat([hex('01020000'), nl.encodeAttrs([{ type: 1, value: hex('1b00') }, { type: 2, value: Buffer.from('mptcp_pm\0') }, { type: 7, value: groups }])]);
  const f = nl.decodeFamily(msg(0x10, body));
  expect(f).toEqual({ id: 0x1b, name: 'mptcp_pm', groups: new Map([['mptcp_pm_cmds', 11], ['mptcp_pm_events', 12]]) });
});

test('an endpoint: nested MPTCP_PM_ATTR_ADDR (family, id, addr4, flags, ifindex)', () => {
  const inner = '0600 0100 0200 0000' + '0500 0200 02 000000' + '0800 0300 0a010201' + '0800 0600 06000000' + '0800 0700 03000000';
  const body = hex('03010000' + '2c00 0180' + inner);
  expect(nl.decodeEndpoint(msg(0x1b, body))).toEqual({ id: 2, address: '10.1.2.1', flags: 6, ifindex: 3 });
  // The same attribute is what ADD_ADDR sends (REQUEST|ACK).
  const add = nl.encodeEndpointAdd(0x1b, 4, { id: 2, address: '10.1.2.1', flags: 6, ifindex: 3 });
  expect(add.subarray(4, 8).toString('hex')).toBe('1b000500');
  // (the encoder's order: family, address, id, flags, ifindex; the kernel takes any order)
  expect(add.subarray(16).toString('hex')).toBe(
    '01010000' + '2c000180' + '0600010002000000' + '080003000a010201' + '0500020002000000' + '0800060006000000' + '0800070003000000',
  );
  expect(nl.encodeEndpointDel(0x1b, 5, { id: 2 }).subarray(16).toString('hex')).toBe('02010000' + '0c000180' + '0500020002000000');
  expect(nl.encodeEndpointDel(0x1b, 5, { id: 0, address: '10.1.1.1' }).subarray(16).toString('hex')).toBe(
    '02010000' + '1c000180' + '0600010002000000' + '080003000a010101' + '0500020000000000',
  );
});

test('link, address, route and rule messages', () => {
  // ifinfomsg: family 0, type 1, index 3, flags UP|RUNNING|LOWER_UP, change 0; IFLA_IFNAME "c2"
  const link = nl.decodeLink(msg(nl.RTM.NEWLINK, hex('00000100' + '03000000' + '41000100' + '00000000' + '0700 0300 633200 00')));
  expect(link).toEqual({ index: 3, name: 'c2', flags: 0x10041, up: true });
  expect(nl.decodeLink(msg(nl.RTM.NEWLINK, hex('00000100' + '03000000' + '01100000' + '00000000'))).up).toBe(false);
  // ifaddrmsg: AF_INET /24 index 3; IFA_ADDRESS (peer on ppp) and IFA_LOCAL (ours)
  const addr = nl.decodeAddr(msg(nl.RTM.NEWADDR, hex('02180000' + '03000000' + '0800 0100 0a000001' + '0800 0200 0a010207')));
  expect(addr).toEqual({ family: 2, index: 3, prefixLen: 24, address: '10.1.2.7' });
  // rtmsg: AF_INET dst_len 0, table 102, type unicast; RTA_TABLE, RTA_GATEWAY, RTA_OIF, RTA_PRIORITY
  const route = nl.decodeRoute(
    msg(nl.RTM.NEWROUTE, hex('02000000' + '66030001' + '00000000' + '0800 0f00 66000000' + '0800 0500 0a010202' + '0800 0400 03000000' + '0800 0600 64000000')),
  );
  expect(route).toEqual({ family: 2, dstLen: 0, table: 102, type: 1, priority: 100, gateway: '10.1.2.2', oif: 3 });
  // fib_rule_hdr: AF_INET src_len 32 table 102 action TO_TBL; FRA_SRC, FRA_PRIORITY
  const rule = nl.decodeRule(msg(nl.RTM.NEWRULE, hex('02002000' + '66000001' + '00000000' + '0800 0200 0a010201' + '0800 0600 00800000')));
  expect(rule).toEqual({ family: 2, srcLen: 32, table: 102, action: 1, priority: 32768, src: '10.1.2.1' });
  expect(nl.encodeRule(nl.RTM.NEWRULE, 3, { src: '10.1.2.7', srcLen: 32, table: 102, priority: 32765 }).toString('hex')).toBe(
    '34000000' + '2000' + '0506' + '03000000' + '00000000' + '02002000' + '66000001' + '00000000' + '0800 0200 0a010207'.replace(/ /g, '') + '08000f0066000000' + '08000600fd7f0000',
  );
  expect(nl.encodeDefaultRoute(2, { table: 102, gateway: '10.1.2.2', oif: 3 }).toString('hex')).toBe(
    '34000000' + '1800' + '0506' + '02000000' + '00000000' + '02000000' + '66030001' + '00000000' + '08000f0066000000' + '0800040003000000' + '080005000a010202',
  );
});

test('IPv6 addresses are printed the RFC 5952 way', () => {
  const a = nl.decodeAddr(msg(nl.RTM.NEWADDR, hex('0a400000' + '02000000' + '1400 0100 20010db8000000000000000000000001')));
  expect(a?.address).toBe('2001:db8::1');
  expect(nl.encodeEndpointDel(1, 1, { id: 0, address: '2001:db8::1' }).subarray(36, 52).toString('hex')).toBe('20010db8000000000000000000000001');
});

test('errors: an ACK, an errno with the kernel\'s extended-ack message, and truncation', () => {
  const ack = msg(nl.NLMSG.ERROR, hex('00000000' + '24000000 1b00 0500 2a000000 00000000'), nl.NLM_F.CAPPED);
  expect(nl.decodeError(ack)).toEqual({ errno: 0, seq: 42 });
  const e = msg(
    nl.NLMSG.ERROR,
    Buffer.concat([hex('eaffffff' + '24000000 1b00 0500 2b000000 00000000'), nl.encodeAttrs([{ type: 1, value: Buffer.from('address not found\0') }])]),
    nl.NLM_F.CAPPED | nl.NLM_F.ACK_TLVS,
  );
  expect(nl.decodeError(e)).toEqual({ errno: 22, seq: 43, message: 'address not found' });
  expect(() => nl.decodeMessages(hex('40000000 1000 0000 00000000 00000000'))).toThrow(RangeError);
  expect(() => nl.decodeAttrs(hex('0900 0100 0a0102'))).toThrow(RangeError);
  expect(nl.decodeMessages(Buffer.concat([nl.encodeRtDump(nl.RTM.GETLINK, 1), nl.encodeRtDump(nl.RTM.GETADDR, 2)])).map((m) => m.seq)).toEqual([1, 2]);
});
