#!/usr/bin/python3
"""Tests of the Python binding (python/vtc), run by tests/cli_python.sh under
Debian's /usr/bin/python3 (numpy, torch; token files read by tools/vtc_ref.py):

- the ctypes mirrors of vtc.h's structs and constants equal the C layout
  (offsetof/sizeof compiled from include/vtc.h now);
- what the binding computes equals the CLI's token files bit for bit (vtc
  encode, prune with and without a model, compress on an image and a video), and
  the files the binding writes are byte-identical to the CLI's;
- pixels from numpy or torch, a host's own features (torch tensors), lifetimes of
  views, two Python threads encoding at once, FLOPs, the policies' decisions;
- errors raise VtcError subclasses with vtc's text; bad input never crashes;
- the offline pip install, and the example examples/python/llava_torch.py.

Environment: VTC (the CLI, default build/vtc), VTC_LIBRARY (the libvtc the
binding loads; default the build tree's), TESTS_FAST=1 skips the example.
"""
import ctypes
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "tools")]
import vtc  # noqa: E402
from vtc import _ffi  # noqa: E402
from vtc_ref import read_safetensors as read_st  # noqa: E402

VTC = os.path.abspath(os.environ.get("VTC", os.path.join(ROOT, "build", "vtc")))
SCENE = os.path.join(ROOT, "samples", "scene.png")
VIDEO = os.path.join(ROOT, "samples", "vtest.mp4")
ASTRONAUT = os.path.join(ROOT, "samples", "astronaut.jpg")
VLM = os.path.join(ROOT, "samples", "vlm")
TMP = tempfile.mkdtemp(prefix="test_python.")

# ---------------------------------------------------------------- helpers

def cli(*args):
    r = subprocess.run([VTC, *args], capture_output=True, text=True)
    if r.returncode:
        raise AssertionError(f"vtc {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def tmp(name):
    return os.path.join(TMP, name)


_cache = {}


def cli_features(src, *extra):
    """A features file from `vtc encode` (cached per arguments)."""
    key = (src,) + extra
    if key not in _cache:
        path = tmp(f"f{len(_cache)}.safetensors")
        cli("encode", src, "-o", path, *extra)
        _cache[key] = path
    return _cache[key]


def same_bits(test, a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    test.assertEqual(a.shape, b.shape, what)
    test.assertEqual(a.dtype.newbyteorder("<"), b.dtype.newbyteorder("<"), what)
    test.assertTrue(a.tobytes() == np.ascontiguousarray(b).tobytes(), f"{what}: values differ")


# the features file's tensor names for the struct's fields
FILE_NAME = {"cls_embed": "cls_embeds"}


def check_features(test, f, path, what):
    t, _ = read_st(path)
    names = {FILE_NAME.get(k, k) for k in f.arrays()}
    test.assertEqual(names, set(t) - {"positions"}, what)
    for k, a in f.arrays().items():
        same_bits(test, a, t[FILE_NAME.get(k, k)], f"{what}: {k}")


def check_tokens(test, tok, path, what):
    t, meta = read_st(path)
    same_bits(test, tok.data, t["tokens"], f"{what}: tokens")
    same_bits(test, tok.index, t["index"], f"{what}: index")
    same_bits(test, tok.pos, t["positions"], f"{what}: positions")
    same_bits(test, tok.weight, t["weight"], f"{what}: weight")
    if "codes" in t:
        same_bits(test, tok.codes, t["codes"], f"{what}: codes")
    else:
        test.assertIsNone(tok.codes, what)
    test.assertEqual(tok.space, meta["space"], what)
    test.assertEqual(tok.method, meta["method"], what)
    test.assertEqual(tok.n_input, int(meta["n_input"]), what)
    # and the binding writes the very same file
    mine = tmp("mine.safetensors")
    tok.save(mine)
    with open(mine, "rb") as a, open(path, "rb") as b:
        test.assertTrue(a.read() == b.read(), f"{what}: the binding's tokens file differs from the CLI's")


_model = None


def model():
    global _model
    if _model is None:
        _model = vtc.Model.load()
    return _model


# ---------------------------------------------------------------- layout


class Layout(unittest.TestCase):
    def test_struct_mirrors_match_vtc_h(self):
        """offsetof and sizeof of every mirrored field, and the constants, from the C compiler."""
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("cc")
        if not cc:
            self.skipTest("no C compiler")
        lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "vtc.h"', "int main(void) {"]
        want = []
        for cname, py in _ffi.STRUCTS.items():
            lines.append(f'printf("%zu %zu\\n", sizeof(struct {cname}), _Alignof(struct {cname}));')
            want.append((f"{cname}: size, alignment", f"{ctypes.sizeof(py)} {ctypes.alignment(py)}"))
            for field, _ in py._fields_:
                lines.append(f'printf("%zu %zu\\n", offsetof(struct {cname}, {field}), '
                             f'sizeof(((struct {cname} *)0)->{field}));')
                want.append((f"{cname}.{field}: offset, size",
                             f"{getattr(py, field).offset} {getattr(py, field).size}"))
        consts = {name: getattr(_ffi, name) for name in dir(_ffi) if name.startswith("VTC_")}
        consts.update({f"VTC_F_{k.upper()}": v for k, v in _ffi.FIELDS.items()})
        consts.update({f"VTC_ASPECT_{k.upper()}": v for k, v in _ffi.ASPECTS.items()})
        consts.update({f"VTC_SPACE_{v.upper()}": k for k, v in _ffi.SPACES.items()})
        for name, v in consts.items():
            lines.append(f'printf("%lld\\n", (long long)({name}));')
            want.append((name, str(v)))
        lines.append('printf("%d.%d\\n", VTC_VERSION_MAJOR, VTC_VERSION_MINOR);')
        want.append(("ABI_VERSION (the header's major.minor)", "%d.%d" % _ffi.ABI_VERSION))
        lines.append("return 0; }")
        src, exe = tmp("layout.c"), tmp("layout")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), "-o", exe, src], check=True)
        got = subprocess.run([exe], capture_output=True, text=True, check=True).stdout.split("\n")
        drift = [f"{what}: C {g}, ctypes {w}" for (what, w), g in zip(want, got) if w != g]
        self.assertEqual(drift, [], "the ctypes mirrors differ from include/vtc.h")
        self.assertEqual(len(want), len(got) - 1)


# ---------------------------------------------------------------- against the CLI


class AgainstCLI(unittest.TestCase):
    def test_version(self):
        with open(os.path.join(ROOT, "include", "vtc.h")) as f:
            want = [l.split('"')[1] for l in f if l.startswith("#define VTC_VERSION ")][0]
        self.assertEqual(vtc.version(), want)
        self.assertEqual(vtc.__version__, want)
        self.assertEqual(cli("--version").strip(), f"vtc {want}")

    def test_methods_and_policies(self):
        names = [l.split()[0] for l in cli("methods").splitlines() if l and not l.startswith(" ")]
        self.assertEqual([m.name for m in vtc.methods()], names)
        divprune = [m for m in vtc.methods() if m.name == "divprune"][0]
        self.assertIn("embeds", divprune.needs)
        self.assertEqual([p.name for p in divprune.params], ["per_frame"])
        self.assertEqual([p.name for p in vtc.policies()], ["fastv", "todre2", "dycoke-kv"])
        self.assertEqual(vtc.method_needs("cls"), {"features", "cls_attn"})

    def test_encode_image_file(self):
        f = model().encode(SCENE)
        path = cli_features(SCENE)
        check_features(self, f, path, "encode scene.png")
        self.assertEqual(f.grid, (1, 24, 24))
        _, meta = read_st(path)
        self.assertEqual(f.model, meta["model"])
        f.save(tmp("f.safetensors"))
        with open(tmp("f.safetensors"), "rb") as a, open(path, "rb") as b:
            self.assertTrue(a.read() == b.read(), "the binding's features file differs from vtc encode's")

    def test_precision(self):
        """precision='bf16' runs the encoder on oneDNN, bit for bit what `vtc encode
        --precision bf16` writes; 'f32' says OpenBLAS; anything else is refused."""
        with model().context(precision="bf16") as c:
            self.assertEqual(c.precision[0], "bf16")
            self.assertTrue(c.precision[1].startswith("bf16 on oneDNN"), c.precision[1])
            f = c.encode(SCENE)
        check_features(self, f, cli_features(SCENE, "--precision", "bf16"), "encode scene.png --precision bf16")
        with model().context(precision="f32") as c:
            self.assertEqual(c.precision, ("f32", "f32 on OpenBLAS"))
        with self.assertRaises(vtc.ArgumentError):
            model().context(precision="fp16")

    def test_encode_video_file(self):
        f = model().encode(VIDEO, frames=3)
        check_features(self, f, cli_features(VIDEO, "--frames", "3"), "encode vtest.mp4 --frames 3")
        self.assertEqual(f.grid, (3, 24, 24))
        pooled = model().encode(VIDEO, frames=3, pool=2)
        check_features(self, pooled, cli_features(VIDEO, "--frames", "3", "--pool", "2"), "--pool 2")

    def test_encode_to_file(self):
        """Context.encode_to_file streams a video's features into the file vtc
        encode writes (byte for byte); the summary has the grid and no arrays."""
        out = tmp("streamed.safetensors")
        with model().context() as c:
            info = c.encode_to_file(VIDEO, out, frames=3)
        self.assertEqual(info.grid, (3, 24, 24))
        self.assertFalse(info._c.features)  # NULL: the tokens are in the file
        with open(out, "rb") as a, open(cli_features(VIDEO, "--frames", "3"), "rb") as b:
            self.assertTrue(a.read() == b.read(), "encode_to_file's file differs from vtc encode's")
        with model().context() as c, self.assertRaises(vtc.VtcError):
            c.encode_to_file(VIDEO, os.path.join(tmp("no-such-dir"), "x.safetensors"), frames=3)

    def test_encode_pixels(self):
        """uint8 pixels (vtc's decoder, numpy and torch) give the file's features."""
        px = vtc.load_image(SCENE)
        self.assertEqual((px.shape, px.dtype), ((336, 336, 3), np.uint8))
        path = cli_features(SCENE)
        # an image file's frame has timestamp 0; pixels have none unless given
        check_features(self, model().encode(px), path, "encode(ndarray)")
        check_features(self, model().encode(px[None]), path, "encode([1, H, W, 3])")
        f = model().encode(px)
        self.assertIsNone(f.timestamps)
        same_bits(self, f.embeds, read_st(path)[0]["embeds"], "encode(ndarray) without timestamps")
        check_features(self, model().encode(torch.from_numpy(px)),
                       path, "encode(torch uint8)")
        media = vtc.load_media(VIDEO, frames=3)
        self.assertTrue(media.is_video)
        self.assertEqual(media.n_frames, 3)
        frames = np.stack(media.frames)
        f = model().encode(frames, timestamps=media.timestamps)
        check_features(self, f, cli_features(VIDEO, "--frames", "3"), "encode([T, H, W, 3], timestamps)")
        check_features(self, model().encode(media), cli_features(VIDEO, "--frames", "3"), "encode(Media)")

    def test_prune_without_model(self):
        path = cli_features(SCENE)
        f = vtc.Features.load(path)
        cases = [("divprune", "64", 64, {}), ("cls", "0.25", 0.25, {}), ("visionzip", "64", 64, {}),
                 ("tome", "40", 40, {"metric": 1}), ("random", "50", 50, {"per_frame": 0}),
                 ("pool", None, None, {"size": 3}), ("uniform", "100", 100, {})]
        for method, k, keep, knobs in cases:
            out = tmp(f"p_{method}.safetensors")
            args = ["prune", path, "--method", method, "-o", out, "--seed", "7"]
            args += ["--keep", k] if k else []
            for name, v in knobs.items():
                args += ["--param", f"{name}={v}"]
            cli(*args)
            check_tokens(self, vtc.prune(f, method, keep, seed=7, **knobs), out, f"prune {method} {k}")

    def test_prune_with_model(self):
        """`vtc prune --model`: merged tokens projected by the model (here the samples/vlm directory)."""
        path = cli_features(SCENE)
        m = vtc.Model.load(VLM)
        for method, k in (("visionzip", 64), ("tome", 32)):
            out = tmp(f"pm_{method}.safetensors")
            cli("prune", path, "--method", method, "--keep", str(k), "--model", VLM, "-o", out)
            tok = m.prune(vtc.Features.load(path), method, k)
            self.assertEqual(tok.space, "embeds")
            check_tokens(self, tok, out, f"prune --model {method}")

    def test_compress(self):
        for src, method, k, extra in ((SCENE, "visionzip", 64, ()), (ASTRONAUT, "divprune", 0.1, ()),
                                      (VIDEO, "dycoke", None, ("--frames", "4")),
                                      (VIDEO, "vq", 16, ("--frames", "4", "--pool", "2"))):
            out = tmp("c.safetensors")
            args = ["compress", src, "--method", method, "-o", out, *extra] + (["--keep", str(k)] if k else [])
            cli(*args)
            kw = dict(zip([a.lstrip("-") for a in extra[::2]], map(int, extra[1::2])))
            check_tokens(self, model().compress(src, method, k, **kw), out, f"compress {method} {src}")

    def test_user_features_from_torch(self):
        """A host's own features as torch tensors (float64, grid-shaped, requiring grad): the CLI's tokens."""
        path = cli_features(SCENE)
        t = {k: v.copy() for k, v in read_st(path)[0].items()}  # writable, as torch.from_numpy wants
        feats = torch.from_numpy(t["features"].astype(np.float64)).reshape(24, 24, -1).requires_grad_()
        arrays = dict(features=feats, cls=torch.from_numpy(t["cls"]), cls_attn=torch.from_numpy(t["cls_attn"]),
                      keys=torch.from_numpy(t["keys"]), embeds=torch.from_numpy(t["embeds"]).to(torch.float64))
        for method, keep in (("cls", 64), ("visionzip", 64), ("divprune", 32), ("tome", 100)):
            out = tmp(f"u_{method}.safetensors")
            cli("prune", path, "--method", method, "--keep", str(keep), "-o", out)
            tok = vtc.prune(arrays, method, keep)
            same_bits(self, tok.data, read_st(out)[0]["tokens"], f"user features {method}")
            same_bits(self, tok.index, read_st(out)[0]["index"], f"user features {method}")
        # a bare [n, D] tensor is enough for the methods that read nothing else
        tok = vtc.prune(torch.from_numpy(t["features"]), "uniform", 36)
        self.assertEqual((tok.n, tok.dim, tok.space, tok.grid), (36, 128, "features", (1, 24, 24)))
        same_bits(self, tok.data, t["features"][tok.index], "uniform rows")
        # bfloat16 tensors are widened
        tok = vtc.prune(torch.from_numpy(t["features"]).to(torch.bfloat16), "uniform", 36)
        self.assertEqual(tok.n, 36)

    def test_flops(self):
        j = json.loads(cli("flops", "--lm", "llava-1.5-7b", "--visual", "576", "--kept", "64", "--text", "64",
                           "--gen", "128", "--json"))
        before, after = vtc.flops("llava-1.5-7b", 576, 64, 128), vtc.flops("llava-1.5-7b", 64, 64, 128)
        self.assertEqual((before.prefill, after.prefill), (j["prefill"]["before"], j["prefill"]["after"]))
        self.assertEqual((before.paper_prefill, after.paper_prefill),
                         (j["prefill"]["paper_before"], j["prefill"]["paper_after"]))
        self.assertEqual((before.decode, after.decode_per_token), (j["decode"]["before"], j["decode"]["per_token_after"]))
        shape = vtc.lm_preset("llava-1.5-7b")
        self.assertEqual(shape._asdict(), {k: j["lm"][k] for k in shape._fields})
        self.assertEqual(vtc.flops(shape._asdict(), 64, 64, 128), after)


# ---------------------------------------------------------------- the Python side


class Binding(unittest.TestCase):
    def test_views_and_lifetimes(self):
        f = model().encode(SCENE)
        a, e = f.features, f.embeds
        self.assertTrue(a.flags.writeable and not a.flags.owndata)
        self.assertEqual(a.ctypes.data, f.features.ctypes.data, "zero-copy: the same memory twice")
        want = a.copy()
        f.close()
        self.assertTrue(f.closed)
        with self.assertRaises(ValueError):
            f.features
        del f
        gc.collect()
        for _ in range(3):  # allocations that would reuse freed memory
            model().encode(ASTRONAUT).close()
        same_bits(self, a, want, "a view outlives its closed owner")
        self.assertEqual(e.shape, (576, 128))
        with model().encode(SCENE) as g:
            k = vtc.prune(g, "divprune", 8)
        with k:
            idx = k.index
        self.assertEqual(len(idx), 8)
        # a model closed before its context: the context keeps it alive
        m = vtc.Model.load()
        c = m.context(n_threads=1)
        m.close()
        with c:
            self.assertEqual(c.encode(SCENE).n, 576)
        with self.assertRaises(ValueError):
            m.info
        self.assertEqual(c.closed, True)

    def test_info(self):
        i = model().info
        self.assertEqual((i.arch, i.format, i.image_size, i.patch_size, i.grid, i.hidden, i.lm_dim),
                         ("clip", "builtin", 336, 14, 24, 128, 128))
        self.assertEqual((i.has_cls, i.has_projector, i.aspect), (True, True, "pad"))
        self.assertEqual(vtc.Model.load(VLM).info.format, "safetensors")
        px = model().preprocess(SCENE)
        self.assertEqual((px.shape, px.dtype), ((3, 336, 336), np.float32))

    def test_threads(self):
        """Two Python threads encode at once: the GIL is released in vtc, results unchanged."""
        px = [vtc.load_image(SCENE), vtc.load_image(ASTRONAUT)]
        want = [model().encode(p, n_threads=1).features.copy() for p in px]
        spans, got, errors = [None, None], [None, None], []
        barrier = threading.Barrier(2)

        def work(i):
            try:
                barrier.wait()
                t0 = time.monotonic()
                f = model().encode(px[i], n_threads=1)
                spans[i] = (t0, time.monotonic())
                got[i] = f.features
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for i in range(2):
            same_bits(self, got[i], want[i], f"thread {i}")
        (a0, a1), (b0, b1) = spans
        self.assertTrue(a0 < b1 and b0 < a1, f"the encodes did not overlap: {spans} (GIL held?)")

    def test_progress(self):
        seen = []
        model().encode(VIDEO, frames=3, progress=lambda done, total: seen.append((done, total)))
        self.assertEqual(seen, [(1, 3), (2, 3), (3, 3)])
        # a context closed while it encodes (from its own progress callback) lives until the call returns
        c = model().context(n_threads=1, progress=lambda done, total: c.close())
        f = c.encode(VIDEO, frames=3)
        self.assertTrue(c.closed)
        check_features(self, f, cli_features(VIDEO, "--frames", "3"), "encode while closed")

    def test_keep_forms(self):
        f = vtc.Features.load(cli_features(SCENE))
        self.assertEqual(vtc.prune(f, "uniform", 64).n, 64)
        self.assertEqual(vtc.prune(f, "uniform", np.int64(64)).n, 64)
        self.assertEqual(vtc.prune(f, "uniform", 0.25).n, 144)
        self.assertEqual(vtc.prune(f, "uniform", 1.0).n, 576)
        self.assertEqual(vtc.prune(f, "none").n, 576)
        self.assertEqual(vtc.keep_count(576, 0.25), 144)
        t = vtc.prune(f, "random", 10, params="per_frame=1", seed=3)
        self.assertEqual((t.params, t.n_keep, t.keep_ratio), ("per_frame=1", 10, 0.0))
        vtc.validate("vq", 16, kmin=2, tol=1e-3)

    def test_user_features_shapes(self):
        rng = np.random.default_rng(0)
        feats = rng.standard_normal((2, 4, 6, 8)).astype(np.float32)
        f = vtc.Features.from_arrays(feats, cls_attn=rng.random((2, 4, 6)), timestamps=[0.0, 0.5])
        self.assertEqual((f.grid, f.n, f.dim, f.lm_dim, f.head_dim), ((2, 4, 6), 48, 8, 0, 0))
        same_bits(self, f.features, feats.reshape(48, 8), "features copied in")
        same_bits(self, f.timestamps, np.array([0.0, 0.5]), "timestamps")
        self.assertIsNone(f.embeds)
        t = vtc.prune(f, "cls", 10, per_frame=1)
        self.assertEqual(t.n, 10)
        self.assertEqual(sorted(set(t.pos[:, 0])), [0, 1])
        self.assertEqual(vtc.prune(f.pool(2), "none").n, 2 * 2 * 3)

    def test_policies(self):
        score = np.array([0.1, 0.5, 0.5, 0.2, 0.9], np.float32)
        self.assertEqual(vtc.select_top(score, 3).tolist(), [False, True, True, False, True])
        self.assertEqual(vtc.select_top(score, 0).tolist(), [False] * 5)
        self.assertEqual(vtc.fastv_n_keep(576, 0.5), 288)
        self.assertEqual(vtc.fastv_n_keep(5, 0.5), 3)  # halves round up
        self.assertEqual(vtc.dycoke_n_keep(576, 0.7), int(576 * (1 - 0.7)))
        self.assertTrue(vtc.todre2_drop(0.05, 0.02))
        self.assertFalse(vtc.todre2_drop(0.05, 0.2))
        a, b = np.arange(1, 9, dtype=np.float32), np.arange(8, 0, -1, dtype=np.float32)
        want = float(a @ b / np.linalg.norm(a.astype(np.float64)) / np.linalg.norm(b.astype(np.float64)))
        self.assertAlmostEqual(vtc.cosine(a, b), want, places=12)
        self.assertAlmostEqual(vtc.cosine(torch.from_numpy(a), torch.from_numpy(b)),
                               torch.nn.functional.cosine_similarity(torch.from_numpy(a).double(),
                                                                     torch.from_numpy(b).double(), 0).item(),
                               places=12)


# ---------------------------------------------------------------- errors


class Errors(unittest.TestCase):
    def raises(self, cls, fn, *text):
        with self.assertRaises(cls) as cm:
            fn()
        for t in text:
            self.assertIn(t, str(cm.exception))
        return cm.exception

    def test_vtc_errors_carry_its_text(self):
        f = vtc.Features.load(cli_features(SCENE))
        e = self.raises(vtc.ArgumentError, lambda: vtc.prune(f, "nosuch", 3), "unknown method 'nosuch'")
        self.assertEqual((e.status, e.status_name), (-1, "invalid argument"))
        self.assertIsInstance(e, vtc.VtcError)
        self.assertIsInstance(e, ValueError)
        self.raises(vtc.ArgumentError, lambda: vtc.prune(f, "cls", 3, nope=1), "nope")
        self.raises(vtc.ArgumentError, lambda: vtc.prune(f, "cls", 3, per_frame=7), "per_frame")
        e = self.raises(vtc.NeedsError, lambda: vtc.prune(f, "cls", 1000), "1000")
        self.assertEqual(e.status, -8)
        bare = vtc.Features.from_arrays(np.ones((16, 4), np.float32))
        self.raises(vtc.NeedsError, lambda: vtc.prune(bare, "cls", 3), "cls_attn")
        e = self.raises(vtc.VtcError, lambda: vtc.Model.load(tmp("no-such-model")), "no-such-model")
        self.assertIn(e.status, (-2, -3))
        self.raises(vtc.FileIOError, lambda: vtc.load_image(tmp("missing.png")), "missing.png")
        self.raises(vtc.FormatError, lambda: vtc.load_image(os.path.join(ROOT, "tests", "fixtures", "images",
                                                                         "bad_trunc.png")))
        self.raises(vtc.FormatError, lambda: vtc.Features.load(SCENE))
        # a model's projector does not fit features of another width
        odd = vtc.Features.from_arrays(np.ones((16, 4), np.float32), cls=np.ones((1, 4)),
                                       cls_attn=np.ones(16) / 16, keys=np.ones((16, 2)))
        self.raises(vtc.ArgumentError, lambda: model().prune(odd, "visionzip", 8), "wide")
        self.raises(vtc.ArgumentError, lambda: f.pool(100), "pool")
        self.raises(vtc.LimitError, lambda: vtc.Model.load(limits={"max_pixels": 100}).encode(SCENE))
        with self.assertRaises(vtc.ArgumentError):
            vtc.validate("dycoke", k=2)

    def test_bad_input_raises(self):
        f = vtc.Features.load(cli_features(SCENE))
        rng = np.random.default_rng(1)
        x = rng.standard_normal((64, 8))
        A = vtc.ArgumentError
        self.raises(A, lambda: vtc.prune(f, "uniform", 0), "at least 1")
        self.raises(A, lambda: vtc.prune(f, "uniform", 1.5), "(0, 1]")
        self.raises(A, lambda: vtc.prune(f, "uniform", float("nan")))
        self.raises(A, lambda: vtc.prune(f, "uniform", -3))
        self.raises(A, lambda: vtc.prune(f, "uniform", 2 ** 40))
        self.raises(TypeError, lambda: vtc.prune(f, "uniform", "64"))
        self.raises(TypeError, lambda: vtc.prune(f, "uniform", True))
        self.raises(TypeError, lambda: vtc.prune(f, None, 3))
        self.raises(A, lambda: vtc.prune(f, "random", 3, seed=-1))
        self.raises(A, lambda: vtc.Features.from_arrays(x, cls_attn=np.ones(63)), "cls_attn", "[64]")
        self.raises(A, lambda: vtc.Features.from_arrays(x, embeds=np.ones((64,))), "embeds")
        self.raises(A, lambda: vtc.Features.from_arrays(x, cls=np.ones((1, 7))), "cls")
        self.raises(A, lambda: vtc.Features.from_arrays(x, grid=(1, 8, 9)), "[72")
        self.raises(A, lambda: vtc.Features.from_arrays(x, grid=(0, 8, 8)), "grid")
        self.raises(A, lambda: vtc.Features.from_arrays(x, timestamps=[0, 1]), "timestamps")
        self.raises(A, lambda: vtc.Features.from_arrays(np.ones((60, 8))), "square")
        self.raises(A, lambda: vtc.Features.from_arrays(np.ones((64, 8), np.int32)), "dtype")
        self.raises(A, lambda: vtc.Features.from_arrays(np.ones(64)), "features")
        self.raises(A, lambda: vtc.Features.from_arrays(np.full((64, 8), np.nan)), "NaN")
        self.raises(A, lambda: vtc.Features.from_arrays(np.ones((64, 0))), "features")
        self.raises(A, lambda: vtc.prune({"features": x, "cls_attn": np.ones(3)}, "cls", 4), "cls_attn")
        px = vtc.load_image(SCENE)
        self.raises(A, lambda: model().encode(px.astype(np.float32)), "uint8")
        self.raises(A, lambda: model().encode(px.transpose(2, 0, 1).copy()), "[H, W, 3]", "channels first")
        self.raises(A, lambda: model().encode(px[:, :, :2]), "[H, W, 3]")
        self.raises(A, lambda: model().encode(px[:0]), "empty")
        self.raises(A, lambda: model().encode([]), "no frames")
        self.raises(A, lambda: model().encode(px[None], timestamps=[1.0, 2.0]), "timestamps")
        self.raises(A, lambda: model().encode(VIDEO, frames=0), "frames")
        self.raises(A, lambda: model().encode(VIDEO, fps=-1), "fps")
        self.raises(TypeError, lambda: model().encode(12))
        self.raises(A, lambda: vtc.Model.load(aspect="stretch"), "aspect")
        self.raises(TypeError, lambda: vtc.Model.load(limits={"max_bytes": 1}))
        self.raises(A, lambda: vtc.Model.load(limits={"max_pixels": -1}))
        self.raises(A, lambda: model().context(n_threads=-1))
        self.raises(A, lambda: vtc.select_top(np.ones((2, 2)), 1))
        self.raises(A, lambda: vtc.fastv_n_keep(10, float("nan")))
        self.raises(A, lambda: vtc.cosine(np.ones(3), np.ones(4)))
        self.raises(A, lambda: vtc.flops("nosuch-lm", 1))
        self.raises(A, lambda: vtc.flops("llava-1.5-7b", -1))


# ---------------------------------------------------------------- installation and the example


class Install(unittest.TestCase):
    def test_pip_install_offline(self):
        """pip install --no-build-isolation --target into a scratch folder (the source copied, so
        nothing is built in the tree), then `import vtc` from there."""
        r = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
        if r.returncode:
            self.skipTest("pip is not installed (python3-pip)")
        src, target = tmp("src"), tmp("site")
        shutil.copytree(os.path.join(ROOT, "python"), os.path.join(src, "python"),
                        ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        os.makedirs(os.path.join(src, "include"))
        shutil.copy(os.path.join(ROOT, "include", "vtc.h"), os.path.join(src, "include"))
        env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_ROOT_USER_ACTION="ignore")
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                            "--target", target, os.path.join(src, "python")], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stdout[-1500:] + r.stderr[-1500:])
        env = dict(os.environ, PYTHONPATH=target, VTC_LIBRARY=_ffi.LIBRARY_PATH)
        code = "import vtc, importlib.metadata as m; print(vtc.__file__, vtc.version(), m.version('vtc'))"
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=TMP)
        self.assertEqual(r.returncode, 0, r.stderr)
        where, ver, dist = r.stdout.split()
        self.assertTrue(where.startswith(target), where)
        self.assertEqual((ver, dist), (vtc.version(), vtc.version()))
        # installed and without VTC_LIBRARY it looks on the system, and says what it tried
        env.pop("VTC_LIBRARY")
        env["LD_LIBRARY_PATH"] = ""
        r = subprocess.run([sys.executable, "-c", "import vtc"], capture_output=True, text=True, env=env, cwd=TMP)
        if r.returncode:
            self.assertIn("VTC_LIBRARY", r.stderr)

    def test_missing_library(self):
        env = dict(os.environ, VTC_LIBRARY=tmp("nowhere/libvtc.so.0"), PYTHONPATH=os.path.join(ROOT, "python"))
        r = subprocess.run([sys.executable, "-c", "import vtc"], capture_output=True, text=True, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot load libvtc", r.stderr)

    def test_example_llava_torch(self):
        if os.environ.get("TESTS_FAST"):
            self.skipTest("TESTS_FAST")
        r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", "llava_torch.py")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertIn("divprune kept 64 of 576 tokens", r.stdout)
        self.assertIn("answer (64 tokens): bottom-left", r.stdout)
        self.assertIn("answer (all 576 tokens): bottom-left", r.stdout)
        # the rows the PyTorch tower's features kept are vtc's own pipeline's
        out = tmp("ex.safetensors")
        cli("compress", SCENE, "--method", "divprune", "--keep", "64", "-o", out)
        want = " ".join(map(str, read_st(out)[0]["index"][:16]))
        self.assertIn(f"kept index: {want}", r.stdout)


if __name__ == "__main__":
    try:
        prog = unittest.main(exit=False, verbosity=int(os.environ.get("VERBOSE", "1")))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
