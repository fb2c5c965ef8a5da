#!/usr/bin/env bash
# Make a docker daemon and docker-compose available (installing them when root), and a local
# Debian base image when no registry can be reached. Prints nothing on success except progress.
# Usage: tests/docker/ensure-docker.sh [BASE_IMAGE]   (default tars-base:bookworm)
set -euo pipefail
base="${1:-tars-base:bookworm}"
state="${TARS_DOCKER_STATE:-${XDG_RUNTIME_DIR:-/var/tmp}/tars-docker}"
mkdir -p "$state"

missing=""
command -v docker >/dev/null || missing="$missing docker.io"
command -v docker-compose >/dev/null || missing="$missing docker-compose"
command -v debootstrap >/dev/null || missing="$missing debootstrap"
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing:$missing (install them with: sudo apt-get install$missing)" >&2; exit 1
  fi
  echo "installing$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "no docker daemon answers and this is not root: start dockerd" >&2; exit 1
  fi
  echo "starting dockerd (log: $state/dockerd.log)"
  nohup dockerd >"$state/dockerd.log" 2>&1 &
  echo $! >"$state/dockerd.pid"
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 "$state/dockerd.log" >&2; exit 1; }
fi

if ! docker image inspect "$base" >/dev/null 2>&1; then
  echo "building the local base image $base with debootstrap"
  root="$state/rootfs"
  rm -rf "$root"
  nice -n 10 debootstrap --variant=minbase bookworm "$root" >"$state/debootstrap.log" 2>&1 \
    || { tail -20 "$state/debootstrap.log" >&2; exit 1; }
  tar -C "$root" -c . | docker import - "$base" >/dev/null
  rm -rf "$root"
fi
