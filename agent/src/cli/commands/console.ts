// `cairn console reset-password`: a new generated admin password for the console (its API tokens
// stay), for when the first one was lost. The agent keeps the console's passwords in memory, so it
// must be stopped; its next start prints the new password until the first login.
import { resetConsolePasswordOp } from '../../ops/console-auth-file.js';
import { UsageError } from '../../util/errors.js';
import { findAgent } from '../agent-client.js';
import type { Context } from '../context.js';
import { printJson } from '../format.js';

export async function consoleResetPasswordCommand(ctx: Context): Promise<void> {
  const agent = await findAgent(ctx.home);
  if (agent)
    throw new UsageError(
      `the agent (pid ${agent.pid}) is running and keeps the console's passwords in memory: stop it first, or change the password in the console's Settings`,
      'E_USAGE',
    );
  const password = await resetConsolePasswordOp(ctx.home);
  if (ctx.json) return printJson({ password });
  process.stdout.write(
    `the console's new admin password is ${password}\n(the agent prints it again at each start until the first login; API tokens were kept)\n`,
  );
}
