#!/bin/sh
# Installs what vtc needs on Debian 12 (only the packages that are missing),
# builds it, and runs the main job: `vtc compress` on the sample video with the
# embedded default model. Used by `make setup` and CI.
set -eu
cd "$(dirname "$0")/.."

# Build and test dependencies (Debian package names).
PKGS="build-essential pkg-config libpng-dev libjpeg62-turbo-dev libavformat-dev libavcodec-dev
libswscale-dev libavutil-dev libopenblas-dev libdnnl-dev libcmocka-dev libcjson-dev ffmpeg
python3-torch python3-numpy python3-pil python3-skimage dataset-fashion-mnist jq valgrind"
# the Python binding's offline install test (tests/cli_python.sh)
PKGS="$PKGS python3-setuptools python3-pip"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing:$missing"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

make -j"$(nproc)"
mkdir -p build/demo
./build/vtc compress samples/vtest.mp4 --frames 8 --method dycoke \
  -o build/demo/vtest.tokens.safetensors --report build/demo/vtest.report.json --viz build/demo/vtest.png
