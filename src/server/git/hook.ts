/**
 * The pre-receive hook installed in every mirror. It runs inside `git receive-pack` after the
 * pushed objects arrived (still quarantined) and before any ref of the mirror moves: it pushes the
 * same ref updates to the upstream and exits non-zero if the upstream refuses, so the mirror
 * changes only when the upstream accepted. Its stderr reaches the pusher through git's side band,
 * so the pusher reads the upstream's own rejection message.
 *
 * It pushes to the upstream URL (not the remote name) so git does not try to update
 * remote-tracking refs, which is forbidden inside the quarantine. Non-fast-forward updates are
 * forced only with a lease on the value the mirror had, so nothing the pusher has not seen is lost.
 */
export const PRE_RECEIVE_HOOK = `#!/bin/sh
# Installed by Berth (src/server/git/hook.ts); rewritten on every mirror sync. Do not edit.
set -u
# The hook itself moves no ref. Unset, so a receive-pack started for a local-path upstream does not
# believe it runs inside this mirror's quarantine and refuse to update its own refs.
unset GIT_QUARANTINE_PATH
upstream=$(git config --get remote.origin.url) || {
  echo "berth: this mirror has no upstream configured; the push was not accepted." >&2
  exit 1
}
specs=""
leases=""
n=0
while read -r old new ref; do
  n=$((n + 1))
  case "$new" in
    *[!0]*) ;;
    *) specs="$specs :$ref"; leases="$leases --force-with-lease=$ref:$old"; continue ;;
  esac
  case "$old" in
    *[!0]*) ;;
    *) specs="$specs $new:$ref"; continue ;;
  esac
  if git merge-base --is-ancestor "$old" "$new" 2>/dev/null; then
    specs="$specs $new:$ref"
  else
    specs="$specs +$new:$ref"
    leases="$leases --force-with-lease=$ref:$old"
  fi
done
[ "$n" -eq 0 ] && exit 0
atomic=""
[ "$n" -gt 1 ] && atomic="--atomic"
# shellcheck disable=SC2086 # ref names cannot contain spaces, word splitting is intended
out=$(git push --quiet $atomic $leases "$upstream" $specs 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "berth: the upstream repository refused this push, so nothing was changed. The upstream answered:" >&2
  printf '%s\\n' "$out" | sed 's/^remote: //' >&2
  exit 1
fi
exit 0
`;
