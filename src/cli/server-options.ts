/** The options of `berth server`, declared only when that command runs or its help is asked for (main.ts decides from argv). */
import { Option, type Command } from 'commander';

/**
 * Adds every server option (flag and environment variable) and their help to `cmd`, once. Loading
 * the server's config module pulls in the spec schemas (TypeBox), which would otherwise cost every
 * short command such as `berth ws create` a good part of its start-up.
 */
export async function addServerOptions(cmd: Command): Promise<void> {
  const { SERVER_OPTIONS } = await import('../server/config.ts');
  for (const o of SERVER_OPTIONS) {
    cmd.addOption(new Option(`${o.flag} <${o.kind === 'enum' ? o.choices!.join('|') : o.kind}>`, `${o.help}${o.secret ? ' (secret)' : ''}`).env(o.env));
  }
  cmd.addHelpText('after', `\nEvery option can also be set by environment variable:\n${SERVER_OPTIONS.map((o) => `  ${o.env.padEnd(26)} ${o.help}`).join('\n')}`);
}
