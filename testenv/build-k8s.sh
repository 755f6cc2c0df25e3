#!/usr/bin/env bash
# Build Kubernetes server binaries (and etcd) from the Go module proxy into
# $BERTH_TESTENV_CACHE/k8s/<version>/bin. Idempotent: does nothing if all binaries exist.
# Usage: build-k8s.sh [--check]  (BERTH_K8S_VERSION / BERTH_ETCD_VERSION override the versions;
#        --check exits 0 iff everything is already built with the current recipe)
# Called by testenv/berth-testenv up; cold it takes ~5-6 min on 2 cores (mostly compiling), warm 0 s.
# Go caches live in $CACHE/go (GOMODCACHE, GOCACHE) so a rebuild after a recipe change is quick.
set -euo pipefail

CACHE="${BERTH_TESTENV_CACHE:-/var/cache/berth-testenv}"
K8S_VERSION="${BERTH_K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${BERTH_ETCD_VERSION:-v3.6.16}"
K8S_BIN="$CACHE/k8s/$K8S_VERSION/bin"
ETCD_BIN="$CACHE/etcd/$ETCD_VERSION/bin"
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

export GOMODCACHE="${GOMODCACHE_OVERRIDE:-$CACHE/go/mod}"
export GOCACHE="${GOCACHE_OVERRIDE:-$CACHE/go/build}"
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
mkdir -p "$CACHE/k8s" "$CACHE/etcd" "$GOMODCACHE" "$GOCACHE"

# Bump K8S_RECIPE whenever the way the binaries are built changes (the cache is keyed on it).
K8S_RECIPE="$K8S_VERSION;tags=selinux,notest;cgo=0;vendor-patch=hostpath-provisioner-0777;r1"
have_all() {
  [[ "$(cat "$K8S_BIN/.recipe" 2>/dev/null)" == "$K8S_RECIPE" ]] || return 1
  for c in "${K8S_CMDS[@]}"; do [[ -x "$K8S_BIN/$c" ]] || return 1; done
}
if [[ "${1:-}" == --check ]]; then
  have_all && [[ -x "$ETCD_BIN/etcd" ]]
  exit
fi

exec 9>"$CACHE/k8s/.build.lock"
flock 9

log() { echo "[build-k8s $(date +%H:%M:%S)] $*"; }


build_with_linkname_fallback() {
  # $1 = ldflags, rest = go build args
  local ldf="$1"; shift
  if ! go build -trimpath -ldflags="$ldf" "$@"; then
    log "build failed; retrying with -checklinkname=0"
    go build -trimpath -ldflags="$ldf -checklinkname=0" "$@"
  fi
}

if ! have_all; then
  log "building kubernetes $K8S_VERSION with $(go version)"
  W="$CACHE/k8s/$K8S_VERSION/wrapper"
  rm -rf "$W" && mkdir -p "$W"
  cd "$W"
  STAGING_V="v0.${K8S_VERSION#v1.}"
  # Find the staging modules from kubernetes' own go.mod (replace k8s.io/x => ./staging/...).
  modjson=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION")
  gomod=$(printf '%s' "$modjson" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  mapfile -t staging < <(grep -oE '^[[:space:]]*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk '{print $1}' | sort -u)
  log "staging modules: ${#staging[@]}"
  {
    echo "module berth.local/k8sbuild"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    for m in "${staging[@]}"; do echo "replace $m => $m $STAGING_V"; done
  } > go.mod
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    for c in "${K8S_CMDS[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done
    echo ")"
  } > tools.go
  log "go mod tidy"
  go mod tidy
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  ldf="-s -w"
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldf+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldf+=" -X $p.gitTreeState=clean -X $p.buildDate=2025-01-01T00:00:00Z -X $p.gitCommit=berth-testenv-$K8S_VERSION"
  done
  # The in-tree hostPath dynamic provisioner (kube-controller-manager --enable-hostpath-provisioner)
  # creates each volume directory root-owned with mode 0750, so a pod running as non-root
  # (runAsNonRoot, uid 1000) cannot write to its own PVC (fsGroup does not apply to hostPath).
  # Patch it (in a vendor tree; go build -overlay refuses files in GOMODCACHE) to create 0777
  # directories, as e.g. rancher's local-path-provisioner does. Test-only, single-node cluster.
  log "go mod vendor + hostPath provisioner patch"
  go mod vendor
  src="vendor/k8s.io/kubernetes/pkg/volume/hostpath/host_path.go"
  chmod u+w "$src"
  grep -q 'os.MkdirAll(pv.Spec.HostPath.Path, 0750); err != nil {' "$src"
  sed -i 's|if err := os.MkdirAll(pv.Spec.HostPath.Path, 0750); err != nil {|if err := os.MkdirAll(pv.Spec.HostPath.Path, 0777); err != nil {\n\t\treturn nil, err\n\t}\n\tif err := os.Chmod(pv.Spec.HostPath.Path, 0777); err != nil {|' "$src"
  grep -q 'os.Chmod(pv.Spec.HostPath.Path, 0777)' "$src"
  rm -rf "$K8S_BIN.tmp"; mkdir -p "$K8S_BIN.tmp"
  pkgs=(); for c in "${K8S_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  log "go build ${pkgs[*]}"
  build_with_linkname_fallback "$ldf" -mod=vendor -tags=selinux,notest -o "$K8S_BIN.tmp/" "${pkgs[@]}"
  echo "$K8S_RECIPE" > "$K8S_BIN.tmp/.recipe"
  rm -rf "$K8S_BIN" && mv "$K8S_BIN.tmp" "$K8S_BIN"
  rm -rf "$W/vendor"   # ~0.5 GB; recreated by the next build
  log "kubernetes binaries in $K8S_BIN"
else
  log "kubernetes $K8S_VERSION already built"
fi

if [[ ! -x "$ETCD_BIN/etcd" ]]; then
  log "building etcd $ETCD_VERSION"
  W="$CACHE/etcd/$ETCD_VERSION/wrapper"
  rm -rf "$W" && mkdir -p "$W"
  cd "$W"
  cat > go.mod <<GOMOD
module berth.local/etcdbuild

go 1.24.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
  go mod tidy
  rm -rf "$ETCD_BIN.tmp"; mkdir -p "$ETCD_BIN.tmp"
  build_with_linkname_fallback "-s -w" -o "$ETCD_BIN.tmp/etcd" go.etcd.io/etcd/server/v3
  rm -rf "$ETCD_BIN" && mv "$ETCD_BIN.tmp" "$ETCD_BIN"
  log "etcd in $ETCD_BIN"
else
  log "etcd $ETCD_VERSION already built"
fi
log "done"
