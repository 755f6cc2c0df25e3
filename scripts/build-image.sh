#!/usr/bin/env bash
# Builds the control plane's image from this checkout (deploy/Dockerfile): the testenv's bookworm
# image (or --base) + Node.js 24 from the local cache + production node_modules (native modules as
# `npm ci` built them for Node 24) + dist/ and bin/. Nothing is downloaded. The tag is a hash of
# everything that goes in, so an unchanged tree skips the build.
#
#   scripts/build-image.sh [--push REGISTRY/REPO[:TAG]] [--base IMAGE] [--no-compile]
#
# Prints the image reference last on stdout: the pushed one (TAG defaults to the content hash), else
# the local `berth:<hash>`. --push uses the docker client's login (DOCKER_CONFIG). --no-compile: dist/
# is already built (scripts/test.sh builds it). See docs/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh

push="" base="" compile=1
while (($#)); do
  case "$1" in
    --push) push="${2:?--push needs REGISTRY/REPO[:TAG]}"; shift 2 ;;
    --base) base="${2:?--base needs an image}"; shift 2 ;;
    --no-compile) compile=0; shift ;;
    *) echo "usage: scripts/build-image.sh [--push REGISTRY/REPO[:TAG]] [--base IMAGE] [--no-compile]" >&2; exit 2 ;;
  esac
done
log() { printf 'build-image: %s\n' "$*" >&2; }
# Debian's engine (20.10) with a client that has no buildx: the classic builder needs no plugin.
dk() { DOCKER_BUILDKIT=0 docker "$@"; }

if [[ -z "$base" ]]; then
  envfile="${BERTH_TESTENV_STATE:-/var/lib/berth-testenv}/env.sh"
  base="$( (source "$envfile" 2>/dev/null && printf '%s' "${BERTH_TEST_IMAGE:-}") || true)"
  [[ -n "$base" ]] || { log "no --base given and no BERTH_TEST_IMAGE in $envfile (run testenv/berth-testenv up, or pass --base IMAGE with git in it)"; exit 1; }
fi
base_id="$(dk image inspect --format '{{.Id}}' "$base" 2>/dev/null)" || { log "the base image $base is not in the local Docker engine"; exit 1; }
[[ -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]] || { log "node_modules is not installed (or better-sqlite3 is not built): run npm ci"; exit 1; }
if ((compile)); then
  npm run --silent build >/dev/null || log "type errors (see npm run typecheck); dist/ was built anyway"
fi
[[ -f dist/cli/main.js ]] || { log "dist/ is not built: run npm run build"; exit 1; }

# The content hash: the recipe, the base, Node's version, the locked dependencies and the app's files.
hash="$(
  {
    cat deploy/Dockerfile scripts/build-image.sh package-lock.json
    printf '%s\n' "$base_id" "$BERTH_NODE_VERSION"
    find dist bin package.json -type f ! -name .tsbuildinfo -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-12
)"
local_ref="berth:$hash"

if dk image inspect "$local_ref" >/dev/null 2>&1; then
  log "$local_ref is built already (same inputs); not building"
else
  ctx="$(mktemp -d "${TMPDIR:-/tmp}/berth-image-XXXXXX")"
  trap 'rm -rf "$ctx"' EXIT
  log "staging the build context in $ctx"
  cp "$(command -v node)" "$ctx/node"
  mkdir -p "$ctx/deps" "$ctx/app"
  # Production dependencies only, as npm resolved them; sources, objects and other platforms'
  # prebuilt binaries of the native modules stay behind.
  mapfile -t prod < <(npm ls --omit=dev --parseable --all 2>/dev/null | sed "s|^$PWD/||" | grep '^node_modules/' | sort -u)
  ((${#prod[@]})) || { log "npm ls found no production dependencies"; exit 1; }
  # A nested package comes with its parent's directory; tar stores it once more, harmlessly.
  tar -cf - --exclude=node_modules/better-sqlite3/deps --exclude=node_modules/better-sqlite3/src \
    --exclude='node_modules/better-sqlite3/build/Release/obj*' --exclude=node_modules/better-sqlite3/build/Release/.deps \
    --exclude=node_modules/better-sqlite3/build/Release/sqlite3.a --exclude='node_modules/better-sqlite3/build/Release/test_extension.node' \
    --exclude=node_modules/node-pty/prebuilds --exclude=node_modules/node-pty/deps --exclude=node_modules/node-pty/third_party \
    "${prod[@]}" | tar -C "$ctx/deps" -xf -
  cp package.json "$ctx/app/"
  cp -r bin "$ctx/app/bin"
  (cd dist && find . -type f ! -name .tsbuildinfo -print0 | tar --null -T - -cf -) | (mkdir -p "$ctx/app/dist" && tar -C "$ctx/app/dist" -xf -)
  cp deploy/Dockerfile "$ctx/Dockerfile"
  log "building $local_ref from $base"
  t0=$SECONDS
  dk build -q --build-arg "BASE=$base" -t "$local_ref" "$ctx" >/dev/null
  # The native modules must load in the image with its Node, or the server would fail at start.
  dk run --rm --entrypoint /usr/local/bin/node "$local_ref" -e "require('/app/node_modules/better-sqlite3'); require('/app/node_modules/node-pty')" \
    || { log "the native modules do not load in $local_ref"; exit 1; }
  log "built $local_ref in $((SECONDS - t0))s"
fi

ref="$local_ref"
if [[ -n "$push" ]]; then
  last="${push##*/}"
  [[ "$last" == *:* ]] && ref="$push" || ref="$push:$hash"
  dk tag "$local_ref" "$ref"
  log "pushing $ref"
  dk push -q "$ref" >/dev/null || { log "docker push $ref failed (is the client logged in to that registry? docker login)"; exit 1; }
fi
printf '%s\n' "$ref"
