#!/bin/sh
# The Python binding (python/vtc): tests/test_python.py under Debian's
# /usr/bin/python3 against $BUILD/libvtc.so.0 and the CLI $VTC: struct layout vs
# vtc.h, results equal to the CLI's token files bit for bit, numpy and torch
# input, lifetimes, threads, errors, the offline pip install and the example
# examples/python/llava_torch.py; one check per test case. Skips without
# /usr/bin/python3, numpy or torch, and for an AddressSanitizer build (a Python
# process would need libasan preloaded).
# Run from the repository root: sh tests/cli_python.sh  (VTC=path/to/vtc BUILD=dir)
. tests/lib.sh
need_vtc
PY=/usr/bin/python3
[ -x $PY ] || skip "$PY is not installed (python3)"
$PY -c "import numpy" 2>/dev/null || skip "numpy is not installed for $PY (python3-numpy)"
$PY -c "import torch" 2>/dev/null || skip "torch is not installed for $PY (python3-torch)"
lib=$BUILD/libvtc.so.0
[ -e "$lib" ] || { bad "$lib is missing (make all builds it)"; finish; }
if objdump -p "$lib" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
  skip "$lib is an AddressSanitizer build (a Python process would need libasan preloaded)"
fi

VTC_LIBRARY=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib") VTC=$VTC VERBOSE=2 \
  $PY tests/test_python.py >"$T/log" 2>&1
rc=$?
passed=$(grep -c '\.\.\. ok$' "$T/log")
i=0; while [ "$i" -lt "$passed" ]; do ok; i=$((i + 1)); done
grep ' \.\.\. skipped' "$T/log" | sed 's/^/  /'
if [ "$rc" -ne 0 ] || [ "$passed" -eq 0 ]; then
  bad "tests/test_python.py failed (exit $rc):"
  # unittest's report of the failures, or the end of the output when it died before one
  if grep -q '^======' "$T/log"; then sed -n '/^======/,$p' "$T/log"; else tail -30 "$T/log"; fi |
    sed 's/^/  | /' | tail -80
else
  grep '^Ran ' "$T/log" | sed 's/^/  /'
fi
finish
