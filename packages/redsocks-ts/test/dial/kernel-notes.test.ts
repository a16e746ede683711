/** The kernel settings redsocks-ts says once at start that it cannot make up for. */
import { kernelNotes } from '../../src/dial/kernel-notes';
import { config, section } from '../helpers/config';

test('blackhole detection on: one note with the fix; off, or no MPTCP section: none', () => {
  const read = (v: string | undefined) => (key: string): string | undefined => (key === 'net.mptcp.blackhole_timeout' ? v : undefined);
  const mptcp = config([section({ mptcp: 'auto' })]);
  const notes = kernelNotes(mptcp, read('3600'));
  expect(notes).toHaveLength(1);
  expect(notes[0]).toMatch(/^net\.mptcp\.blackhole_timeout is 3600: .*fix: sysctl -w net\.mptcp\.blackhole_timeout=0/);
  expect(kernelNotes(mptcp, read('0'))).toEqual([]);
  expect(kernelNotes(mptcp, read(undefined))).toEqual([]);
  expect(kernelNotes(config([section({ mptcp: 'off' })]), read('3600'))).toEqual([]);
});
