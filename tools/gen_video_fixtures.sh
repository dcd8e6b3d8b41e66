#!/bin/sh
# Small test clips for tests/test_video.c, made with the ffmpeg CLI from the real
# camera footage in samples/vtest.mp4 (and a synthetic pattern for the MJPEG
# clip). The expected frames are not stored: the test asks the ffmpeg CLI for
# them at test time. Run from the repository root: sh tools/gen_video_fixtures.sh
set -eu
D=tests/fixtures/video
S=samples/vtest.mp4
mkdir -p "$D"
F="ffmpeg -v error -y -nostdin"

# 40 frames, H.264 in MP4, keyframe every 10 frames, B-frames (seeking is exercised);
# 90 pixels wide: not a multiple of 8, so swscale's SIMD YUV->RGB has a remainder
$F -i $S -frames:v 40 -vf scale=90:68 -c:v libx264 -g 10 -keyint_min 10 -sc_threshold 0 -bf 2 -crf 30 \
   -pix_fmt yuv420p -an "$D/cam40.mp4"
# 17 frames, MPEG-4 part 2 in AVI
$F -ss 2 -i $S -frames:v 17 -vf scale=80:60 -c:v mpeg4 -q:v 5 -an "$D/cam17.avi"
# 23 frames, MJPEG (full-range 4:2:2 yuvj) in Matroska, odd size, a synthetic pattern
$F -f lavfi -i testsrc=size=33x25:rate=12 -frames:v 23 -c:v mjpeg -pix_fmt yuvj422p -q:v 4 "$D/odd23.mkv"
# 13 frames, lossless FFV1 4:2:0 in Matroska, odd size (swscale's general path, chroma upsampled)
$F -i $S -frames:v 13 -vf scale=33:25 -c:v ffv1 -pix_fmt yuv420p "$D/odd13.mkv"
# 8 frames, H.264 full range tagged BT.709 (the colour matrix and range come from the frames)
$F -i $S -frames:v 8 -vf scale=64:48 -c:v libx264 -crf 30 -pix_fmt yuvj420p -colorspace bt709 \
   -color_primaries bt709 -color_trc bt709 "$D/full709.mkv"

# 12 frames of raw H.264 (Annex B, no container, no timestamps: frames are counted)
$F -i $S -frames:v 12 -vf scale=64:48 -c:v libx264 -g 4 -bf 2 -crf 30 -pix_fmt yuv420p -an -f h264 "$D/raw12.h264"
# 20 frames, H.264 in MPEG-TS (no index: seeking by bisection), starting at 1.4 s
$F -i $S -frames:v 20 -vf scale=64:48 -c:v libx264 -g 5 -bf 2 -crf 30 -pix_fmt yuv420p -an "$D/cam20.ts"

# Rotation: a display matrix in the MP4 track header. FFmpeg 5.1's CLI cannot write
# one, so the tkhd matrix of a plain clip is patched in place (a b u / c d v / x y w, 16.16).
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
$F -i $S -frames:v 12 -vf scale=64:48 -c:v libx264 -crf 30 -pix_fmt yuv420p -an "$D/rot90.mp4"
patch_rotation "$D/rot90.mp4" 0 1 -1 0     # 90 degrees clockwise
$F -i $S -frames:v 6 -vf scale=64:48 -c:v libx264 -crf 30 -pix_fmt yuv420p -an "$D/rot180.mp4"
patch_rotation "$D/rot180.mp4" -1 0 0 -1
$F -i $S -frames:v 6 -vf scale=35:21 -c:v mjpeg -q:v 4 -an "$D/rot270.mp4"   # odd size too
patch_rotation "$D/rot270.mp4" 0 -1 1 0

# Variable frame rate: every third frame of a 10 fps clip dropped, timestamps kept
# (30 frames at 0, .1, .3, .4, .6, ... s). In MP4 the rates disagree (10 vs 75/11) so
# vtc indexes the packets at once; in Matroska both claim 75/11, so vtc first takes
# it for constant-rate and must notice.
$F -i $S -vf "select='not(eq(mod(n\,3)\,2))',scale=80:60" -vsync passthrough -frames:v 30 -c:v libx264 -g 8 \
   -bf 2 -crf 32 -pix_fmt yuv420p -an "$D/vfr.mp4"
$F -i "$D/vfr.mp4" -c copy "$D/vfr.mkv"
# AVI 'drop' chunks: 20 frames at 0-0.5 s, 3.6-4.1 s and 4.9-5.6 s; the AVI muxer fills the
# gaps with 37 empty chunks, and its headers count them (57 frames)
$F -t 2 -i $S -vf "settb=1/10,setpts=N+gte(N\,6)*30+gte(N\,12)*7,scale=64:48" -r 10 -fps_mode passthrough \
   -c:v mpeg4 -q:v 6 -g 6 -an "$D/drops.avi"

# Broken or unusable inputs
$F -f lavfi -i sine=frequency=440:duration=0.05 -c:a pcm_s16le "$D/audio.wav"       # audio only
$F -f lavfi -i testsrc=size=16x16 -frames:v 1 "$D/cover.tmp.png"                      # audio with cover art
$F -f lavfi -i sine=frequency=440:duration=0.1 -i "$D/cover.tmp.png" -map 0:a -map 1:v -c:a libmp3lame -b:a 32k \
   -c:v copy -disposition:v attached_pic "$D/cover.mp3"
rm -f "$D/cover.tmp.png"
$F -f lavfi -i testsrc=size=32x32:rate=10 -frames:v 0 -c:v mpeg4 "$D/empty.avi"      # a video stream, no frames
head -c 3000 "$D/cam40.mp4" > "$D/trunc.mp4"                                           # no moov: cannot open
$F -i "$D/cam40.mp4" -c copy -movflags +faststart "$D/fast.tmp.mp4"                 # moov first, then
head -c 6000 "$D/fast.tmp.mp4" > "$D/truncfs.mp4"                                     # the frames cut off
rm -f "$D/fast.tmp.mp4"
printf 'RIFF\0\0\0\0AVI garbage garbage garbage' > "$D/garbage.avi"
# two frames 4.6e15 s apart (Matroska's millisecond ticks near int64's end): --fps must refuse, not count forever
$F -f lavfi -i testsrc=size=32x32:rate=1 -frames:v 2 -fps_mode passthrough -c:v ffv1 \
   -bsf:v "setts=ts=N*4600000000000000000" "$D/gap.mkv"
ls -la "$D"
du -sh "$D"
