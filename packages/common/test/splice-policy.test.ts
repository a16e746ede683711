import { DEFAULT_SPLICE_POLICY, SpliceBudget, splicePolicyFromEnv } from '@mptcp-proxy/common';

test('MPTCP_SPLICE_ON and MPTCP_SPLICE_AFTER set the policy; unset or empty keep the defaults', () => {
  expect(DEFAULT_SPLICE_POLICY).toEqual({ on: 'loop', afterBytes: 65536 });
  expect(splicePolicyFromEnv({})).toEqual(DEFAULT_SPLICE_POLICY);
  expect(splicePolicyFromEnv({ MPTCP_SPLICE_ON: '', MPTCP_SPLICE_AFTER: '' })).toEqual(DEFAULT_SPLICE_POLICY);
  expect(splicePolicyFromEnv({ MPTCP_SPLICE_ON: 'thread', MPTCP_SPLICE_AFTER: '0' })).toEqual({ on: 'thread', afterBytes: 0 });
  expect(splicePolicyFromEnv({ MPTCP_SPLICE_ON: 'loop', MPTCP_SPLICE_AFTER: '1048576' })).toEqual({ on: 'loop', afterBytes: 1048576 });
  expect(new SpliceBudget(1024).policy).toEqual(DEFAULT_SPLICE_POLICY);
  expect(new SpliceBudget(1024, { on: 'thread', afterBytes: 0 }).policy.on).toBe('thread');
});

test('a bad value is refused, naming the variable', () => {
  for (const [k, v] of [['MPTCP_SPLICE_ON', 'uring'], ['MPTCP_SPLICE_ON', 'Thread'], ['MPTCP_SPLICE_AFTER', '-1'], ['MPTCP_SPLICE_AFTER', '64k'], ['MPTCP_SPLICE_AFTER', '1e6']]) {
    expect(() => splicePolicyFromEnv({ [k]: v })).toThrow(expect.objectContaining({ code: 'ECONFIG_VALUE', message: expect.stringContaining(`${k}=${v}: expected`) }));
  }
});
