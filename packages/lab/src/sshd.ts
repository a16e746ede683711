/**
 * OpenSSH's sshd as a lab peer (the `ssh -D` SOCKS server of the interop tests), apart from
 * daemons.ts so that the demo, which does not run it, does not need openssh-server.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sh } from './netns';

/**
 * An OpenSSH server for `ssh -D` tests: its own host key and authorized_keys in `dir` (made
 * with ssh-keygen), key login only, TCP forwarding on; `/usr/sbin/sshd -D -e -f FILE` runs it.
 * Returns the config text and the client key to log in with.
 */
export function sshdSetup(dir: string, listen: string, port: number): { config: string; clientKey: string } {
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const clientKey = path.join(dir, 'ssh_client_key');
  for (const k of [hostKey, clientKey]) if (!fs.existsSync(k)) sh(`ssh-keygen -q -t ed25519 -N '' -f ${k}`);
  fs.copyFileSync(`${clientKey}.pub`, path.join(dir, 'authorized_keys'));
  // sshd refuses to start without its privilege-separation directory (Debian makes it at boot)
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const config = [
    `ListenAddress ${listen}`,
    `Port ${port}`,
    `HostKey ${hostKey}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'AllowTcpForwarding yes',
    '',
  ].join('\n');
  return { config, clientKey };
}
