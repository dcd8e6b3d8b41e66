#!/bin/sh
# The long clip of bench/video.sh (issue 32): 2 minutes of 1080p H.264 at 30 fps
# made from real camera footage with the ffmpeg CLI. opencv-doc's vtest.avi (a
# street camera, 768x576, 10 fps, 795 frames) played at 30 fps (each frame once,
# so every frame of the clip differs from the one before, as a real 30 fps
# camera's would), looped to 120 s, upscaled to 1920x1440 (bicubic) and cropped
# to 1920x1080; encoded with libx264's defaults (preset medium, CRF 23, GOP up to
# 250 frames with scene cuts, 3 B-frames with pyramid): the long GOP a camera or
# screen recorder writes. 3600 frames, about 4 minutes of encoding on 2 cores.
#
#   sh tools/gen_long_clip.sh OUT.mp4
#
# Without opencv-doc (`apt-get install opencv-doc`) it falls back to
# samples/vtest.mp4 (its first 8 s): the same footage, looped more often.
set -eu
OUT=${1:?usage: sh tools/gen_long_clip.sh OUT.mp4}
DATA=${OPENCV_DATA:-/usr/share/doc/opencv-doc/examples/data}
if [ -f "$DATA/vtest.avi" ]; then SRC=$DATA/vtest.avi; else SRC=samples/vtest.mp4; fi
[ -f "$SRC" ] || { echo "gen_long_clip: no source clip ($SRC)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
ffmpeg -v error -y -nostdin -stream_loop -1 -i "$SRC" \
  -vf "setpts=N/(30*TB),scale=1920:1440:flags=bicubic,crop=1920:1080" -r 30 -t 120 \
  -c:v libx264 -pix_fmt yuv420p -an -f mp4 "$OUT.part"
mv "$OUT.part" "$OUT"
