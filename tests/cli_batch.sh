#!/bin/sh
# Batch mode (docs/batch.md): `vtc compress/encode --manifest LIST --out-dir DIR`.
# Manifest forms (text, JSON lines, stdin, comments, relative paths, ids, per-item
# keep/method), output names, hostile inputs failing alone (exit 1, error in the
# report), --max-failures, shards covering every item once, resumption (nothing
# redone), SIGKILL mid-run then a rerun byte-identical to an uninterrupted run,
# `vtc report`, usage errors (exit 2). Token files are compared with single
# `vtc compress` runs byte for byte.
# Run from the repository root: sh tests/cli_batch.sh  (VTC=path/to/vtc)
. tests/lib.sh
need_vtc
need_cmd ffmpeg "apt-get install ffmpeg"
need_cmd jq "apt-get install jq"

# --- inputs: 3 images (one in a folder with a space), 3 short clips, 2 hostile files, 1 missing
IN=$T/in
mkdir -p "$IN/sub/deep dir"
ffmpeg -loglevel error -nostdin -f lavfi -i testsrc=size=80x60 -frames:v 1 "$IN/a.png" &&
  ffmpeg -loglevel error -nostdin -f lavfi -i mandelbrot=size=64x64 -frames:v 1 "$IN/sub/b.jpg" &&
  ffmpeg -loglevel error -nostdin -f lavfi -i smptebars=size=50x40 -frames:v 1 "$IN/sub/deep dir/c.png" &&
  ffmpeg -loglevel error -nostdin -f lavfi -i testsrc=size=64x48:rate=10 -t 1 -pix_fmt yuv420p "$IN/v1.mp4" &&
  ffmpeg -loglevel error -nostdin -f lavfi -i testsrc2=size=64x48:rate=10 -t 1 -pix_fmt yuv420p "$IN/v2.mp4" &&
  ffmpeg -loglevel error -nostdin -f lavfi -i rgbtestsrc=size=48x48:rate=8 -t 1 -pix_fmt yuv420p "$IN/sub/v3.mkv" ||
  { bad "ffmpeg could not write the test inputs"; finish; }
printf '\211PNG\r\n\032\n' >"$IN/evil.png"
head -c 2000 /dev/urandom >>"$IN/evil.png"
head -c 3000 /dev/urandom >"$IN/evil.mp4"
cat >"$IN/list.txt" <<'EOF'
# the corpus: images, clips, hostile files
a.png
  sub/b.jpg   

./sub/deep dir/c.png
evil.png
v1.mp4
# a comment between items
sub/../v2.mp4
evil.mp4
sub/v3.mkv
missing.jpg
EOF
GOOD="a.png sub/b.jpg sub/deep_dir/c.png v1.mp4 v2.mp4 sub/v3.mkv"
out_of() { echo "$1.tokens.safetensors" | sed 's/deep_dir/deep dir/'; }
OPTS="--frames 3 --threads 2"
REP=report.jsonl
VTC_ABS=$(cd "$(dirname "$VTC")" && pwd)/$(basename "$VTC")
# check_lines FILE FILTER EXPR MSG: the report lines FILTER selects exist and EXPR holds on each
check_lines() {
  jq -s -e "[.[] | select($2)] | length > 0 and all($3)" "$1" >/dev/null 2>&1 && ok ||
    bad "$4: $(jq -c "select($2)" "$1" 2>/dev/null | head -c 400)"
}

# --- a whole run: the good items ok, the hostile and missing ones failed alone
CASE="whole run"
capture "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/ref" $OPTS
if check_rc 1 whole run; then ok; fi
grep -q 'items failed' "$T/err" && ok || bad "the error line does not say items failed: $(cat "$T/err")"
grep -q '^items     6 ok, 3 failed, 0 skipped' "$T/out" && ok || { bad "summary counts"; show 8 "$T/out"; }
R=$T/ref/$REP
[ "$(wc -l <"$R")" -eq 9 ] && ok || bad "report has $(wc -l <"$R") lines, want 9"
check_lines "$R" '.status == "ok"' '.n_kept > 0 and .retained_ratio > 0 and .model.name != null' "ok lines carry the compress report"
for id in evil.png evil.mp4 missing.jpg; do
  check_lines "$R" ".id == \"$id\"" '.status == "failed" and (.error | test("^reading input: .*'"$id"': "))' "$id fails alone, its error in the report"
done
n_ok=$(jq -r 'select(.status == "ok") | .id' "$R" | sort | tr '\n' ' ')
[ "$n_ok" = "a.png sub/b.jpg sub/deep dir/c.png sub/v3.mkv v1.mp4 v2.mp4 " ] && ok || bad "ok ids: $n_ok"
for g in $GOOD; do
  o=$(out_of "$g")
  [ -s "$T/ref/$o" ] && ok || bad "no output $o"
done
[ "$(find "$T/ref" -name '*.safetensors' | wc -l)" -eq 6 ] && ok || bad "not exactly one output per good input"
check_lines "$R" '.id == "v2.mp4"' '.path == "sub/../v2.mp4" and .method == "divprune" and .method_default' "a clip's default method"
check_lines "$R" '.id == "a.png"' '.method == "uniform" and .n_kept == 192' "an image's default method"
CASE=""

# --- byte-identical to single runs (an image and a clip: the two default methods)
expect 0 "$VTC" compress "$IN/a.png" $OPTS -o "$T/single-a.safetensors"
cmp -s "$T/single-a.safetensors" "$T/ref/a.png.tokens.safetensors" && ok || bad "a.png: batch output differs from vtc compress"
expect 0 "$VTC" compress "$IN/sub/v3.mkv" --frames 3 --threads 1 -o "$T/single-v3.safetensors"
cmp -s "$T/single-v3.safetensors" "$T/ref/sub/v3.mkv.tokens.safetensors" && ok || bad "v3.mkv: batch output differs from vtc compress"

# --- a rerun redoes nothing: done items skipped (files untouched), failed ones tried again
stamp() { (cd "$1" && find . -name '*.safetensors' -exec stat -c '%n %i %y' {} + | sort); }
stamp "$T/ref" >"$T/before"
capture "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/ref" $OPTS
check_rc 1 rerun && ok
grep -q '^items     0 ok, 3 failed, 6 skipped' "$T/out" && ok || { bad "rerun summary"; show 8 "$T/out"; }
stamp "$T/ref" >"$T/after"
cmp -s "$T/before" "$T/after" && ok || bad "a rerun rewrote a finished output"
[ "$(tail -n 9 "$R" | jq -r 'select(.status == "skipped") | .id' | wc -l)" -eq 6 ] && ok || bad "rerun: not 6 skipped lines"
check_lines "$R" '.status == "skipped" and .id == "v1.mp4"' '.method == "divprune" and .n_kept > 0' "a skipped line's counts"
expect 1 "$VTC" report "$T/ref"
grep -q '^items     9: 6 ok, 3 failed' "$T/out" && ok || { bad "vtc report totals"; show 8 "$T/out"; }
capture "$VTC" report "$T/ref" --manifest "$IN/list.txt" --json
check_rc 1 report --json && ok
check_json "$T/out" '.items == 9 and .ok == 6 and .failed == 3 and .missing == 0 and (.failures | length) == 3 and .n_kept > 0' "vtc report --json"
# other options than DIR was made with: refused unless --force
expect 2 "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/ref" --frames 2

# --- shards (with two workers): every item in exactly one shard, outputs identical
for i in 0 1 2; do
  capture "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/sh" $OPTS --shard $i/3 --workers 2 --json
  [ -s "$T/sh/report.$i-of-3.jsonl" ] && ok || bad "shard $i/3 wrote no report.$i-of-3.jsonl"
  check_json "$T/out" ".shard.index == $i and .shard.count == 3 and .shard_items == 3" "shard $i/3 summary"
done
ids=$(cat "$T/sh"/report.*-of-3.jsonl | jq -r .id | sort)
[ "$(echo "$ids" | wc -l)" -eq 9 ] && [ "$(echo "$ids" | uniq | wc -l)" -eq 9 ] && ok || bad "shards do not cover the 9 items once: $ids"
# item k goes to shard k mod N, in manifest order
[ "$(jq -r .id "$T/sh/report.1-of-3.jsonl" | sort | tr '\n' ' ')" = "sub/b.jpg sub/v3.mkv v1.mp4 " ] && ok ||
  bad "shard 1/3 holds $(jq -r .id "$T/sh/report.1-of-3.jsonl" | tr '\n' ' ')"
for g in $GOOD; do
  o=$(out_of "$g")
  cmp -s "$T/ref/$o" "$T/sh/$o" && ok || bad "shard output $o differs from the whole run's"
done
capture "$VTC" report "$T/sh" --manifest "$IN/list.txt" --json
check_json "$T/out" '.reports == 3 and .items == 9 and .ok == 6 and .failed == 3 and .missing == 0' "report merges the shards"
# a Slurm array task picks its shard from the environment, and says so
capture env SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=4 SLURM_ARRAY_TASK_COUNT=3 \
  "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/sh" $OPTS
grep -q 'shard 1/3 (from SLURM_ARRAY_TASK_ID=5' "$T/out" && ok || { bad "Slurm shard not said"; show 8 "$T/out"; }
grep -q '^items     0 ok, 0 failed, 3 skipped' "$T/out" && ok || { bad "Slurm shard 1/3 counts"; show 8 "$T/out"; }
capture env SLURM_ARRAY_TASK_ID=7 SLURM_ARRAY_TASK_COUNT=3 "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/sh" $OPTS
check_rc 2 "SLURM_ARRAY_TASK_ID past the count" && ok

# --- SIGKILL mid-run, then the same command again: nothing partial under a final
# name, finished items not redone, the outputs identical to the uninterrupted run
K=$T/kill
"$VTC" compress --manifest "$IN/list.txt" --out-dir "$K" $OPTS >/dev/null 2>&1 </dev/null &
pid=$!
i=0
while [ "$i" -lt 600 ] && ! { [ -f "$K/$REP" ] && [ "$(wc -l <"$K/$REP")" -ge 2 ]; }; do sleep 0.01; i=$((i+1)); done
sleep 0.05
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
lines=$(wc -l <"$K/$REP" 2>/dev/null || echo 0)
[ "$lines" -lt 9 ] || note "the run finished before the kill: resumption is checked on a finished run"
(cd "$K" && find . -name '*.tokens.safetensors') >"$T/finals"
while IFS= read -r f; do
  "$VTC" info "$K/$f" >/dev/null 2>&1 && ok || bad "killed run left a partial file under a final name: $f"
done <"$T/finals"
jq -e . "$K/$REP" >/dev/null 2>&1 && ok || bad "the killed run's report has a torn line"
stamp "$K" >"$T/before"
capture "$VTC" compress --manifest "$IN/list.txt" --out-dir "$K" $OPTS
check_rc 1 "resumed run" && ok
tail -n +$((lines+1)) "$K/$REP" | jq -r 'select(.status == "ok") | .output' | sed "s|^$K/|./|" >"$T/redone"
while IFS= read -r f; do grep -qF "$f " "$T/before" && bad "resumed run redid $f"; done <"$T/redone"
[ "$(tail -n +$((lines+1)) "$K/$REP" | jq -r 'select(.status == "skipped")' | grep -c '"id"')" -eq "$(wc -l <"$T/before")" ] &&
  ok || bad "resumed run: not every finished item skipped"
for g in $GOOD; do
  o=$(out_of "$g")
  cmp -s "$T/ref/$o" "$K/$o" && ok || bad "after the kill and rerun, $o differs from the uninterrupted run's"
done
[ "$(find "$K" -name '*.tokens.safetensors' | wc -l)" -eq 6 ] && ok || bad "resumed run: not one output per good input"
capture "$VTC" report "$K" --manifest "$IN/list.txt" --json
check_json "$T/out" '.ok == 6 and .failed == 3 and .missing == 0' "report after the resumed run"

# --- JSON lines on stdin: ids, per-item keep and method; relative paths from the current directory
printf '%s\n' '{"path": "a.png", "id": "k16", "keep": 16}' '# a comment' \
  '{"path": "a.png", "id": "by method/cls", "method": "cls", "keep": "25%", "label": "ignored"}' >"$T/items.jsonl"
(cd "$IN" && "$VTC_ABS" compress --manifest - --out-dir "$T/j" --threads 2 <"$T/items.jsonl" >"$T/out" 2>"$T/err"); rc=$?
check_rc 0 "JSON lines on stdin" && ok
expect 0 "$VTC" compress "$IN/a.png" --keep 16 -o "$T/single-k16.safetensors"
cmp -s "$T/single-k16.safetensors" "$T/j/k16.tokens.safetensors" && ok || bad "per-item keep: differs from --keep 16"
expect 0 "$VTC" compress "$IN/a.png" --method cls --keep 25% -o "$T/single-cls.safetensors"
cmp -s "$T/single-cls.safetensors" "$T/j/by method/cls.tokens.safetensors" && ok || bad "per-item method: differs from --method cls --keep 25%"
check_lines "$T/j/$REP" '.id == "by method/cls"' '.method == "cls" and .method_default == false and .n_kept == 144' "per-item method in the report"

# --- output names: paths outside the manifest's folder; encode's features files; --force
mkdir -p "$T/lists"
printf '%s\n' "../in/a.png" "$IN/sub/b.jpg" "$T/elsewhere.png" >"$T/lists/names.txt"
capture "$VTC" encode --manifest "$T/lists/names.txt" --out-dir "$T/e" --threads 2
check_rc 1 "encode batch" && ok
check_lines "$T/e/$REP" '.id == "_up/in/a.png"' ".status == \"ok\" and .output == \"$T/e/_up/in/a.png.features.safetensors\"" "a path above the manifest's folder"
check_lines "$T/e/$REP" ".path == \"$T/elsewhere.png\"" ".id == \"_root$T/elsewhere.png\" and .status == \"failed\"" "an absolute path outside it"
expect 0 "$VTC" encode "$IN/a.png" -o "$T/single-f.safetensors"
cmp -s "$T/single-f.safetensors" "$T/e/_up/in/a.png.features.safetensors" && ok || bad "encode batch differs from vtc encode"
printf 'a.png\n' >"$IN/one.txt"
expect 0 "$VTC" compress --manifest "$IN/one.txt" --out-dir "$T/f//" --threads 2
check_json "$T/f/$REP" ".output == \"$T/f/a.png.tokens.safetensors\"" "--out-dir's trailing slashes"
stamp "$T/f" >"$T/before"
sleep 0.01
expect 0 "$VTC" compress --manifest "$IN/one.txt" --out-dir "$T/f" --threads 2 --force
stamp "$T/f" >"$T/after"
cmp -s "$T/before" "$T/after" && bad "--force did not redo the item" || ok
grep -q '^items     1 ok, 0 failed, 0 skipped' "$T/out" && ok || bad "--force summary"

# --- --max-failures: stops early, exit 1
printf '%s\n' missing.jpg evil.mp4 a.png >"$IN/bad-first.txt"
expect 1 "$VTC" compress --manifest "$IN/bad-first.txt" --out-dir "$T/m" --max-failures 1 --workers 1
[ "$(wc -l <"$T/m/$REP")" -eq 1 ] && ok || bad "--max-failures 1: $(wc -l <"$T/m/$REP") report lines"
grep -q '^stopped .*2 items not attempted' "$T/out" && ok || { bad "--max-failures summary"; show 8 "$T/out"; }
[ -e "$T/m/a.png.tokens.safetensors" ] && bad "--max-failures went on" || ok

# --- manifest errors (exit 1, nothing written) and usage errors (exit 2)
printf 'a.png\n./a.png\n' >"$IN/dup.txt"
expect 1 "$VTC" compress --manifest "$IN/dup.txt" --out-dir "$T/u"
grep -q 'lines 1 and 2 have the same id' "$T/err" && ok || bad "duplicate: $(cat "$T/err")"
printf '{"path": "a.png", "id": "x"}\n{"path": "sub/b.jpg", "id": "x"}\n' >"$IN/dupid.jsonl"
expect 1 "$VTC" compress --manifest "$IN/dupid.jsonl" --out-dir "$T/u"
for bad_line in '{"path": "a.png"' '{"id": "x"}' '{"path": "a.png", "keep": "lots"}' '{"path": "a.png", "id": "../x"}' \
  '{"path": "a.png", "method": "nosuch"}' '{"path": 3}'; do
  printf '%s\n' "$bad_line" >"$IN/bad.jsonl"
  CASE=$bad_line expect 1 "$VTC" compress --manifest "$IN/bad.jsonl" --out-dir "$T/u"
done
printf '{"path": "a.png", "keep": 16}\n' >"$IN/enc.jsonl"
expect 1 "$VTC" encode --manifest "$IN/enc.jsonl" --out-dir "$T/u"
expect 1 "$VTC" compress --manifest "$T/no-such-list.txt" --out-dir "$T/u"
[ -e "$T/u" ] && bad "a manifest error left $T/u" || ok
expect 2 "$VTC" compress --manifest "$IN/list.txt"
expect 2 "$VTC" compress --manifest "$IN/list.txt" "$IN/a.png" --out-dir "$T/u"
expect 2 "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/u" -o "$T/u.safetensors"
expect 2 "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/u" --viz "$T/u.png"
expect 2 "$VTC" compress "$IN/a.png" --out-dir "$T/u"
expect 2 "$VTC" compress "$IN/a.png" --shard 0/2
for s in 3/3 -1/2 1 a/b 0/0 1/2/3; do
  CASE=$s expect 2 "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/u" --shard "$s"
done
expect 2 "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/u" --max-failures 0
expect 2 "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/u" --workers 0
expect 2 "$VTC" compress --manifest "$IN/list.txt" --out-dir "$T/u" --method nosuch
expect 2 "$VTC" compress --manifest "$IN/list.txt" --out-dir ""
[ -e "$T/u" ] && bad "a usage error left $T/u" || ok
expect 2 "$VTC" report
expect 2 "$VTC" report "$T/ref" --bogus
expect 1 "$VTC" report "$IN"
expect 0 "$VTC" compress --help
grep -q -- '--manifest LIST' "$T/out" && ok || bad "compress --help does not describe --manifest"

finish
