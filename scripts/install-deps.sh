# Sourced after node-env.sh: `npm ci` when package-lock.json or the Node.js version changed since the
# last install (native modules are built for one Node.js ABI; its `prepare` script builds dist/),
# else an incremental build of dist/.
berth_stamp=node_modules/.berth-install-stamp
berth_want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node --version)"
if [ ! -f "$berth_stamp" ] || [ "$(cat "$berth_stamp")" != "$berth_want" ]; then
  echo "installing dependencies (native modules build once, about 2 minutes)..." >&2
  # The system's CA store too: a registry reached through a CA installed on the machine (a TLS proxy)
  # works even when NODE_EXTRA_CA_CERTS is not set.
  NODE_USE_SYSTEM_CA=1 npm ci --no-audit --no-fund --loglevel=error
  echo "$berth_want" > "$berth_stamp"
else
  npm run --silent build
fi
