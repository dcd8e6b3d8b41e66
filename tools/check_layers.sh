#!/bin/sh
# The layering check (`make check-layers`, docs/design.md): a folder includes and
# calls only the folders below it, so the library reads as layers and has no
# circles:
#   base/                       0  errors, allocation, threads, tensors, file formats
#   vision/ video/ prune/ lm/   1  the stages: each uses base/ only, never each other
#   api/                        2  the public API's orchestration
#   cli/                        3  the vtc command (not part of the library)
# Two checks: every #include "dir/file.h" in those folders (a bare name is the
# same folder), and every undefined symbol of every object file in OBJDIR
# (build/obj), resolved against the objects that define it. Nothing anywhere
# includes a .c file; examples/ include only the public header.
#   sh tools/check_layers.sh build/obj
set -eu
objdir=$1
rank() {
  case $1 in
    base) echo 0 ;; vision | video | prune | lm) echo 1 ;; api) echo 2 ;; cli) echo 3 ;; *) echo -1 ;;
  esac
}
# may FROM use TO?  a lower layer, or the same folder
allowed() {
  [ "$1" = "$2" ] && return 0
  [ "$(rank "$2")" -ge 0 ] && [ "$(rank "$2")" -lt "$(rank "$1")" ]
}
fail=0
# 1. includes
for dir in base vision video prune lm api cli; do
  for f in "$dir"/*.c "$dir"/*.h; do
    [ -f "$f" ] || continue
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
      case $inc in
        vtc.h) continue ;;
        */*) to=${inc%%/*} ;;
        *) to=$dir ;;
      esac
      if ! allowed "$dir" "$to"; then
        echo "check-layers: $f includes \"$inc\": $dir/ may not use $to/"
        fail=1
      fi
    done
  done
done
for f in $(find base vision video prune lm api cli tests bench fuzz examples -name '*.c' -o -name '*.h' -o -name '*.cc'); do
  if grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.c"' "$f"; then
    echo "check-layers: $f includes a .c file"
    fail=1
  fi
done
for f in examples/*.c; do
  if grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" >/dev/null; then
    echo "check-layers: $f includes a project header; examples use <vtc.h> only"
    fail=1
  fi
done
# 2. symbols: which folder defines each global symbol, then who uses it
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for dir in base vision video prune lm api cli; do
  for o in "$objdir/$dir"/*.o; do
    [ -f "$o" ] || continue
    nm --defined-only -g "$o" | awk -v d="$dir" 'NF == 3 { print $3, d }' >>"$T/defs"
    nm -u "$o" | awk -v d="$dir" -v o="${o#"$objdir"/}" '{ print $NF, d, o }' >>"$T/uses"
  done
done
sort -u "$T/defs" >"$T/defs.s"
sort "$T/uses" | join "$T/defs.s" - >"$T/edges" || true # symbol def_dir use_dir object
while read -r sym to from obj; do
  if ! allowed "$from" "$to"; then
    echo "check-layers: $obj uses $sym from $to/: $from/ may not use $to/"
    fail=1
  fi
done <"$T/edges"
[ $fail -eq 0 ] && echo "check-layers: base < vision video prune lm < api < cli: $(wc -l <"$T/edges") calls across files, no include or call goes up or sideways"
exit $fail
