#!/bin/sh
# Small test clips made with the ffmpeg CLI (real camera content from
# samples/vtest.mp4, plus synthetic patterns). Run from the repository root.
set -eu
D=tests/fixtures/video
mkdir -p "$D"
F="ffmpeg -v error -y"
# 40 frames, H.264 in MP4, keyframe every 10 frames (seeking is exercised)
$F -i samples/vtest.mp4 -frames:v 40 -vf scale=96:72 -c:v libx264 -g 10 -bf 2 -crf 30 -pix_fmt yuv420p -an "$D/cam40.mp4"
# 17 frames, MPEG-4 part 2 in AVI
$F -i samples/vtest.mp4 -ss 2 -frames:v 17 -vf scale=80:60 -c:v mpeg4 -q:v 5 -an "$D/cam17.avi"
# 23 frames, MJPEG (full-range yuvj) in Matroska, odd size
$F -f lavfi -i testsrc=size=33x25:rate=12 -frames:v 23 -c:v mjpeg -q:v 4 "$D/odd23.mkv"
# rotation: an H.264 clip whose track header carries a 90-degree display matrix
# (FFmpeg 5.1's CLI cannot set one, so the tkhd matrix is patched in place)
$F -i samples/vtest.mp4 -frames:v 12 -vf scale=64:48 -c:v libx264 -crf 30 -pix_fmt yuv420p -an "$D/rot90.mp4"
/usr/bin/python3 - "$D/rot90.mp4" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.find(b"tkhd")
assert i > 0 and d[i + 4] == 0  # version 0: the matrix starts 40 bytes after the type
m = i + 4 + 40
vals = [0, 0x10000, 0, -0x10000 & 0xffffffff, 0, 0, 0, 0, 0x40000000]  # a=0 b=1 c=-1 d=0 (16.16)
d[m:m + 36] = b"".join(struct.pack(">I", v) for v in vals)
open(sys.argv[1], "wb").write(d)
PY
# audio only
$F -f lavfi -i sine=frequency=440:duration=0.05 -c:a pcm_s16le "$D/audio.wav"
# truncated clip
head -c 3000 "$D/cam40.mp4" > "$D/trunc.mp4"
# garbage
printf 'RIFF\0\0\0\0AVI garbage garbage garbage' > "$D/garbage.avi"
ls -la "$D"
