#!/usr/bin/python3
"""Image decode and preprocessing fixtures, with Pillow 9.4 as the reference.

    /usr/bin/python3 tools/gen_image_fixtures.py      # from the repository root

Writes tests/fixtures/images/ (read by tests/test_image.c):

  *.png, *.jpg        small images cut from real photos (scikit-image's chelsea,
                      astronaut, coffee): every PNG colour type and bit depth
                      (1/2/4/8/16-bit gray, gray+alpha 8/16, RGB 8/16, RGBA 8/16,
                      palette 1/2/4/8-bit, short palettes, tRNS, Adam7 interlace),
                      a PNG Pillow tolerates (no IEND, bad IDAT CRC, an unknown
                      critical chunk), JPEG baseline 4:2:0/4:2:2/4:4:4, progressive,
                      (4:2:0 and 4:4:4), grayscale, CMYK and one with an EXIF orientation
  <stem>.rgb          Image.open(p).convert('RGB') as raw bytes [H, W, 3]; images
                      that decode identically share one file
  <stem>.<W>x<H>.rgb  .resize((W, H), Image.BICUBIC) of the decoded image
  <stem>.<mode><S>-<norm>.u8
                      the uint8 model input [S, S, 3] of the image processor
                      (mode crop = CLIPImageProcessor, pad = LLaVA-1.5's expand2square
                      then CLIP, resize = SiglipImageProcessor) before rescale/normalise
  norm-<norm>.f32     float32 [3, 256]: transformers' rescale + normalize of each value
                      v of channel c: float32(v * (1/255) in float64), then
                      (x - mean) / std in float32. The processor's output is exactly
                      norm[c][u8[y, x, c]] (checked here against the full pipeline)
                      at a quarter of the bytes of storing it
  bad_*               hostile files, each failing in Pillow too
  MANIFEST.txt        one case per line:
                        decode <image> <W> <H> <expected.rgb>
                        resize <image> <W> <H> <expected.rgb>
                        norm <name> <mean0..2> <std0..2> <table.f32>
                        preprocess <image> <crop|pad|resize> <S> <norm> <expected.u8>
                        bad <file> <vtc status: FORMAT | UNSUPPORTED | LIMIT>

fuzz_elongated.jpg (a 64x26672 JPEG found by fuzzing; tests/cli_pipeline.sh uses it)
is not written here, only read for its preprocessing cases.
"""
import hashlib
import io
import os
import struct
import sys
import zlib

import warnings

import numpy as np
from PIL import Image

warnings.simplefilter("ignore")  # Pillow's note on palette transparency in convert('RGB')

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "images")
DATA = "/usr/lib/python3/dist-packages/skimage/data/"

NORMS = {
    "clip": ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]),
    "siglip": ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
    # 0.4862745 * 255 truncates to 123 in float64 but 124 from its float32:
    # the pad colour must come from the decimal, as in Python
    "edge": ([0.4862745, 0.6, 0.972549], [0.25, 0.3, 0.7]),
}


def photo(name, w, h, x, y, step=3):
    """A w x h cut of a real photo: the (x, y, step*w, step*h) box, bicubic-reduced."""
    im = Image.open(DATA + name).convert("RGB")
    return im.crop((x, y, x + step * w, y + step * h)).resize((w, h), Image.BICUBIC)


# ---------------------------------------------------------------- a PNG writer for what Pillow cannot write
# (16-bit RGB(A) and gray+alpha, 2/4-bit gray, short palettes, Adam7 interlace)

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def scanlines(a, depth):
    """[h, w, c] samples -> filter-type-0 scanlines."""
    out = b""
    for row in a:
        v = row.reshape(-1).astype(np.int64)
        if depth == 16:
            b = v.astype(">u2").tobytes()
        elif depth == 8:
            b = v.astype(np.uint8).tobytes()
        else:
            per = 8 // depth
            v = np.concatenate([v, np.zeros(-len(v) % per, np.int64)]).reshape(-1, per)
            packed = np.zeros(len(v), np.int64)
            for i in range(per):
                packed = packed << depth | v[:, i]
            b = packed.astype(np.uint8).tobytes()
        out += b"\0" + b
    return out


def png_bytes(a, depth, ctype, palette=None, trns=None, interlace=False):
    a = np.asarray(a)
    a = a[:, :, None] if a.ndim == 2 else a
    h, w, c = a.shape
    assert c == CHANNELS[ctype] and a.min() >= 0 and a.max() < 1 << depth
    if interlace:
        raw = b"".join(scanlines(a[y0::dy, x0::dx], depth) for x0, y0, dx, dy in ADAM7
                       if a[y0::dy, x0::dx].size)
    else:
        raw = scanlines(a, depth)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, int(interlace)))
    if palette is not None:
        out += chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# ---------------------------------------------------------------- the image processors (transformers semantics)

def model_input(im, size, mode, mean):
    """uint8 [size, size, 3] the model sees before rescale/normalise.
    crop: CLIPImageProcessor: shortest edge -> size (long side int(size * long / short),
          transformers' get_resize_output_image_size), PIL BICUBIC, centre crop at
          ((h - size) // 2, (w - size) // 2);
    pad: LLaVA-1.5: expand2square(im, tuple(int(x * 255) for x in mean)), then crop;
    resize: SiglipImageProcessor: BICUBIC straight to size x size."""
    if mode == "pad":
        w, h = im.size
        if w != h:
            s = max(w, h)
            sq = Image.new(im.mode, (s, s), tuple(int(x * 255) for x in mean))
            sq.paste(im, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
            im = sq
    if mode == "resize":
        return np.asarray(im.resize((size, size), Image.BICUBIC))
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    a = np.asarray(im.resize((nw, nh), Image.BICUBIC))
    top, left = (nh - size) // 2, (nw - size) // 2
    return a[top:top + size, left:left + size].copy()


def norm_table(mean, std):
    """transformers' rescale (x.astype(float64) * (1/255) -> float32) and normalize
    ((x - mean) / std with mean, std as float32 arrays) of every value: [3, 256]."""
    x = (np.arange(256).astype(np.float64) * (1 / 255)).astype(np.float32)
    return (x[None, :] - np.array(mean, np.float32)[:, None]) / np.array(std, np.float32)[:, None]


def preprocess(im, size, mode, mean, std):
    """The processor's pixel_values [3, size, size] float32, computed the long way."""
    x = (model_input(im, size, mode, mean).astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    return x.transpose(2, 0, 1)


# ---------------------------------------------------------------- the fixtures

def valid_images():
    """name -> file bytes."""
    files = {}

    def save(name, im, **kw):
        b = io.BytesIO()
        im.save(b, "PNG" if name.endswith(".png") else "JPEG", **kw)
        files[name] = b.getvalue()

    rgb = photo("chelsea.png", 37, 23, 120, 60)
    a = np.asarray(rgb)
    gray = np.asarray(rgb.convert("L"))
    # Pillow-written PNGs
    save("rgb8.png", rgb)
    rgba = np.concatenate([a, (np.arange(37) * 7)[None, :, None].repeat(23, 0)], 2).astype(np.uint8)
    save("rgba8.png", Image.fromarray(rgba, "RGBA"))
    save("gray8.png", rgb.convert("L"))
    save("graya8.png", Image.merge("LA", (rgb.convert("L"), Image.new("L", rgb.size, 128))))
    save("palette.png", rgb.convert("P", palette=Image.ADAPTIVE, colors=37))
    save("palette_trns.png", rgb.convert("P", palette=Image.ADAPTIVE, colors=16), transparency=3)
    save("bilevel.png", rgb.convert("1"))  # 1-bit gray, dithered
    # hand-written PNGs
    pal16 = np.asarray(rgb.convert("P", palette=Image.ADAPTIVE, colors=16))
    pal = np.asarray(rgb.convert("P", palette=Image.ADAPTIVE, colors=16).getpalette()[:48]).reshape(16, 3)
    files["interlaced.png"] = png_bytes(a, 8, 2, interlace=True)
    files["gray2.png"] = png_bytes(gray >> 6, 2, 0, interlace=True)
    files["gray4.png"] = png_bytes(gray >> 4, 4, 0)
    files["gray4_trns.png"] = png_bytes(gray >> 4, 4, 0, trns=struct.pack(">H", 7))
    files["palette1.png"] = png_bytes(gray >> 7, 1, 3, palette=[[200, 30, 40], [10, 220, 90]])
    # Palettes shorter than the indices used: Pillow shows index i >= len(PLTE) as gray (i, i, i).
    quarters = gray.astype(np.int64) * 4 // (int(gray.max()) + 1)  # all of 0..3
    files["palette2_short.png"] = png_bytes(quarters, 2, 3, palette=[[255, 0, 0], [0, 255, 0], [0, 0, 255]])
    files["palette4_short.png"] = png_bytes(pal16, 4, 3, palette=pal[:10], trns=bytes([0, 128]), interlace=True)
    files["rgb8_trns.png"] = png_bytes(a, 8, 2, trns=struct.pack(">HHH", *a[0, 0]))
    a16 = a.astype(np.int64) * 256 + np.arange(37)[None, :, None] * 7  # low bytes must not leak through
    files["rgb16.png"] = png_bytes(a16, 16, 2)
    files["rgba16.png"] = png_bytes(np.concatenate([a16, np.full((23, 37, 1), 40000)], 2), 16, 6, interlace=True)
    files["gray16.png"] = png_bytes(gray.astype(np.int64) * 3, 16, 0)  # mode "I": clipped, not shifted
    files["la16.png"] = png_bytes(np.stack([gray.astype(np.int64) * 256 + 99, np.arange(37)[None, :].repeat(23, 0) * 1000], 2),
                                  16, 4, interlace=True)  # Pillow opens it as RGBA ("LA;16B")
    # What Pillow tolerates after the pixel rows: a bad IDAT CRC, an unknown critical chunk, no IEND.
    good = files["rgb8.png"]
    i = good.index(b"IDAT") - 4
    end = i + 12 + struct.unpack(">I", good[i:i + 4])[0]
    files["tolerant.png"] = good[:33] + chunk(b"XCRT", b"ignored") + good[33:end - 1] + bytes([good[end - 1] ^ 0x55])
    # A second IDAT after another chunk, once every row has arrived (found by fuzz_image:
    # libpng's progressive reader announced the image again and the first one leaked).
    files["idat_split.png"] = good[:end] + chunk(b"tEXt", b"Comment\0between") + good[i:]
    # JPEGs
    j = photo("chelsea.png", 64, 48, 40, 20)
    save("baseline.jpg", j, quality=85)
    save("progressive.jpg", j, quality=85, progressive=True)
    save("gray.jpg", j.convert("L"), quality=90)
    save("tall.jpg", photo("chelsea.png", 50, 80, 200, 10), quality=92, subsampling=0)
    save("tall_progressive.jpg", photo("chelsea.png", 50, 80, 200, 10), quality=92, subsampling=0, progressive=True)
    save("sub422.jpg", rgb, quality=80, subsampling=1)
    save("cmyk.jpg", rgb.convert("CMYK"), quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display; Image.open does not apply it
    save("exif.jpg", photo("chelsea.png", 24, 16, 250, 120), quality=90, exif=exif.tobytes())
    save("photo.jpg", photo("astronaut.png", 120, 90, 100, 20, step=2), quality=80)
    save("strip.png", photo("coffee.png", 7, 90, 300, 60, step=3))
    return files


RESIZES = {  # (w, h): up, down, one dimension only, mixed
    "rgb8.png": [(77, 28), (12, 11), (37, 69), (20, 23)],
    "gray8.png": [(41, 9)],
    "photo.jpg": [(23, 17), (31, 90), (120, 40), (173, 29)],
    "tall.jpg": [(16, 40), (71, 30)],
}
PREPROCESS = [  # image, norm, sizes
    ("photo.jpg", "clip", (56, 42)),
    ("tall.jpg", "clip", (56, 42)),
    ("rgb8.png", "clip", (56, 42)),
    ("strip.png", "siglip", (42,)),
    ("strip.png", "edge", (42,)),
    ("fuzz_elongated.jpg", "clip", (14,)),
]

BAD_JPEG_SOF = (0xC0, 0xC1, 0xC2)


def hostile(files):
    """name -> (bytes, expected vtc status). Pillow refuses every one of them but
    the GIF (a format vtc does not read)."""
    png, jpg, prog = files["rgb8.png"], files["baseline.jpg"], files["progressive.jpg"]
    sof = next(i for i in range(2, len(jpg)) if jpg[i - 1] == 0xFF and jpg[i] in BAD_JPEG_SOF) - 1
    i = png.index(b"IDAT") - 4
    idat_end = i + 12 + struct.unpack(">I", png[i:i + 4])[0]
    ihdr = lambda w, h: chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))  # noqa: E731
    gif = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(gif, "GIF")
    txt = chunk(b"tEXt", b"Comment\0hello")
    bad = {
        "bad_empty.png": (b"", "FORMAT"),
        "bad_text.png": (b"this is not an image at all\n", "UNSUPPORTED"),
        "bad_gif.gif": (gif.getvalue(), "UNSUPPORTED"),
        "bad_header.png": (png[:20], "FORMAT"),
        "bad_trunc.png": (png[:len(png) // 2], "FORMAT"),
        "bad_trunc_rows.png": (png[:idat_end - 20], "FORMAT"),  # the last rows' data missing
        "bad_ihdr_crc.png": (png[:29] + bytes([png[29] ^ 1]) + png[30:], "FORMAT"),
        "bad_text_crc.png": (png[:33] + txt[:-1] + bytes([txt[-1] ^ 1]) + png[33:], "FORMAT"),
        "bad_zlib.png": (png[:i + 8] + png[i + 8:i + 10] + bytes(b ^ 0xA5 for b in png[i + 10:i + 40]) + png[i + 40:],
                         "FORMAT"),
        "bad_zero.png": (b"\x89PNG\r\n\x1a\n" + ihdr(0, 5) + chunk(b"IEND", b""), "FORMAT"),
        # decompression bombs: valid headers claiming 10^10 and 4.2 * 10^9 pixels
        "bad_bomb.png": (b"\x89PNG\r\n\x1a\n" + ihdr(100000, 100000) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
                         + chunk(b"IEND", b""), "LIMIT"),
        "bad_bomb.jpg": (jpg[:sof + 5] + struct.pack(">HH", 65000, 65000) + jpg[sof + 9:], "LIMIT"),
        "bad_zero.jpg": (jpg[:sof + 5] + struct.pack(">H", 0) + jpg[sof + 7:], "FORMAT"),
        "bad_header.jpg": (jpg[:12], "FORMAT"),
        "bad_trunc.jpg": (jpg[:len(jpg) // 2], "FORMAT"),
        "bad_trunc_prog.jpg": (prog[:len(prog) * 3 // 4], "FORMAT"),
        "bad_12bit.jpg": (jpg[:sof + 4] + b"\x0c" + jpg[sof + 5:], "UNSUPPORTED"),
        "bad_lossless.jpg": (jpg[:sof + 1] + b"\xc3" + jpg[sof + 2:], "UNSUPPORTED"),
    }
    for name, (data, _) in bad.items():
        if name.endswith(".gif"):
            continue
        try:
            Image.open(io.BytesIO(data)).convert("RGB")
        except Exception:  # noqa: BLE001 - any refusal will do
            continue
        raise SystemExit(f"{name}: Pillow decodes it, so it is not a hostile case")
    return bad


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):  # start clean, except the fuzzer's find
        if old != "fuzz_elongated.jpg":
            os.remove(os.path.join(OUT, old))
    files = valid_images()
    lines = ["# written by tools/gen_image_fixtures.py; reference: Pillow %s" % Image.__version__]
    decoded, by_hash = {}, {}
    for name in files:
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(files[name])
    for name in files:  # in the order written above: a shared .rgb is named after the plainest image
        im = Image.open(os.path.join(OUT, name)).convert("RGB")
        decoded[name] = im
        raw = np.asarray(im).tobytes()
        key = hashlib.sha256(raw + str(im.size).encode()).hexdigest()
        if key not in by_hash:
            by_hash[key] = os.path.splitext(name)[0] + ".rgb"
            with open(os.path.join(OUT, by_hash[key]), "wb") as f:
                f.write(raw)
        lines.append(f"decode {name} {im.size[0]} {im.size[1]} {by_hash[key]}")
    assert decoded["tolerant.png"].tobytes() == decoded["rgb8.png"].tobytes()
    assert decoded["exif.jpg"].size == (24, 16)
    for name, sizes in RESIZES.items():
        for w, h in sizes:
            out = f"{os.path.splitext(name)[0]}.{w}x{h}.rgb"
            np.asarray(decoded[name].resize((w, h), Image.BICUBIC)).tofile(os.path.join(OUT, out))
            lines.append(f"resize {name} {w} {h} {out}")
    for norm, (mean, std) in NORMS.items():
        norm_table(mean, std).astype(np.float32).tofile(os.path.join(OUT, f"norm-{norm}.f32"))
        lines.append(f"norm {norm} {' '.join(map(repr, mean + std))} norm-{norm}.f32")
    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import vtc_ref  # the encoder tests' reference: must agree bit for bit
    except ImportError:
        vtc_ref = None
    for name, norm, sizes in PREPROCESS:
        mean, std = NORMS[norm]
        im = decoded[name] if name in decoded else Image.open(os.path.join(OUT, name)).convert("RGB")
        table = norm_table(mean, std)
        for size in sizes:
            for mode in ("crop", "pad", "resize"):
                u8 = model_input(im, size, mode, mean)
                full = preprocess(im, size, mode, mean, std)
                rebuilt = table[np.arange(3)[None, None, :], u8].transpose(2, 0, 1)
                assert rebuilt.tobytes() == full.tobytes(), (name, mode, size)
                if vtc_ref is not None:
                    assert vtc_ref.preprocess(im, size, mode, mean, std).tobytes() == full.tobytes(), (name, mode)
                out = f"{os.path.splitext(name)[0]}.{mode}{size}-{norm}.u8"
                u8.tofile(os.path.join(OUT, out))
                lines.append(f"preprocess {name} {mode} {size} {norm} {out}")
    for name, (data, status) in hostile(files).items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        lines.append(f"bad {name} {status}")
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"{len(lines) - 1} cases, {len(os.listdir(OUT))} files, {total / 1024:.0f} KiB in {os.path.normpath(OUT)}")
    assert total < 600 * 1024, "fixtures over budget"


if __name__ == "__main__":
    main()
