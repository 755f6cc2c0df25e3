/** The interactive shell of container runtimes: inside tmux when the image has it, so it outlives the control plane. */
import crypto from 'node:crypto';
import { shellQuote } from './git-setup.ts';

/** A mark unique to one control-plane process: sessions named with another one were left by an earlier process. */
export function terminalNonce(): string {
  return crypto.randomBytes(4).toString('hex');
}

/**
 * The script of a TTY shell. A new terminal first takes over a session left by an earlier control
 * plane (its client is stale: neither Docker nor Kubernetes ends an exec whose caller went away)
 * or one nobody is attached to, oldest first; otherwise it starts a new session. Without tmux, the
 * login shell.
 */
export function tmuxScript(shell: string, nonce: string): string {
  return [
    `if command -v tmux >/dev/null 2>&1; then`,
    `  s=$(tmux ls -F '#{session_created} #{session_name} #{session_attached}' 2>/dev/null | sort -n | awk -v p="berth-${nonce}-" '$2 ~ /^berth-/ && (index($2, p) != 1 || $3 == 0) { print $2; exit }')`,
    `  t="berth-${nonce}-$$"`,
    `  if [ -n "$s" ] && tmux rename-session -t "=$s" "$t" 2>/dev/null; then exec tmux attach-session -d -t "=$t"; fi`,
    `  exec tmux new-session -s "$t"`,
    `fi`,
    `exec ${shellQuote(shell)} -l`,
  ].join('\n');
}
