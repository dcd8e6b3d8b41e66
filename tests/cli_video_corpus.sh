#!/bin/sh
# The video corpus (issue 32): every variant tools/gen_video_corpus.sh makes from
# real footage (codecs, containers, B-frames, open GOPs, rotation, VFR, gaps,
# odd sizes, 10-bit, late video streams, truncated and joined files, AVI drop
# chunks and oversized headers) against the ffmpeg CLI:
# - the frame count: `vtc info`'s against the number of frames the CLI decodes
#   with `-fps_mode passthrough` (-vsync 0), the frames its select filter
#   numbers; `ffprobe -count_frames` is shown beside it (it decodes the same
#   frames; where it differs the CLI's decode is the reference, being what
#   `select=eq(n\,k)` counts);
# - `vtc frames --frames 8`: each frame byte for byte against the CLI's
#   `select=eq(n\,k)` output for the same k, as rgb24 PPM at the decoded size
#   (the CLI autorotates by default and so does vtc);
# - `vtc frames --fps 3`: the indices against the --fps rule applied to the
#   frames' timestamps as ffprobe reports them (best_effort_timestamp_time);
# - a file the CLI cannot decode at all must fail with exit 1 and one error line.
# Prints one table line per variant. Run from the repository root:
#   sh tests/cli_video_corpus.sh        (VTC=path/to/vtc; KEEP=DIR keeps the corpus there)
. tests/lib.sh
need_cmd ffmpeg "apt-get install ffmpeg"
need_cmd ffprobe "apt-get install ffmpeg"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is not installed (the generator patches headers with it)"
need_vtc

C=${KEEP:-$T/corpus}
if ! sh tools/gen_video_corpus.sh "$C" 2>"$T/gen.err" >/dev/null; then
  bad "tools/gen_video_corpus.sh failed"; show 20 "$T/gen.err"; finish
fi
grep 'skipped:' "$T/gen.err" | sed "s/^/$TEST_NAME: /"
FF="ffmpeg -v error -nostdin"

# ffprobe's timestamps -> the indices of the --fps rule: for t = j/F (j = 0, 1, ...)
# up to the last frame's time, the first frame at or after t (1 ms tolerance), each once
fps_rule() { # FILE FPS
  ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time -of csv=p=0 "$1" 2>/dev/null |
    awk -F, -v fps="$2" '$1 != "" && $1 != "N/A" { t[n++] = $1 }
      END { if (n == 0) exit; t0 = t[0]; last = t[n-1] - t0; k = 0; prev = -1
            for (j = 0; j / fps <= last + 1e-3; j++) {
              while (k < n - 1 && t[k] - t0 < j / fps - 1e-3) k++
              if (k != prev) { print k; prev = k } } }'
}

printf '%-20s %-24s %8s %8s %10s %8s\n' variant "vtc count (source)" ffprobe decoded "8 frames" "--fps 3"
while IFS="$(printf '\t')" read -r name what; do
  f=$C/$name
  CASE=$name
  probe=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$f" \
          2>/dev/null | head -n 1 | tr -d ',')
  decoded=$($FF -i "$f" -map 0:v:0 -fps_mode passthrough -f framemd5 - 2>/dev/null | grep -vc '^#')
  # vtc's count
  capture "$VTC" info "$f"
  count=$(sed -n 's/.*, \([0-9]*\) frames (count from: \([a-z ]*\)).*/\1 (\2)/p' "$T/out")
  if [ "$decoded" -eq 0 ]; then # the CLI decodes nothing: vtc must fail cleanly
    if [ "$rc" = 1 ] && one_error_line; then ok; else bad "the CLI decodes no frame; vtc info exit $rc"; show; fi
    printf '%-20s %-24s %8s %8s %10s %8s\n' "$name" "error (exit $rc)" "${probe:-?}" 0 - -
    continue
  fi
  if [ "$rc" != 0 ] || [ "${count%% *}" != "$decoded" ]; then
    bad "vtc info: ${count:-exit $rc}, the CLI decodes $decoded frames"; show
  else
    ok
  fi
  # 8 frames, byte for byte
  same=no
  rm -rf "$T/vtc" "$T/ref"
  mkdir -p "$T/ref"
  capture "$VTC" frames "$f" --frames 8 --out "$T/vtc"
  if check_rc 0 vtc frames --frames 8; then
    idx=$(cut -f1 "$T/out" | uniq)
    sel=$(echo "$idx" | sed 's/.*/eq(n\\,&)/' | paste -sd+ -)
    $FF -i "$f" -map 0:v:0 -vf "select='$sel'" -fps_mode passthrough -pix_fmt rgb24 "$T/ref/%d.ppm" 2>/dev/null
    i=0; differ=""
    for k in $idx; do
      i=$((i + 1))
      cmp -s "$T/vtc/frame-$(printf %06d "$k").ppm" "$T/ref/$i.ppm" || differ="$differ $k"
    done
    if [ -z "$differ" ]; then same=yes; ok; else same="no:$differ"; bad "frames differ from the CLI's select:$differ"; fi
  fi
  # --fps 3 on presentation timestamps
  fps_ok=no
  capture "$VTC" frames "$f" --fps 3
  if check_rc 0 vtc frames --fps 3; then
    fps_rule "$f" 3 > "$T/want"
    cut -f1 "$T/out" > "$T/got"
    if cmp -s "$T/want" "$T/got"; then fps_ok=yes; ok
    else bad "--fps 3 indices $(paste -sd, "$T/got" | head -c 120) != $(paste -sd, "$T/want" | head -c 120)"; fi
  fi
  printf '%-20s %-24s %8s %8s %10s %8s\n' "$name" "${count:-?}" "${probe:-?}" "$decoded" "$same" "$fps_ok"
done < "$C/corpus.tsv"
CASE=""

# The issue's reproduction: the cinepak AVI whose header counts its drop chunks
if [ -f "$C/tree.avi" ]; then
  expect 0 "$VTC" compress "$C/tree.avi" --frames 8 -o "$T/tree.safetensors" --json &&
    check_json "$T/out" '.media.total_frames == 68 and (.media.frame_index | . == [0, 9, 19, 28, 38, 47, 57, 67])' \
      "tree.avi: 8 frames of 68"
fi
finish
