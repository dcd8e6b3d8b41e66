# shellcheck shell=sh
# The 40-input corpus the scale-out tests (cli_parallel.sh, cli_slurm.sh) share,
# sourced after tests/lib.sh:
#   make_corpus DIR          DIR/list.txt: 28 images (PNG, JPEG, in subfolders), 6 short
#                            clips, 6 bad inputs (garbage PNG and MP4, a truncated JPEG, an
#                            empty file, a text file, a missing file) spread through it;
#                            DIR/good and DIR/bad list their ids. 1 when ffmpeg fails.
#   same_outputs REF OUT     counted: every good id has exactly one token file in OUT,
#                            byte-identical to REF's; no bad id has one
#   bad_failed OUT           counted: every bad id is failed in OUT's reports, never ok
#   stamp DIR                the token files under DIR with inode and mtime, sorted
#   check_run REF DIR        counted: same_outputs, bad_failed, and `vtc report DIR
#                            --manifest` totals 40 items, 34 ok, 6 failed, none missing
#   before_rerun DIR WHAT    after WHAT killed a run into DIR: counted, no final name holds
#                            a partial file; records DIR's token files and report lengths
#   after_rerun REF DIR      counted, after the rerun: no item it found done was redone, none
#                            written twice over both runs, then check_run REF DIR
# BATCH_OPTS: the options every run uses (2 frames a clip, one thread a task).
BATCH_OPTS="--frames 2 --threads 1"
VTC_ABS=$(cd "$(dirname "$VTC")" && pwd)/$(basename "$VTC")

make_corpus() {
  CORPUS=$1; _c=$1
  mkdir -p "$_c/img/a" "$_c/img/b" "$_c/clips"
  ffmpeg -loglevel error -nostdin -f lavfi -i testsrc2=size=72x56:rate=25 -frames:v 20 "$_c/img/a/p%02d.png" &&
    ffmpeg -loglevel error -nostdin -f lavfi -i mandelbrot=size=64x64:rate=25 -frames:v 8 "$_c/img/b/j%02d.jpg" || return 1
  for _i in 1 2 3 4 5 6; do
    case $_i in 1 | 4) _src=testsrc ;; 2 | 5) _src=testsrc2 ;; *) _src=rgbtestsrc ;; esac
    ffmpeg -loglevel error -nostdin -f lavfi -i "$_src=size=$((40 + 8 * _i))x48:rate=10" -t 1 -pix_fmt yuv420p \
      "$_c/clips/c$_i.mp4" || return 1
  done
  printf '\211PNG\r\n\032\n' >"$_c/evil.png"
  head -c 4000 /dev/urandom >>"$_c/evil.png"
  head -c 5000 /dev/urandom >"$_c/evil.mp4"
  head -c 300 "$_c/img/b/j01.jpg" >"$_c/truncated.jpg"
  : >"$_c/empty.png"
  echo "not a video" >"$_c/notes.mp4"
  (cd "$_c" && find img clips -type f | sort) >"$_c/good"
  printf '%s\n' evil.png evil.mp4 truncated.jpg empty.png notes.mp4 missing.png >"$_c/bad"
  # a bad input every 7th line
  awk 'NR == FNR { bad[++nb] = $0; next } { print; if (++n % 6 == 0 && b < nb) print bad[++b] }
       END { while (b < nb) print bad[++b] }' "$_c/bad" "$_c/good" >"$_c/list.txt"
}

same_outputs() {
  while IFS= read -r _id; do
    _n=$(find "$2" -path "$2/$_id.tokens.safetensors" | wc -l)
    if [ "$_n" -ne 1 ]; then bad "$_id: $_n outputs in $2"
    elif cmp -s "$1/$_id.tokens.safetensors" "$2/$_id.tokens.safetensors"; then ok
    else bad "$_id: the output in $2 differs from the single-process run's"; fi
  done <"$CORPUS/good"
  while IFS= read -r _id; do
    [ -e "$2/$_id.tokens.safetensors" ] && bad "bad input $_id has an output"
  done <"$CORPUS/bad"
  [ "$(find "$2" -name '*.tokens.safetensors' | wc -l)" -eq "$(wc -l <"$CORPUS/good")" ] && ok ||
    bad "$2 holds other token files than one per good input"
}

bad_failed() {
  cat "$1"/report*.jsonl >"$T/all-lines"
  while IFS= read -r _id; do
    jq -s -e --arg id "$_id" '[.[] | select(.id == $id)] | length > 0 and all(.status == "failed" and (.error | length > 0))' \
      "$T/all-lines" >/dev/null 2>&1 && ok || bad "bad input $_id is not failed with its error in a report"
  done <"$CORPUS/bad"
}

stamp() { (cd "$1" && find . -name '*.tokens.safetensors' -exec stat -c '%n %i %y' {} + | sort); }

check_run() {
  same_outputs "$1" "$2"
  bad_failed "$2"
  capture "$VTC" report "$2" --manifest "$CORPUS/list.txt" --json
  check_json "$T/out" '.items == 40 and .ok == 34 and .failed == 6 and .missing == 0' "vtc report $2 --manifest"
}

before_rerun() {
  for _r in "$1"/report*.jsonl; do [ -f "$_r" ] && echo "${_r##*/} $(wc -l <"$_r")"; done >"$T/counts"
  (cd "$1" && find . -name '*.tokens.safetensors') >"$T/finals"
  while IFS= read -r _f; do
    "$VTC" info "$1/$_f" >/dev/null 2>&1 || bad "$2 left a partial file under a final name: $_f"
  done <"$T/finals"
  stamp "$1" >"$T/before"
}

after_rerun() {
  # the report lines each file got in the rerun: "ok" for no item already written
  for _r in "$2"/report*.jsonl; do
    _skip=$(grep -F "${_r##*/} " "$T/counts" 2>/dev/null | cut -d' ' -f2)
    tail -n +$((${_skip:-0} + 1)) "$_r" | jq -r 'select(.status == "ok") | .output' | sed "s|^$2/|./|"
  done >"$T/redone"
  _redone=$(while IFS= read -r _f; do grep -qF "$_f " "$T/before" && echo "$_f"; done <"$T/redone")
  [ -z "$_redone" ] && ok || bad "the rerun redid $_redone"
  _twice=$(cat "$2"/report*.jsonl | jq -r 'select(.status == "ok") | .id' | sort | uniq -d)
  [ -z "$_twice" ] && ok || bad "written twice over the killed run and the rerun: $_twice"
  check_run "$1" "$2"
}
