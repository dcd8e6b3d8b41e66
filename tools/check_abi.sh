#!/bin/sh
# The ABI check (`make check-abi`): the shared library exports exactly the
# functions the public header declares with VTC_API, and carries its SONAME.
#   sh tools/check_abi.sh build/libvtc.so include/vtc.h libvtc.so.0
set -eu
so=$1 header=$2 soname=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
awk '/^VTC_API / && match($0, /vtc_[a-z0-9_]+\(/) { print substr($0, RSTART, RLENGTH - 1) }' "$header" |
  sort -u >"$T/declared"
nm -D --defined-only "$so" | awk '$3 != "_init" && $3 != "_fini" { print $3 }' | sort -u >"$T/exported"
fail=0
if ! cmp -s "$T/declared" "$T/exported"; then
  fail=1
  echo "check-abi: $so exports what $header does not declare (>) or lacks what it declares (<):"
  diff "$T/declared" "$T/exported" | grep '^[<>]' | sed 's/^/  /'
fi
got=$(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }')
if [ "$got" != "$soname" ]; then
  fail=1
  echo "check-abi: $so has SONAME '$got', want '$soname'"
fi
[ $fail -eq 0 ] && echo "check-abi: $(wc -l <"$T/exported") exported functions = the header's declarations; SONAME $got"
exit $fail
