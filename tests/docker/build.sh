#!/usr/bin/env bash
# Build the tars image for the docker tests: from a local base image, with host networking (the
# build reaches PyPI and Debian like the host does), trusting the host's extra CA certificates.
# Usage: tests/docker/build.sh BASE_IMAGE IMAGE
set -euo pipefail
cd "$(dirname "$0")/../.."
base="${1:-tars-base:bookworm}"
image="${2:-tars:latest}"
extra=""
for crt in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$crt" ] && extra="$extra$(cat "$crt")"$'\n'
done
start=$(date +%s)
nice -n 10 docker build -q --network host --build-arg BASE="$base" --build-arg EXTRA_CA_CERTS="$extra" \
  -f config/docker/tars.Dockerfile -t "$image" . >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$image")
echo "built $image from $base in $(( $(date +%s) - start ))s: $(( size / 1000000 )) MB"
