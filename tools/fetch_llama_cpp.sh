#!/bin/sh
# Fetches a prebuilt llama.cpp (CPU, Linux x86-64) for the tests and benchmarks
# that run kept tokens through it (tests/cli_llama_cpp.sh, bench/llama_cpp.sh):
# the npm package @node-llama-cpp/linux-x64 at a pinned version, whose
# bins/linux-x64 holds libllama, libggml and the per-ISA CPU backends (llama.cpp
# 0ad4a86, "0.5.0-dev"; no headers). `npm pack` downloads the tarball into DIR;
# its sha512 must equal the pinned integrity before anything is extracted.
#
#   sh tools/fetch_llama_cpp.sh [DIR]      (default build/llama-cpp)
#
# Prints the folder with the libraries (DIR/package/bins/linux-x64) on stdout.
# Exit status: 0 ready; 1 the download's integrity differs (it is deleted);
# 3 not available here (no npm, registry unreachable, not x86-64 Linux with
# glibc >= 2.34), with the reason on stderr. A verified copy in DIR is reused
# without the network.
set -u
PKG=@node-llama-cpp/linux-x64
VERSION=3.22.1
INTEGRITY=sha512-5uCCDNqWCNfaAm8aR/Uzxbo4HBpKgNF91kCHPepKhgMgV2OAmatoefbOlMihsqCiH2Od35E/eUHQCFbfRBJuOg==
TGZ=node-llama-cpp-linux-x64-$VERSION.tgz
dir=${1:-build/llama-cpp}
bins=$dir/package/bins/linux-x64

say() { echo "fetch_llama_cpp: $*" >&2; }
integrity() { # FILE -> sha512-BASE64
  if command -v openssl >/dev/null 2>&1; then
    printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
  else
    /usr/bin/python3 -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode(), end="")' "$1"
  fi
}

if [ -f "$bins/.integrity" ] && [ "$(cat "$bins/.integrity")" = "$INTEGRITY" ]; then
  echo "$bins"
  exit 0
fi
if [ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]; then
  say "the package is built for Linux x86-64, this is $(uname -s)/$(uname -m)"
  exit 3
fi
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
if [ -z "$glibc" ] || [ "$(printf '%s\n2.34\n' "$glibc" | sort -V | head -1)" != 2.34 ]; then
  say "the package needs glibc >= 2.34 (this is '${glibc:-not glibc}')"
  exit 3
fi
mkdir -p "$dir" || exit 3
if [ ! -f "$dir/$TGZ" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    say "npm is not installed (apt-get install npm) and $dir has no $TGZ"
    exit 3
  fi
  if ! (cd "$dir" && timeout 300 npm pack "$PKG@$VERSION" --silent >/dev/null 2>npm-pack.log); then
    say "npm pack $PKG@$VERSION failed (registry unreachable?): $(tail -2 "$dir/npm-pack.log" | tr '\n' ' ')"
    rm -f "$dir/$TGZ"
    exit 3
  fi
  rm -f "$dir/npm-pack.log"
fi
got=$(integrity "$dir/$TGZ")
if [ "$got" != "$INTEGRITY" ]; then
  say "$dir/$TGZ: integrity $got, want $INTEGRITY; deleted"
  rm -f "$dir/$TGZ"
  exit 1
fi
rm -rf "$dir/package" "$dir/extract.tmp"
mkdir "$dir/extract.tmp" && tar xzf "$dir/$TGZ" -C "$dir/extract.tmp" && mv "$dir/extract.tmp/package" "$dir/package" ||
  { say "extracting $dir/$TGZ failed"; rm -rf "$dir/extract.tmp"; exit 1; }
rmdir "$dir/extract.tmp"
if ! ls "$bins"/libllama*.so >/dev/null 2>&1; then
  say "$bins has no libllama*.so"
  exit 1
fi
printf '%s' "$INTEGRITY" > "$bins/.integrity"
echo "$bins"
