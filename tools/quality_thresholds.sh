#!/bin/sh
# Writes tests/fixtures/quality/thresholds.sh from `make quality`'s tables:
#   sh tools/quality_thresholds.sh build/quality/table.txt 296 build/quality/clips.txt NQC \
#     build/quality/table_original.txt > tests/fixtures/quality/thresholds.sh
# (296: the questions of the 60-scene slice tests/cli_quality.sh runs; NQC those
# of its 20-clip slice).
T=$1; NQ=$2; C=$3; NQC=$4; O=$5
acc() { awk -v m="$1" -v b="$2" '$1 == m && $2 == b { print $4; exit }' "${3:-$T}"; }
items() { awk -v m="$1" '$1 == m && $3 == "of" { sub("%", "", $2); print $2; exit }' "$T"; }
none=$(acc none all); cls=$(acc cls 64); div=$(acc divprune 64); rnd=$(acc random 64)
icls=$(items cls); itodre=$(items todre); idiv=$(items divprune)
cnone=$(acc none all "$C"); cdy=$(acc dycoke 192 "$C"); odiv=$(acc divprune 64 "$O")
awk -v odiv="$odiv" -v cnone="$cnone" -v cdy="$cdy" -v nqc="$NQC" -v none="$none" -v cls="$cls" -v div="$div" -v rnd="$rnd" -v icls="$icls" -v itodre="$itodre" -v idiv="$idiv" -v nq="$NQ" 'function se(p, n) { p /= 100; return 300 * sqrt(p * (1 - p) / n) }
function fl(x) { return int(x * 10) / 10 }
BEGIN {
  printf "# Thresholds for tests/cli_quality.sh (percent), derived from the full run of\n"
  printf "# `make quality` (300 held-out scenes; README \"Quality\") on samples/vlm:\n"
  printf "#   none %.1f, cls@64 %.1f, divprune@64 %.1f, random@64 %.1f;\n", none, cls, div, rnd
  printf "#   kept tokens on items (first 50 scenes): cls %.1f, divprune %.1f, todre %.1f;\n", icls, idiv, itodre
  printf "#   clips (100): none %.1f, dycoke@192 %.1f;\n", cnone, cdy
  printf "#   at original positions: divprune@64 %.1f.\n", odiv
  printf "# Accuracy: the full-run figure minus 3 standard errors on the questions of\n"
  printf "# the slice (3 * sqrt(p(1-p)/n), n = %d scene and %d clip questions).\n", nq, nqc
  printf "# The gap: random@64 must lose at least half the gap of the full run.\n"
  printf "# Kept tokens on items: three quarters of the full-run share.\n"
  printf "# Regenerate all of them when samples/vlm changes:\n"
  printf "#   sh tools/quality_thresholds.sh build/quality/table.txt %d build/quality/clips.txt %d \\\n", nq, nqc
  printf "#     build/quality/table_original.txt > tests/fixtures/quality/thresholds.sh\n"
  printf "MIN_NONE=%.1f\n", fl(none - se(none, nq))
  printf "MIN_CLS64=%.1f\n", fl(cls - se(cls, nq))
  printf "MIN_DIVPRUNE64=%.1f\n", fl(div - se(div, nq))
  printf "MIN_DIVPRUNE64_ORIGINAL=%.1f\n", fl(odiv - se(odiv, nq))
  printf "MIN_CLIP_NONE=%.1f\n", fl(cnone - se(cnone, nqc))
  printf "MIN_CLIP_DYCOKE192=%.1f\n", fl(cdy - se(cdy, nqc))
  printf "MIN_GAP_RANDOM64=%.1f\n", fl((none - rnd) / 2)
  printf "MIN_ONITEMS_CLS64=%.1f\n", fl(icls * 0.75)
  printf "MIN_ONITEMS_DIVPRUNE64=%.1f\n", fl(idiv * 0.75)
  printf "MIN_ONITEMS_TODRE64=%.1f\n", fl(itodre * 0.75)
}'
