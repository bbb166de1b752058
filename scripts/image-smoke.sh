#!/usr/bin/env bash
# Builds the image and runs it as the manifests run it; fails on any difference (README, "Container image").
#   scripts/image-smoke.sh [--engine docker|podman|buildah] [--image NAME] [--no-build] [--keep]
#                          [--npm-cafile FILE] [-- EXTRA BUILD ARGS]
# Build: the first engine that works of docker, podman, buildah (or --engine). Run: docker or podman (a
# buildah-built image is in podman's storage). Then scripts/image-smoke.ts runs `check` in the image against
# / mounted at /host in chroot mode, and the aggregator and the agent with the users, read-only root,
# capabilities, seccomp, V8 flags, environment, mounts and memory limits of the rendered manifests, and
# compares every container's process with them. Prints the image size.
# --npm-cafile FILE: a CA bundle npm must trust inside the build (podman/buildah only: a TLS-intercepting
# proxy in front of the npm registry; without it npm says SELF_SIGNED_CERT_IN_CHAIN).
# Exit status: 0 all matched, 1 a difference or a failed step, 2 no usable engine or bad arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

engine='' image='localhost/osmo-node-validator:smoke' build=1 keep='' cafile='' extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine=${2:?}; shift 2 ;;
    --image) image=${2:?}; shift 2 ;;
    --no-build) build=''; shift ;;
    --keep) keep=--keep; shift ;;
    --npm-cafile) cafile=${2:?}; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "image-smoke: unknown argument $1" >&2; exit 2 ;;
  esac
done

works() {
  case "$1" in
    docker) command -v docker >/dev/null && docker info >/dev/null 2>&1 ;;
    podman) command -v podman >/dev/null && podman info >/dev/null 2>&1 ;;
    buildah) command -v buildah >/dev/null && buildah --version >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

if [ -z "$engine" ]; then
  for e in docker podman buildah; do
    if works "$e"; then engine=$e; break; fi
  done
fi
if [ -z "$engine" ] || ! works "$engine"; then
  echo "image-smoke: no working container engine (tried ${engine:-docker, podman, buildah})" >&2
  exit 2
fi
runner=$engine
if [ "$engine" = buildah ]; then
  if ! works podman; then
    echo 'image-smoke: buildah can build the image but cannot run it as the manifests do; install podman' >&2
    exit 2
  fi
  runner=podman
fi

if [ -n "$build" ]; then
  flags=(--tag "$image")
  # The revision `version` reports (the build context has no .git).
  if revision=$(git rev-parse HEAD 2>/dev/null); then flags+=(--build-arg "GIT_REVISION=$revision"); fi
  if [ -n "$cafile" ]; then
    [ "$engine" != docker ] || { echo 'image-smoke: --npm-cafile needs podman or buildah' >&2; exit 2; }
    npmrc=$(mktemp)
    trap 'rm -f "$npmrc"' EXIT
    printf 'cafile=/usr/local/etc/host-ca.crt\n' > "$npmrc"
    flags+=(--volume "$npmrc:/usr/local/etc/npmrc:ro" --volume "$(realpath "$cafile"):/usr/local/etc/host-ca.crt:ro")
  fi
  case "$engine" in
    buildah) cmd=(buildah bud --layers) ;;
    *) cmd=("$engine" build) ;;
  esac
  echo "== build: ${cmd[*]} ${flags[*]} ${extra[*]:-} ."
  start=$(date +%s)
  "${cmd[@]}" "${flags[@]}" "${extra[@]}" . >&2
  echo "   built in $(( $(date +%s) - start )) s"
fi

size=$("$runner" image inspect --format '{{.Size}}' "$image")
base=$(sed -n 's/^FROM \([^ ]*\).*/\1/p' Dockerfile | tail -n 1)
base_size=$("$runner" image inspect --format '{{.Size}}' "$base" 2>/dev/null || echo 0)
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1000000 }'; }
echo "== image $image: $(mb "$size") ($base $(mb "$base_size"), the validator's layers $(mb $((size - base_size))))"

echo "== run with $runner"
# As npm scripts do: the project's Node 24 (the `node` dev dependency) first on PATH, for tsx too.
export PATH="$PWD/node_modules/.bin:$PATH"
exec tsx scripts/image-smoke.ts --engine "$runner" --image "$image" $keep
