#!/usr/bin/python3
"""Image decode and preprocessing fixtures, with Pillow as the reference.

    /usr/bin/python3 tools/gen_image_fixtures.py      # from the repository root

Writes tests/fixtures/images/:
  *.png / *.jpg             small images of every PNG colour type and bit depth
                            (palette, tRNS, 16-bit, 1-bit, interlaced) and JPEG kinds
                            (baseline, progressive, grayscale), cut from real photos
  <name>.rgb                Image.open(p).convert('RGB') bytes (expected decode)
  <name>.<W>x<H>.rgb        .resize((W, H), Image.BICUBIC) of that (expected resize)
  <name>.<mode><S>.f32      the CLIP image processor's output [3, S, S] float32
                            (mode crop | pad | resize; CLIP mean/std)
  bad_*                     hostile files, each with its expected vtc status in MANIFEST.txt
  MANIFEST.txt              one line per case: kind name args...
"""
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import vtc_ref as R  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "images")
PHOTO = "/usr/lib/python3/dist-packages/skimage/data/chelsea.png"  # a real photo (public domain)


def crop(w, h, x=120, y=60):
    im = Image.open(PHOTO).convert("RGB")
    return im.crop((x, y, x + 3 * w, y + 3 * h)).resize((w, h), Image.BICUBIC)


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = []
    rgb = crop(37, 23)
    imgs = {}
    imgs["rgb8.png"] = rgb
    imgs["rgba8.png"] = rgb.convert("RGBA")
    a = np.asarray(imgs["rgba8.png"]).copy()
    a[..., 3] = np.arange(37)[None, :] * 6
    imgs["rgba8.png"] = Image.fromarray(a, "RGBA")
    imgs["gray8.png"] = rgb.convert("L")
    imgs["graya8.png"] = Image.merge("LA", (rgb.convert("L"), Image.new("L", rgb.size, 128)))
    imgs["palette.png"] = rgb.convert("P", palette=Image.ADAPTIVE, colors=37)
    pal_t = rgb.convert("P", palette=Image.ADAPTIVE, colors=16)
    pal_t.info["transparency"] = 3
    imgs["palette_trns.png"] = pal_t
    imgs["bilevel.png"] = rgb.convert("1")
    imgs["interlaced.png"] = rgb
    for name, im in imgs.items():
        kw = {"interlace": 1} if name == "interlaced.png" else {}
        if name == "palette_trns.png":
            im.save(os.path.join(OUT, name), transparency=3)
        else:
            im.save(os.path.join(OUT, name), **kw)
    # 16-bit PNGs (Pillow cannot write 16-bit RGB; write them with zlib by hand)
    def png16(path, arr, ctype):
        h, w = arr.shape[:2]
        raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))
        def chunk(t, d):
            return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
        data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0))
        data += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
        open(path, "wb").write(data)
    base = np.asarray(rgb).astype(np.uint16)
    png16(os.path.join(OUT, "rgb16.png"), base * 257 + np.arange(37, dtype=np.uint16)[None, :, None], 2)
    png16(os.path.join(OUT, "rgba16.png"), np.concatenate([base * 257, np.full((23, 37, 1), 40000, np.uint16)], 2), 6)
    png16(os.path.join(OUT, "gray16.png"), (np.asarray(rgb.convert("L")).astype(np.uint16) * 3), 0)  # values > 255 clip
    # JPEGs from a different crop and size
    j = crop(64, 48, 40, 20)
    j.save(os.path.join(OUT, "baseline.jpg"), quality=85)
    j.save(os.path.join(OUT, "progressive.jpg"), quality=80, progressive=True)
    j.convert("L").save(os.path.join(OUT, "gray.jpg"), quality=90)
    crop(50, 80, 200, 10).save(os.path.join(OUT, "tall.jpg"), quality=92, subsampling=0)

    valid = sorted(n for n in os.listdir(OUT) if n.endswith((".png", ".jpg")) and not n.startswith("bad_"))
    for name in valid:
        im = Image.open(os.path.join(OUT, name)).convert("RGB")
        stem = os.path.splitext(name)[0]
        np.asarray(im).tofile(os.path.join(OUT, stem + ".rgb"))
        lines.append(f"decode {name} {im.size[0]} {im.size[1]}")
        if name not in ("rgb8.png", "baseline.jpg", "tall.jpg", "gray8.png"):
            continue  # resampling does not depend on how the image was stored
        for (w, h) in ((im.size[0] * 2 + 3, im.size[1] + 5), (max(1, im.size[0] // 3), max(1, im.size[1] // 2)),
                       (im.size[0], im.size[1] * 3)):
            np.asarray(im.resize((w, h), Image.BICUBIC)).tofile(os.path.join(OUT, f"{stem}.{w}x{h}.rgb"))
            lines.append(f"resize {name} {w} {h}")
    for name in ("rgb8.png", "baseline.jpg", "tall.jpg"):
        im = Image.open(os.path.join(OUT, name)).convert("RGB")
        stem = os.path.splitext(name)[0]
        for mode in ("crop", "pad", "resize"):
            for size in (14, 28):
                px = R.preprocess(im, size, mode, R.CLIP_MEAN, R.CLIP_STD)
                px.astype(np.float32).tofile(os.path.join(OUT, f"{stem}.{mode}{size}.f32"))
                lines.append(f"preprocess {name} {mode} {size}")

    # hostile files: expected status (vtc_status names)
    good_png = open(os.path.join(OUT, "rgb8.png"), "rb").read()
    good_jpg = open(os.path.join(OUT, "baseline.jpg"), "rb").read()
    bad = {
        "bad_empty.png": (b"", "FORMAT"),
        "bad_text.png": (b"this is not an image at all\n", "UNSUPPORTED"),
        "bad_trunc.png": (good_png[:len(good_png) // 2], "FORMAT"),
        "bad_header.png": (good_png[:20], "FORMAT"),
        "bad_trunc.jpg": (good_jpg[:len(good_jpg) // 2], "FORMAT"),
        "bad_header.jpg": (good_jpg[:12], "FORMAT"),
        "bad_crc.png": (good_png[:40] + bytes([good_png[40] ^ 0xff]) + good_png[41:], "FORMAT"),
    }
    # decompression bomb: a valid header claiming 100000 x 100000 pixels
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
    bomb += chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    bad["bad_bomb.png"] = (bomb, "LIMIT")
    zero = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 5, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")
    bad["bad_zero.png"] = (zero, "FORMAT")
    cmyk = io.BytesIO()
    crop(16, 16).convert("CMYK").save(cmyk, "JPEG")
    bad["bad_cmyk.jpg"] = (cmyk.getvalue(), "UNSUPPORTED")
    for name, (data, status) in bad.items():
        open(os.path.join(OUT, name), "wb").write(data)
        lines.append(f"bad {name} {status}")
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("# written by tools/gen_image_fixtures.py; reference: Pillow %s\n" % Image.__version__)
        f.write("\n".join(lines) + "\n")
    print(len(lines), "cases")


if __name__ == "__main__":
    main()
