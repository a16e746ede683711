import { BindHandler } from './bind-command';
import type { CommandContext, CommandHandler } from './command';
import { ConnectHandler } from './connect-command';
import { UdpAssociateHandler } from './udp-associate';

/** The command the request asked for, once the socks-rules passed it (not started yet). */
export function createCommand(ctx: CommandContext): CommandHandler {
  switch (ctx.request.command) {
    case 'bind':
      return new BindHandler(ctx);
    case 'udpassociate':
      return new UdpAssociateHandler(ctx);
    default:
      return new ConnectHandler(ctx);
  }
}
