#!/bin/sh
# `make check-install`: installs vtc into a staging folder, then builds every
# program in examples/ the way a user's host builds against an installed vtc:
# the installed <vtc.h> and `pkg-config --cflags --libs vtc` alone, linked to
# the shared library through its SONAME; each must then start (run with no
# arguments, it prints its usage and exits 2).
#   sh tools/check_install.sh build [SANITIZER-FLAGS]
# (a sanitizer build's library needs its runtime in the program too: the flags
# the library was built with, as `make SAN=...` passes them)
set -eu
build=$1
san=${2:-}
stage=$(cd "$build" && pwd)/stage
rm -rf "$stage"
prefix=$stage/usr
make -s install PREFIX="$prefix" BUILD="$build" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs vtc)
fail=0 n=0
for src in examples/*.c; do
  name=$(basename "$src" .c)
  n=$((n + 1))
  # shellcheck disable=SC2086 # (-lm: the examples use libm themselves)
  if ! cc -std=c11 -Wall -Wextra -Werror $san -o "$stage/$name" "$src" $flags -lm; then
    echo "check-install: $src does not build against the installed vtc"
    fail=1
    continue
  fi
  need=$(objdump -p "$stage/$name" | awk '$1 == "NEEDED" && $2 ~ /^libvtc/ { print $2 }')
  LD_LIBRARY_PATH="$prefix/lib" "$stage/$name" >/dev/null 2>&1 && rc=0 || rc=$?
  if [ "$need" != "$(objdump -p "$prefix/lib/libvtc.so" | awk '$1 == "SONAME" { print $2 }')" ] || [ "$rc" -ne 2 ]; then
    echo "check-install: $name: links '$need', exits $rc with no arguments (want the SONAME and 2)"
    fail=1
  fi
done
[ $fail -eq 0 ] && echo "check-install: $n example(s) built from the installed header and pkg-config, linked to $need"
rm -rf "$stage"
exit $fail
