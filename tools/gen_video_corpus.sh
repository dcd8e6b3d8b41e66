#!/bin/sh
# The video corpus of tests/cli_video_corpus.sh: small variants of real camera
# footage made with the ffmpeg CLI, covering the codecs, containers and quirks
# users' files have (issue 32): H.264 with B-frames and open GOPs, HEVC, VP9,
# AV1, MJPEG, MPEG-2, MPEG-4 part 2, GIF, cinepak; MP4, MKV, WebM, MOV, AVI,
# MPEG-TS, MPEG-PS; rotation, variable frame rate (a 30 -> 10 fps change, a 5 s
# timestamp gap), odd sizes, 10-bit, a video stream after an audio one that
# starts late, truncated files, streams joined mid-GOP, an AVI whose header
# claims more frames than it has, and AVI 'drop' chunks (opencv-doc's tree.avi).
#
#   sh tools/gen_video_corpus.sh DIR
#
# writes the files into DIR (nothing is committed: the test generates them into
# a temporary folder, a few seconds of encoding) and DIR/corpus.tsv: one line
# per file, "name<TAB>what it exercises". A variant whose encoder this ffmpeg
# build lacks is skipped with a line on stderr ("skipped: ...").
#
# Sources: opencv-doc's samples/data (`apt-get install opencv-doc`), vtest.avi
# (street camera, 768x576, 10 fps) and tree.avi (cinepak with empty drop
# chunks); without the package, samples/vtest.mp4 (the first 8 s of vtest.avi,
# the same licence: samples/LICENSES.md) and no tree.avi variant.
set -eu
OUT=${1:?usage: sh tools/gen_video_corpus.sh DIR}
DATA=${OPENCV_DATA:-/usr/share/doc/opencv-doc/examples/data}
if [ -f "$DATA/vtest.avi" ]; then SRC=$DATA/vtest.avi; else SRC=samples/vtest.mp4; fi
[ -f "$SRC" ] || { echo "gen_video_corpus: no source clip ($SRC)" >&2; exit 1; }
mkdir -p "$OUT"
LIST=$OUT/corpus.tsv
: > "$LIST"
F="ffmpeg -v error -y -nostdin"
export SVT_LOG=${SVT_LOG:-1} # SVT-AV1 prints its configuration otherwise
# 4 s of footage (40 frames at 10 fps) at 160x120 unless a variant says otherwise
IN="-t 4 -i $SRC"
SCALE=scale=160:120

add() { printf '%s\t%s\n' "$1" "$2" >> "$LIST"; }
have_encoder() { ffmpeg -hide_banner -encoders 2>/dev/null | awk '{print $2}' | grep -qx "$1"; }
skipped() { echo "gen_video_corpus: skipped: $*" >&2; }

# Cuts a file to a fraction of its bytes (a download that stopped): cut IN OUT NUM DEN [ALIGN]
cut_file() {
  size=$(wc -c < "$1")
  keep=$(( size * $3 / $4 ))
  [ -n "${5:-}" ] && keep=$(( keep / $5 * $5 ))
  head -c "$keep" "$1" > "$2"
}
# The tail of a file from a fraction of its bytes (a stream joined late): tail_file IN OUT NUM DEN ALIGN
tail_file() {
  size=$(wc -c < "$1")
  from=$(( size * $3 / $4 / $5 * $5 ))
  tail -c +$(( from + 1 )) "$1" > "$2"
}

# ---------------------------------------------------------------- codecs and containers
X264="-c:v libx264 -preset fast -crf 30 -pix_fmt yuv420p"
# B-frames (3, pyramid) and open GOPs: the recovery point is not an IDR frame
$F $IN -vf $SCALE $X264 -bf 3 -x264-params keyint=12:min-keyint=12:scenecut=0:open-gop=1 -an "$OUT/h264_opengop.mp4"
add h264_opengop.mp4 "H.264, 3 B-frames, open GOP, MP4"
$F -i "$OUT/h264_opengop.mp4" -c copy "$OUT/h264_opengop.mkv"
add h264_opengop.mkv "the same in Matroska (millisecond timestamps, cues on keyframes only)"
$F -i "$OUT/h264_opengop.mp4" -c copy "$OUT/h264_opengop.mov"
add h264_opengop.mov "the same in QuickTime MOV"
$F -i "$OUT/h264_opengop.mp4" -c copy "$OUT/h264_opengop.ts"
add h264_opengop.ts "the same in MPEG-TS (no index, starts at 1.4 s)"
$F $IN -vf $SCALE $X264 -bf 2 -g 12 -an "$OUT/h264_bframes.avi"
add h264_bframes.avi "H.264 with B-frames in AVI (packets without pts, two ticks per frame)"
if have_encoder libx265; then
  X265="-c:v libx265 -preset fast -crf 32 -x265-params log-level=error:keyint=12:min-keyint=12:scenecut=0:bframes=4:open-gop=1"
  $F $IN -vf $SCALE $X265 -pix_fmt yuv420p -tag:v hvc1 -an "$OUT/hevc.mp4"
  add hevc.mp4 "HEVC, 4 B-frames, open GOP (CRA + RASL), MP4"
  $F -i "$OUT/hevc.mp4" -c copy "$OUT/hevc.mkv"
  add hevc.mkv "the same in Matroska"
  $F $IN -vf $SCALE $X265 -pix_fmt yuv420p10le -an "$OUT/hevc_10bit.mkv"
  add hevc_10bit.mkv "HEVC Main 10 (yuv420p10le)"
  # from the keyframe at 1.2 s: the cut starts at a CRA whose leading (RASL) pictures cannot decode
  $F -ss 1.25 -i "$OUT/hevc.mp4" -c copy "$OUT/hevc_cut_cra.mkv"
  add hevc_cut_cra.mkv "HEVC cut at a CRA: an undecodable leading RASL picture, packets without pts"
else
  skipped "HEVC (no libx265 encoder)"
fi
if have_encoder libvpx-vp9; then
  # alt-ref frames: hidden frames packed into superframes
  $F $IN -vf $SCALE -c:v libvpx-vp9 -deadline good -cpu-used 8 -b:v 0 -crf 40 -g 12 -auto-alt-ref 1 \
     -lag-in-frames 16 -an "$OUT/vp9.webm"
  add vp9.webm "VP9 with alt-ref (hidden) frames, WebM"
  $F $IN -vf scale=37:29 -c:v libvpx-vp9 -deadline good -cpu-used 8 -b:v 0 -crf 40 -g 12 -an "$OUT/vp9_odd.webm"
  add vp9_odd.webm "VP9, odd size 37x29"
  $F $IN -vf $SCALE -c:v libvpx-vp9 -deadline good -cpu-used 8 -b:v 0 -crf 40 -g 12 -pix_fmt yuv420p10le \
     -an "$OUT/vp9_10bit.mkv"
  add vp9_10bit.mkv "VP9 profile 2, 10-bit, Matroska"
else
  skipped "VP9 (no libvpx-vp9 encoder)"
fi
AV1=""
for e in libsvtav1 libaom-av1 librav1e; do
  if [ -z "$AV1" ] && have_encoder $e; then AV1=$e; fi
done
case $AV1 in
  libsvtav1) AV1OPT="-c:v libsvtav1 -preset 12 -crf 50 -g 12" ;;
  libaom-av1) AV1OPT="-c:v libaom-av1 -cpu-used 8 -crf 50 -g 12" ;;
  librav1e) AV1OPT="-c:v librav1e -speed 10 -qp 200 -g 12" ;;
  *) AV1OPT="" ;;
esac
if [ -n "$AV1OPT" ]; then
  $F $IN -vf $SCALE $AV1OPT -pix_fmt yuv420p -an "$OUT/av1.mp4"
  add av1.mp4 "AV1 ($AV1), MP4"
  $F -i "$OUT/av1.mp4" -c copy "$OUT/av1.mkv"
  add av1.mkv "AV1 ($AV1), Matroska"
else
  skipped "AV1 (this ffmpeg has no AV1 encoder)"
fi
$F $IN -vf $SCALE -c:v mjpeg -q:v 5 -an "$OUT/mjpeg.avi"
add mjpeg.avi "MJPEG (full-range yuvj420p) in AVI"
$F $IN -vf $SCALE -c:v mpeg2video -q:v 6 -g 12 -bf 2 -an "$OUT/mpeg2.mpg"
add mpeg2.mpg "MPEG-2, 2 B-frames, open GOP, MPEG-PS (pts on some packets only)"
$F $IN -vf $SCALE -c:v mpeg2video -q:v 6 -g 12 -bf 2 -an "$OUT/mpeg2.ts"
add mpeg2.ts "MPEG-2 in MPEG-TS"
$F $IN -vf $SCALE -c:v mpeg4 -q:v 5 -g 12 -bf 2 -an "$OUT/mpeg4_bframes.avi"
add mpeg4_bframes.avi "MPEG-4 part 2 with B-frames in AVI (packed bitstream)"
$F -t 2 -i "$SRC" -vf scale=80:60 -c:v gif -an "$OUT/anim.gif"
add anim.gif "GIF (palette, delays in 1/100 s)"
if [ -f "$DATA/tree.avi" ]; then
  cp "$DATA/tree.avi" "$OUT/tree.avi"
  add tree.avi "cinepak AVI (opencv-doc tree.avi): header says 444 frames, 376 are empty drop chunks"
else
  skipped "tree.avi (install opencv-doc)"
fi

# ---------------------------------------------------------------- quirks
# Rotation in the MP4 track header (FFmpeg 5.1's CLI cannot write one: the tkhd
# matrix a b u / c d v / x y w, 16.16, is patched in place).
patch_rotation() { # file a b c d
  /usr/bin/python3 - "$@" <<'PY'
import struct, sys
path, a, b, c, d = sys.argv[1], *(int(x) for x in sys.argv[2:])
data = bytearray(open(path, "rb").read())
i = data.find(b"tkhd")
assert i > 0 and data[i + 4] == 0  # version 0: the matrix starts 40 bytes after the type
vals = [a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 0x40000000]
data[i + 44:i + 80] = b"".join(struct.pack(">I", x & 0xffffffff) for x in vals)
open(path, "wb").write(data)
PY
}
$F $IN -vf $SCALE $X264 -bf 2 -g 12 -an "$OUT/rot90.mp4"
patch_rotation "$OUT/rot90.mp4" 0 1 -1 0
add rot90.mp4 "display matrix: 90 degrees clockwise (the CLI autorotates)"
$F $IN -vf scale=35:27 -c:v libx264 -preset fast -crf 30 -pix_fmt yuv444p -g 12 -an "$OUT/rot270_odd.mov"
patch_rotation "$OUT/rot270_odd.mov" 0 -1 1 0
add rot270_odd.mov "270 degrees, odd size 35x27, H.264 4:4:4, MOV"
$F $IN -vf $SCALE -c:v libx264 -preset fast -crf 30 -pix_fmt yuv420p10le -g 12 -an "$OUT/h264_10bit.mkv"
add h264_10bit.mkv "H.264 High 10 (yuv420p10le)"

# Variable frame rate: 2 s at 30 fps (vtest's frames played 3x fast) then 2 s at 10 fps
# (timestamps as integers of the time base: setpts rounds N/30/TB down where it is inexact)
VFR="settb=1/30,setpts=N,select='lt(n\,60)+gte(n\,60)*not(mod(n\,3))',$SCALE"
for ext in mkv mp4 ts; do
  $F -t 12 -i "$SRC" -vf "$VFR" -r 30 -fps_mode passthrough $X264 -bf 2 -g 15 -an "$OUT/vfr_30to10.$ext"
  add "vfr_30to10.$ext" "30 fps for 2 s, then 10 fps"
done
# A 5 s gap in the timestamps after 2 s
GAP="settb=1/10,setpts=N+gte(N\,20)*50,$SCALE"
for ext in mkv mp4 ts; do
  $F $IN -vf "$GAP" -r 10 -fps_mode passthrough $X264 -bf 2 -g 12 -an "$OUT/gap5s.$ext"
  add "gap5s.$ext" "10 fps with a 5 s gap after 2 s"
done

# The same in AVI: the muxer fills the gap with empty 'drop' chunks, and its headers count them
$F $IN -vf "$GAP" -r 10 -fps_mode passthrough -c:v mpeg4 -q:v 5 -g 12 -an "$OUT/gap5s.avi"
add gap5s.avi "MPEG-4 in AVI with a 5 s gap: 50 empty drop chunks, counted by the headers"

# Audio first, the video stream starting 1.5 s later
for ext in mp4 mkv ts; do
  $F -f lavfi -i "sine=frequency=440:duration=5.5" -itsoffset 1.5 $IN -map 0:a -map 1:v -vf $SCALE $X264 -bf 2 -g 12 \
     -fps_mode passthrough -c:a aac -b:a 32k "$OUT/late_video.$ext"
  add "late_video.$ext" "audio stream first, video starting 1.5 s late"
done

# ---------------------------------------------------------------- damaged
# 8 s (80 frames) to cut from
$F -t 8 -i "$SRC" -vf $SCALE $X264 -bf 2 -g 12 -an -movflags +faststart "$OUT/whole.mp4"
cut_file "$OUT/whole.mp4" "$OUT/trunc_half.mp4" 1 2
add trunc_half.mp4 "MP4 (index first) cut in half: the index names 80 frames"
$F -i "$OUT/whole.mp4" -c copy "$OUT/whole.mkv"
cut_file "$OUT/whole.mkv" "$OUT/trunc.mkv" 3 5
add trunc.mkv "Matroska cut at 60%"
head -c 1500 "$OUT/whole.mkv" > "$OUT/trunc_head.mkv"
add trunc_head.mkv "Matroska cut after 1500 bytes: headers, no whole frame (nothing decodes)"
# PAT/PMT every 50 ms, so that a stream joined anywhere is found at once, before its next keyframe
$F -t 8 -i "$SRC" -vf $SCALE $X264 -bf 2 -x264-params keyint=12:min-keyint=12:scenecut=0:open-gop=1 -an \
   -mpegts_flags +resend_headers -pat_period 0.05 "$OUT/whole.ts"
cut_file "$OUT/whole.ts" "$OUT/trunc_midgop.ts" 11 20 188
add trunc_midgop.ts "MPEG-TS cut at 55%, mid-GOP"
tail_file "$OUT/whole.ts" "$OUT/joined_midgop.ts" 9 20 188
add joined_midgop.ts "MPEG-TS joined at 45%, mid-GOP: packets before the first keyframe, without SPS/PPS"
$F -i "$OUT/whole.mp4" -c copy -movflags +frag_keyframe+empty_moov "$OUT/fragmented.mp4"
add fragmented.mp4 "fragmented MP4 (empty moov, a moof per keyframe)"
$F -t 8 -i "$SRC" -vf $SCALE -c:v mpeg4 -q:v 5 -g 12 -an "$OUT/whole.avi"
cut_file "$OUT/whole.avi" "$OUT/trunc.avi" 3 5
add trunc.avi "AVI cut at 60% (no idx1)"
$F -t 8 -i "$SRC" -vf $SCALE -c:v mpeg2video -q:v 6 -g 12 -bf 2 -an "$OUT/whole_mpeg2.ts"
tail_file "$OUT/whole_mpeg2.ts" "$OUT/mpeg2_joined.ts" 1 3 188
add mpeg2_joined.ts "MPEG-2 TS joined at a third, mid-GOP (open GOP B-frames without their reference)"
rm -f "$OUT/whole.mp4" "$OUT/whole.mkv" "$OUT/whole.ts" "$OUT/whole.avi" "$OUT/whole_mpeg2.ts"

# An AVI whose main header and stream header claim 2000 frames (it has 40)
$F $IN -vf $SCALE -c:v mjpeg -q:v 5 -an "$OUT/avi_header2000.avi"
/usr/bin/python3 - "$OUT/avi_header2000.avi" <<'PY'
import struct, sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
i = data.find(b"avih")          # dwTotalFrames: the 5th DWORD of MainAVIHeader
struct.pack_into("<I", data, i + 8 + 16, 2000)
j = data.find(b"strh")          # dwLength: 9th DWORD after fccType, fccHandler (AVIStreamHeader)
assert data[j + 8:j + 12] == b"vids"
struct.pack_into("<I", data, j + 8 + 32, 2000)
open(path, "wb").write(data)
PY
add avi_header2000.avi "AVI whose headers claim 2000 frames (40 indexed)"

ls -l "$OUT" >&2
