#!/bin/sh
# Batch mode under GNU parallel (docs/batch.md#gnu-parallel): a 40-input manifest
# (images, clips, 6 bad inputs) in 4 shards run by `parallel --sshloginfile` (the
# file names this machine, ":"), checked against a single-process run byte for
# byte; then one shard's process killed (SIGKILL) midway and the same parallel
# command run again: it finishes the rest and redoes nothing.
# Run from the repository root: sh tests/cli_parallel.sh  (VTC=path/to/vtc)
. tests/lib.sh
. tests/batch_corpus.sh
need_vtc
need_cmd parallel "apt-get install parallel"
need_cmd ffmpeg "apt-get install ffmpeg"
need_cmd jq "apt-get install jq"
C=$T/corpus
make_corpus "$C" || { bad "ffmpeg could not write the corpus"; finish; }
[ "$(wc -l <"$C/list.txt")" -eq 40 ] && ok || bad "the corpus has $(wc -l <"$C/list.txt") items, not 40"

# the reference: one process over the whole manifest
capture "$VTC" compress --manifest "$C/list.txt" --out-dir "$T/ref" $BATCH_OPTS
check_rc 1 "single-process run" && ok
grep -q '^items     34 ok, 6 failed' "$T/out" && ok || { bad "single-process counts"; show 6 "$T/out"; }

# 4 shards, 2 at a time, through an --sshloginfile (the docs' recipe, on this machine)
echo "2/:" >"$T/hosts"
run_shards() {
  parallel --will-cite --sshloginfile "$T/hosts" --workdir "$PWD" \
    "$VTC_ABS" compress --manifest "$C/list.txt" --out-dir "$1" $BATCH_OPTS --shard {}/4 ::: 0 1 2 3 \
    >"$T/par.out" 2>"$T/par.err"
}
run_shards "$T/p"
rc=$?
[ "$rc" -ge 1 ] && [ "$rc" -le 4 ] && ok || { bad "parallel: exit $rc (want the shards with a bad input failed)"; show 5 "$T/par.err"; }
for i in 0 1 2 3; do [ -s "$T/p/report.$i-of-4.jsonl" ] && ok || bad "no report.$i-of-4.jsonl"; done
check_run "$T/ref" "$T/p"

# SIGKILL one shard's process midway, then the same command again
run_shards "$T/k" &
ppid=$!
victim=""
i=0
while [ "$i" -lt 1500 ] && [ -z "$victim" ]; do
  for s in 0 1 2 3; do
    r=$T/k/report.$s-of-4.jsonl
    [ -f "$r" ] && [ "$(wc -l <"$r")" -ge 2 ] && [ "$(wc -l <"$r")" -lt 8 ] || continue
    for p in $(pgrep -f -- "--out-dir $T/k .*--shard $s/4"); do
      [ "$(ps -o comm= -p "$p")" = "$(basename "$VTC")" ] && victim=$p && break
    done
    [ -n "$victim" ] && break
  done
  [ -n "$victim" ] || sleep 0.02
  i=$((i+1))
done
if [ -n "$victim" ]; then
  kill -9 "$victim" && ok
else
  note "no shard was caught midway: the rerun is checked on a finished run"
fi
wait "$ppid"
before_rerun "$T/k" "the killed shard"
run_shards "$T/k"
after_rerun "$T/ref" "$T/k"

finish
