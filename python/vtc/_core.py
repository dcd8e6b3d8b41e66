"""Models, contexts, features, tokens and media over libvtc (see docs/python.md).

Ownership: every C object is held by a _Handle that frees it when the last
Python reference to it goes: the wrapper object, or any numpy array viewing its
memory (each view's base holds the handle). close() drops the wrapper's
reference, so memory is released at once unless a view still uses it, and never
while one does. A context's handle holds its model's, so a model outlives the
contexts made on it whatever order they are closed in.
"""
import ctypes
import math
import numbers
import os
import threading
from collections import namedtuple
from ctypes import POINTER, byref, c_char_p, c_double, c_float, c_int32, c_int64, c_uint, c_uint8

import numpy as np

from . import _ffi
from ._errors import ArgumentError, check, error, last

lib = _ffi.lib
INT32_MAX = 2 ** 31 - 1
_PRECISIONS = {"auto": _ffi.VTC_PRECISION_AUTO, "f32": _ffi.VTC_PRECISION_F32, "bf16": _ffi.VTC_PRECISION_BF16}

# ---------------------------------------------------------------- ownership and views


class _Handle:
    """Owns one C object: free(ptr) runs when the handle is collected. deps are
    objects that must outlive it (a context's model, its progress callback)."""

    __slots__ = ("ptr", "_free", "_deps", "__weakref__")

    def __init__(self, ptr, free, deps=()):
        self.ptr, self._free, self._deps = ptr, free, deps

    def __del__(self):
        p, self.ptr = self.ptr, None
        if p:
            self._free(p)


class _View:
    """What a numpy view of C memory holds on to: the memory's owner, and the
    array interface numpy reads."""

    def __init__(self, owner, addr, shape, typestr):
        self.owner = owner
        self.__array_interface__ = {"data": (addr, False), "shape": tuple(shape), "typestr": typestr,
                                    "version": 3}


def _view(owner, ptr, shape, typestr):
    """A writable numpy array over C memory at ptr (None when ptr is NULL), which
    keeps owner alive."""
    addr = ctypes.cast(ptr, ctypes.c_void_p).value
    if not addr:
        return None
    return np.asarray(_View(owner, addr, shape, typestr))


class _Owner:
    """A wrapper of one C struct: close(), a context manager, the struct's fields."""

    _what = "object"

    def __init__(self, handle):
        self._h = handle

    def _handle(self):
        h = self._h
        if h is None:
            raise ValueError(f"vtc: this {self._what} is closed")
        return h

    @property
    def _c(self):
        """The C struct, holding the handle while it is in use (a close() on another thread cannot free it)."""
        h = self._handle()
        c = h.ptr.contents
        c._vtc_handle = h
        return c

    @property
    def closed(self):
        return self._h is None

    def close(self):
        """Releases the C object now, or when the last numpy view of it goes."""
        self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<vtc.{self._what} {'closed' if self.closed else self._describe()}>"

    def _describe(self):
        return ""


class _TokenFile(_Owner):
    """A struct that vtc writes as a token file (docs/formats.md)."""

    _saver = None  # the vtc_*_save function

    def save(self, path, metadata=None):
        """Writes the token file atomically; metadata: a dict of a host's extra keys."""
        h = self._handle()
        check(getattr(lib, self._saver)(h.ptr, _path(path), _metadata(metadata)))


# ---------------------------------------------------------------- argument conversion


def _as_numpy(x):
    """A numpy array from an array-like; torch tensors via .detach().cpu().numpy()
    (bfloat16 widened to float32), without importing torch."""
    if isinstance(x, np.ndarray):
        return x
    if type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach"):
        t = x.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        return t.numpy()
    return np.asarray(x)


def _floats(x, name, dtype=np.float32):
    """A C-contiguous float array (any float dtype converted), finite values only."""
    a = _as_numpy(x)
    if a.dtype.kind != "f":
        raise ArgumentError(f"{name}: want a float array, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=dtype)
    if not np.isfinite(a).all():
        raise ArgumentError(f"{name}: holds NaN or infinite values")
    return a


def _ptr(a, ctype):
    return a.ctypes.data_as(POINTER(ctype))


def _path(p, name="path"):
    if isinstance(p, bytes):
        return p
    if isinstance(p, (str, os.PathLike)):
        return os.fsencode(p)
    raise TypeError(f"{name} must be a str or os.PathLike, not {type(p).__name__}")


def _limits(limits):
    """A struct vtc_limits: the defaults with the keys of a dict replaced."""
    out = lib.vtc_limits_default()
    for k, v in (limits or {}).items():
        if k not in dict(_ffi.Limits._fields_):
            raise TypeError(f"limits: unknown key {k!r} (max_pixels, max_frames, max_tokens, max_memory)")
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 < v < 2 ** 63:
            raise ArgumentError(f"limits: {k}={v!r} is not a positive integer")
        if k == "max_frames" and v > INT32_MAX:
            raise ArgumentError(f"limits: max_frames={v} is too large")
        setattr(out, k, int(v))
    return out


def limits_default():
    """vtc_limits_default() as a dict."""
    d = lib.vtc_limits_default()
    return {k: getattr(d, k) for k, _ in _ffi.Limits._fields_}


def _metadata(md):
    """A NULL-terminated key, value list of C strings (None for no metadata)."""
    if not md:
        return None
    items = []
    for k, v in md.items():
        items += [str(k).encode(), str(v).encode()]
    return (c_char_p * (len(items) + 1))(*items, None)


def _image(a, name="image"):
    """A vtc_image handle holding a copy of uint8 RGB pixels [H, W, 3]."""
    a = _as_numpy(a)
    if a.dtype != np.uint8:
        raise ArgumentError(f"{name}: pixels must be uint8 RGB [H, W, 3], got dtype {a.dtype}")
    if a.ndim != 3 or a.shape[2] != 3:
        hint = " (channels first? use .permute(1, 2, 0) / .transpose(1, 2, 0))" if a.ndim == 3 and a.shape[0] == 3 else ""
        raise ArgumentError(f"{name}: pixels must be [H, W, 3] RGB, got shape {list(a.shape)}{hint}")
    if not (0 < a.shape[0] <= INT32_MAX and 0 < a.shape[1] <= INT32_MAX):
        raise ArgumentError(f"{name}: empty or oversized image {list(a.shape)}")
    a = np.ascontiguousarray(a)
    img = lib.vtc_image_from_rgb(a.ctypes.data, a.shape[1], a.shape[0])
    if not img:
        raise last()
    return _Handle(img, lib.vtc_image_free)


# ---------------------------------------------------------------- registry records

Param = namedtuple("Param", "name default help")
Method = namedtuple("Method", "name summary params needs")
Policy = namedtuple("Policy", "name summary params")
ModelInfo = namedtuple("ModelInfo", [n for n, _ in _ffi.ModelInfo._fields_])
LMShape = namedtuple("LMShape", [n for n, _ in _ffi.LMShape._fields_])
Flops = namedtuple("Flops", [n for n, _ in _ffi.Flops._fields_])


def version():
    """The loaded libvtc's version (vtc_version(), include/vtc.h's VTC_VERSION)."""
    return _ffi.text(lib.vtc_version())


def _fields_of(bits):
    return frozenset(k for k, b in _ffi.FIELDS.items() if bits & b)


def _params(count, get, i):
    out = []
    for j in range(count(i)):
        n, d, h = c_char_p(), c_char_p(), c_char_p()
        check(get(i, j, byref(n), byref(d), byref(h)))
        out.append(Param(_ffi.text(n.value), _ffi.text(d.value), _ffi.text(h.value)))
    return tuple(out)


def methods():
    """The pruning methods in registry order: Method(name, summary, params, needs),
    params a tuple of Param(name, default, help), needs the features' fields the
    method cannot run without (a frozenset of names: "cls_attn", "embeds", ...)."""
    out = []
    for i in range(lib.vtc_method_count()):
        name = _ffi.text(lib.vtc_method_name(i))
        out.append(Method(name, _ffi.text(lib.vtc_method_summary(i)),
                          _params(lib.vtc_method_param_count, lib.vtc_method_param, i), method_needs(name)))
    return out


def method_needs(method):
    """The fields of the features method `method` reads (vtc_method_needs)."""
    bits = c_uint()
    check(lib.vtc_method_needs(_str(method, "method").encode(), byref(bits)))
    return _fields_of(bits.value)


def policies():
    """The in-decoder policies (fastv, todre2, dycoke-kv): Policy(name, summary, params)."""
    return [Policy(_ffi.text(lib.vtc_lm_policy_name(i)), _ffi.text(lib.vtc_lm_policy_summary(i)),
                   _params(lib.vtc_lm_policy_param_count, lib.vtc_lm_policy_param, i))
            for i in range(lib.vtc_lm_policy_count())]


def _str(s, name):
    if not isinstance(s, str):
        raise TypeError(f"{name} must be a str, not {type(s).__name__}")
    return s


# ---------------------------------------------------------------- pruning parameters


def _knob(name, v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, str):
        return v
    raise TypeError(f"parameter {name}: want a number or a str, not {type(v).__name__}")


def _param_string(params, knobs):
    """params (None, "name=value,..." or a mapping) and keyword knobs joined as
    vtc_prune_params.params takes them, in the order given."""
    parts = []
    if isinstance(params, str):
        if params:
            parts.append(params)
    elif params is not None:
        if not hasattr(params, "items"):
            raise TypeError("params must be a \"name=value,...\" str or a mapping")
        knobs = {**dict(params), **knobs}
    parts += [f"{k}={_knob(k, v)}" for k, v in knobs.items()]
    return ",".join(parts)


class _PruneParams:
    """A struct vtc_prune_params and the C strings it points to."""

    def __init__(self, method, keep=None, params=None, seed=0, knobs=None):
        p = lib.vtc_prune_params_default()
        self._method = _str(method, "method").encode()
        p.method = self._method
        if keep is None:
            pass
        elif isinstance(keep, bool):
            raise TypeError("keep must be an int (a count), a float in (0, 1] (a fraction) or None (every token)")
        elif isinstance(keep, numbers.Integral):
            if not 1 <= keep <= INT32_MAX:
                raise ArgumentError(f"keep={int(keep)}: a count is at least 1 (a fraction is a float in (0, 1])")
            p.n_keep = int(keep)
        elif isinstance(keep, numbers.Real):
            if not 0 < keep <= 1:
                raise ArgumentError(f"keep={keep!r}: a fraction is in (0, 1] (a count is an int)")
            p.keep_ratio = float(keep)
        else:
            raise TypeError("keep must be an int (a count), a float in (0, 1] (a fraction) or None (every token)")
        knobs = dict(knobs or {})
        # pack= (an anyres image's layout, vtc_prune_params.pack) rides with the knobs
        packs = {"native": 0, "unpad": 1, "spatial": 2}
        pack = knobs.pop("pack", "native")
        if pack not in packs:
            raise ArgumentError(f"pack={pack!r}: want 'native', 'unpad' or 'spatial'")
        p.pack = packs[pack]
        s = _param_string(params, knobs)
        self._params = s.encode() if s else None
        p.params = self._params
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2 ** 64:
            raise ArgumentError(f"seed={seed!r}: want an integer in [0, 2^64)")
        p.seed = int(seed)
        self.c = p
        check(lib.vtc_prune_validate(p))


def validate(method, keep=None, *, params=None, seed=0, **knobs):
    """Checks a method name, its parameters and the budget's form without running
    anything (vtc_prune_validate); raises ArgumentError with vtc's reason."""
    _PruneParams(method, keep, params, seed, knobs)


def keep_count(n, keep):
    """The number of tokens `keep` keeps of n (vtc_prune_keep_count)."""
    p = _PruneParams("none", keep)
    got = lib.vtc_prune_keep_count(p.c, int(n))
    if got < 0:
        raise error(int(got))
    return int(got)


# ---------------------------------------------------------------- features


def _per_token(x, name, grid, width=None, vector=False):
    """A per-token array as [n] (vector) or [n, width] float32; also accepted in
    grid shape, [T, H, W(, width)] (or [H, W(, width)] for one frame)."""
    T, H, W = grid
    a = _floats(x, name)
    n = T * H * W
    shapes = [(T, H, W)] + ([(H, W)] if T == 1 else [])
    if vector:
        if a.shape == (n,) or a.shape in shapes:
            return a.reshape(n)
        raise ArgumentError(f"{name}: want shape [{n}] for the grid {T}x{H}x{W}, got {list(a.shape)}")
    w = a.shape[-1] if a.ndim else 0
    ok = a.ndim >= 2 and (a.shape[:-1] == (n,) or a.shape[:-1] in shapes)
    if not ok or (width is not None and w != width) or w < 1:
        want = f"[{n}, {width if width is not None else 'width'}]"
        raise ArgumentError(f"{name}: want shape {want} for the grid {T}x{H}x{W}, got {list(a.shape)}")
    return a.reshape(n, w)


def _per_frame(x, name, T, width):
    a = _floats(x, name)
    if a.ndim == 1 and T == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[0] != T or (width is not None and a.shape[1] != width) or a.shape[1] < 1:
        raise ArgumentError(f"{name}: want shape [{T}, {width if width is not None else 'width'}], got {list(a.shape)}")
    return a


class Features(_TokenFile):
    """The full visual-token grid of one image or clip (struct vtc_features):
    what an encode produced, a features file held, or a host's own arrays
    (Features.from_arrays). Array properties are zero-copy, writable float32
    views of vtc's memory ([n, dim] and so on, token i = frame i // (H*W)), None
    when absent; they stay valid after close()."""

    _what = "Features"

    @classmethod
    def _own(cls, ptr):
        if not ptr:
            raise last()
        return cls(_Handle(ptr, lib.vtc_features_free))

    @classmethod
    def load(cls, path):
        """Reads a features file (vtc encode's, or a host's with the same names)."""
        out = POINTER(_ffi.Features)()
        check(lib.vtc_features_load(_path(path), byref(out)))
        return cls._own(out)

    @classmethod
    def from_arrays(klass, features, *, grid=None, cls=None, cls_attn=None, cls_attn_last=None, keys=None,
                    embeds=None, cls_embed=None, timestamps=None, cls_is_received=False, cls_attn_first=None):
        """Features computed by a host's own model (numpy arrays or torch tensors,
        any float dtype, copied into vtc's memory as float32):

        features      [n, D], or [T, H, W, D] / [H, W, D] (then the grid follows)
        grid          (T, H, W); for [n, D] features with n a square it defaults to (1, s, s)
        cls           [T, D]       the CLS token's feature-layer output
        cls_attn      [n]          CLS->patch attention (head mean) of the feature layer
        cls_attn_last [n]          the same for the last block
        keys          [n, head_dim] head-mean keys of the feature layer
        embeds        [n, lm_dim]  post-projector embeddings
        cls_embed     [T, lm_dim]  the projected CLS token
        timestamps    [T]          seconds of each frame (float64)
        cls_is_received  True when cls_attn is the mean attention each patch receives (no CLS token)

        Per-token arrays may also come in grid shape ([T, H, W(, width)]). Wrong
        shapes, non-float dtypes and NaN/inf raise ArgumentError."""
        f = _floats(features, "features")
        if f.ndim == 4:
            grid, f = (grid or f.shape[:3]), f
        elif f.ndim == 3:
            grid = grid or (1,) + f.shape[:2]
        elif f.ndim == 2:
            if grid is None:
                s = math.isqrt(f.shape[0])
                if s * s != f.shape[0] or s == 0:
                    raise ArgumentError(f"features: {f.shape[0]} rows are not a square grid; give grid=(T, H, W)")
                grid = (1, s, s)
        else:
            raise ArgumentError(f"features: want [n, D] or [T, H, W, D], got shape {list(f.shape)}")
        if len(tuple(grid)) != 3 or not all(isinstance(g, numbers.Integral) and 0 < g <= INT32_MAX for g in grid):
            raise ArgumentError(f"grid: want (T, H, W) of positive ints, got {grid!r}")
        grid = tuple(int(g) for g in grid)
        T, H, W = grid
        f = _per_token(f, "features", grid)
        D = f.shape[1]
        arrays = {"features": f}
        if cls is not None:
            arrays["cls"] = _per_frame(cls, "cls", T, D)
        for name, a in (("cls_attn", cls_attn), ("cls_attn_last", cls_attn_last), ("cls_attn_first", cls_attn_first)):
            if a is not None:
                arrays[name] = _per_token(a, name, grid, vector=True)
        if keys is not None:
            arrays["keys"] = _per_token(keys, "keys", grid)
        lm_dim = None
        if embeds is not None:
            arrays["embeds"] = _per_token(embeds, "embeds", grid)
            lm_dim = arrays["embeds"].shape[1]
        if cls_embed is not None:
            arrays["cls_embed"] = _per_frame(cls_embed, "cls_embed", T, lm_dim)
            lm_dim = arrays["cls_embed"].shape[1]
        if timestamps is not None:
            ts = _floats(timestamps, "timestamps", np.float64)
            if ts.shape != (T,):
                raise ArgumentError(f"timestamps: want shape [{T}], got {list(ts.shape)}")
            arrays["timestamps"] = ts
        head_dim = arrays["keys"].shape[1] if "keys" in arrays else 0
        bits = sum(_ffi.FIELDS[k] for k in arrays)
        ptr = lib.vtc_features_new(T, H, W, D, head_dim, lm_dim or 0, bits)
        out = klass._own(ptr)
        c = out._c
        c.cls_is_received = 1 if cls_is_received else 0
        for k, a in arrays.items():
            ctypes.memmove(ctypes.cast(getattr(c, k), ctypes.c_void_p).value, a.ctypes.data, a.nbytes)
        return out

    # geometry and statistics
    grid = property(lambda s: (s._c.T, s._c.H, s._c.W), doc="(T, H, W): frames, rows, columns of patches")
    n = property(lambda s: s._c.n, doc="T*H*W patch tokens")
    dim = property(lambda s: s._c.dim, doc="feature width D")
    head_dim = property(lambda s: s._c.head_dim, doc="width of keys")
    lm_dim = property(lambda s: s._c.lm_dim, doc="width of embeds (0 without)")
    cls_is_received = property(lambda s: bool(s._c.cls_is_received),
                               doc="cls_attn holds mean received attention (no CLS token)")
    flops_encoder = property(lambda s: s._c.flops_encoder)
    flops_projector = property(lambda s: s._c.flops_projector)
    ms_preprocess = property(lambda s: s._c.ms_preprocess)
    ms_encode = property(lambda s: s._c.ms_encode)
    ms_project = property(lambda s: s._c.ms_project)
    model = property(lambda s: _ffi.text(s._c.model), doc="the model that made them ('' when unknown)")
    model_format = property(lambda s: _ffi.text(s._c.model_format))
    feature_layer = property(lambda s: s._c.feature_layer)

    def _arr(self, name, cols, typestr="<f4"):
        h = self._handle()
        c = h.ptr.contents
        rows = c.T if name in ("cls", "cls_embed", "timestamps") else c.n
        return _view(h, getattr(c, name), (rows, cols) if cols else (rows,), typestr)

    features = property(lambda s: s._arr("features", s._c.dim), doc="[n, dim] the feature layer's output")
    cls = property(lambda s: s._arr("cls", s._c.dim), doc="[T, dim] the CLS token's output, or None")
    cls_attn = property(lambda s: s._arr("cls_attn", 0), doc="[n] CLS->patch attention of the feature layer")
    cls_attn_last = property(lambda s: s._arr("cls_attn_last", 0), doc="[n] the same for the last block, or None")
    cls_attn_first = property(lambda s: s._arr("cls_attn_first", 0), doc="[n] the same for the first block, or None")
    keys = property(lambda s: s._arr("keys", s._c.head_dim), doc="[n, head_dim] head-mean keys")
    embeds = property(lambda s: s._arr("embeds", s._c.lm_dim), doc="[n, lm_dim] post-projector embeddings, or None")
    cls_embed = property(lambda s: s._arr("cls_embed", s._c.lm_dim), doc="[T, lm_dim] projected CLS, or None")
    timestamps = property(lambda s: s._arr("timestamps", 0, "<f8"), doc="[T] seconds of each frame, or None")

    def arrays(self):
        """The arrays present, as {name: view}."""
        out = {}
        for k in _ffi.FIELDS:
            a = getattr(self, k)
            if a is not None:
                out[k] = a
        return out

    def pool(self, size, mode="avg"):
        """s x s pooling of each frame's grid (vtc_features_pool): mode "avg", or
        "bilinear" (LLaVA-OneVision's apply_pooling, a bilinear resize to ceil(H/s))."""
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError("pool size must be an int")
        if mode not in ("avg", "bilinear"):
            raise ArgumentError(f"pool mode {mode!r}: want 'avg' or 'bilinear'")
        h = self._handle()
        return Features._own(lib.vtc_features_pool(h.ptr, int(size), 0 if mode == "avg" else 1))

    _saver = "vtc_features_save"

    def _describe(self):
        return f"grid={self.grid} dim={self.dim} fields={sorted(self.arrays())} model={self.model!r}"


# ---------------------------------------------------------------- tokens


class Tokens(_TokenFile):
    """Kept tokens as handed to the language model (struct vtc_tokens). Array
    properties are zero-copy views of vtc's memory, valid after close()."""

    _what = "Tokens"

    n = property(lambda s: s._c.n, doc="tokens kept")
    dim = property(lambda s: s._c.dim, doc="embedding width")
    n_input = property(lambda s: s._c.n_input, doc="tokens the unpruned model would hand on")
    space = property(lambda s: _ffi.SPACES.get(s._c.space, str(s._c.space)),
                     doc="'embeds' (the LM's space) or 'features' (the encoder's)")
    grid = property(lambda s: tuple(s._c.grid), doc="(T, H, W) of the source grid")
    method = property(lambda s: _ffi.text(s._c.method))
    note = property(lambda s: _ffi.text(s._c.note), doc="how the method ran, when not the usual")
    params = property(lambda s: _ffi.text(s._c.params), doc="the method's knobs as given")
    n_keep = property(lambda s: s._c.n_keep, doc="the budget as given (count), 0 when not")
    keep_ratio = property(lambda s: s._c.keep_ratio, doc="the budget as given (fraction), 0 when not")
    flops_projector = property(lambda s: s._c.flops_projector)
    model = property(lambda s: _ffi.text(s._c.model))
    model_format = property(lambda s: _ffi.text(s._c.model_format))
    feature_layer = property(lambda s: s._c.feature_layer)

    @property
    def retained_ratio(self):
        c = self._c
        return c.n / c.n_input if c.n_input else 0.0

    def _arr(self, name, shape, typestr):
        h = self._handle()
        return _view(h, getattr(h.ptr.contents, name), shape, typestr)

    data = property(lambda s: s._arr("data", (s._c.n, s._c.dim), "<f4"), doc="[n, dim] embeddings")
    index = property(lambda s: s._arr("index", (s._c.n,), "<i4"),
                     doc="[n] source position t*H*W + y*W + x, -1 for a synthetic token")
    pos = property(lambda s: s._arr("pos", (s._c.n, 3), "<i4"), doc="[n, 3] (t, y, x)")
    weight = property(lambda s: s._arr("weight", (s._c.n,), "<f4"), doc="[n] source tokens each stands for")
    codes = property(lambda s: s._arr("codes", tuple(s._c.grid), "<i4"),
                     doc="[T, H, W] code id of every source token (vq), or None")
    timestamps = property(lambda s: s._arr("timestamps", (s._c.grid[0],), "<f8"),
                          doc="[T] seconds of each source frame, or None")
    tile = property(lambda s: s._arr("tile", (s._c.n,), "<i4"),
                    doc="[n] anyres / newline layouts: each token's tile (0 = base image), -1 = image_newline; or None")

    _saver = "vtc_tokens_save"

    def _describe(self):
        return f"{self.method} {self.n} of {self.n_input} x {self.dim} space={self.space}"


def _prune(ctx, features, p):
    """vtc_prune on a Features (or arrays: Features.from_arrays) -> Tokens."""
    if isinstance(features, Features):
        f = features
    elif hasattr(features, "items"):
        f = Features.from_arrays(**dict(features))
    else:
        f = Features.from_arrays(features)
    h = f._handle()
    out = POINTER(_ffi.Tokens)()
    check(lib.vtc_prune(ctx, h.ptr, p.c, byref(out)), ctx)
    return Tokens(_Handle(out, lib.vtc_tokens_free))


def prune(features, method="none", keep=None, *, params=None, seed=0, **knobs):
    """Runs a pruning method on features without a model (vtc_prune with no
    context): features from vtc (Features) or a host's own model (an array
    [n, D], or a dict of arrays as Features.from_arrays takes). Tokens stay in
    the space the method works in (Tokens.space); use Model.prune to have
    merged tokens projected to the language model's space.

    keep: an int (a count), a float in (0, 1] (a fraction) or None (every token,
    or the method's own budget). Method knobs as keywords (divprune's
    per_frame=1) or params="name=value,..."; seed for the seeded methods; pack="native",
    "unpad" or "spatial" lays out an anyres image's kept tokens (vtc_prune_params.pack)."""
    return _prune(None, features, _PruneParams(method, keep, params, seed, knobs))


# ---------------------------------------------------------------- media


class Media(_Owner):
    """A decoded image, or frames sampled from a video (struct vtc_media)."""

    _what = "Media"

    n_frames = property(lambda s: s._c.n_frames)
    is_video = property(lambda s: bool(s._c.is_video))
    total_frames = property(lambda s: s._c.total_frames, doc="frames in the source")
    fps = property(lambda s: s._c.fps, doc="source frame rate (0 for an image)")
    codec = property(lambda s: _ffi.text(s._c.codec))

    @property
    def frames(self):
        """[n_frames] uint8 RGB views [H, W, 3]."""
        h = self._handle()
        c = h.ptr.contents
        out = []
        for i in range(c.n_frames):
            img = c.frames[i].contents
            out.append(_view(h, img.rgb, (img.height, img.width, 3), "|u1"))
        return out

    timestamps = property(lambda s: _view(s._handle(), s._c.timestamps, (s._c.n_frames,), "<f8"),
                          doc="[n_frames] seconds of each frame in the source")
    frame_index = property(lambda s: _view(s._handle(), s._c.frame_index, (s._c.n_frames,), "<i4"),
                           doc="[n_frames] decoded-frame index in the source")

    def _describe(self):
        return f"{self.codec} {'video' if self.is_video else 'image'} {self.n_frames} frame(s)"


def _sample(frames, fps):
    sp = lib.vtc_sample_params_default()
    if fps is not None:
        if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not (0 < fps < math.inf):
            raise ArgumentError(f"fps={fps!r}: want a positive number")
        sp.n_frames, sp.fps = 0, float(fps)
    elif frames is not None:
        if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or not 0 < frames <= INT32_MAX:
            raise ArgumentError(f"frames={frames!r}: want a positive int")
        sp.n_frames = int(frames)
    return sp


def load_media(path, frames=8, fps=None, limits=None):
    """Loads an image (PNG/JPEG, by content) or samples a video's frames:
    `frames` at floor(linspace(0, total-1, frames)), or one per 1/fps seconds."""
    lim = _limits(limits)
    ptr = lib.vtc_media_load(_path(path), _sample(frames, fps), byref(lim))
    if not ptr:
        raise last()
    return Media(_Handle(ptr, lib.vtc_media_free))


def load_image(path, limits=None):
    """Decodes a PNG or JPEG file to uint8 RGB [H, W, 3] (a copy), as Pillow's convert('RGB')."""
    lim = _limits(limits)
    img = lib.vtc_image_load(_path(path), byref(lim))
    if not img:
        raise last()
    try:
        c = img.contents
        return np.ctypeslib.as_array(c.rgb, (c.height, c.width, 3)).copy()
    finally:
        lib.vtc_image_free(img)


# ---------------------------------------------------------------- models and contexts


class Model(_Owner):
    """A loaded vision model (immutable; share it across threads)."""

    _what = "Model"

    def __init__(self, handle, limits):
        super().__init__(handle)
        self._limits = limits

    @classmethod
    def load(cls, path=None, *, feature_layer=0, aspect=None, use_mmap=True, limits=None, heads=0,
             image_size=0, min_pixels=0, max_pixels=0):
        """Loads a Hugging Face directory, a .safetensors file or a llama.cpp mmproj
        .gguf; path None = the embedded default model (samples/vlm).
        feature_layer: transformers' vision_feature_layer (-2 penultimate, -1 last,
        k > 0 block k; 0 = the file's). aspect: 'crop', 'pad', 'resize' or None
        (the model's). limits: {max_pixels, max_frames, max_tokens, max_memory}.
        heads, image_size: for a tower whose files do not say them (0 = the files').
        min_pixels, max_pixels: a native-resolution model's (Qwen2-VL) smart_resize
        bounds (0 = the preprocessor config's)."""
        mp = lib.vtc_model_params_default()
        for name, v in (("feature_layer", feature_layer), ("heads", heads), ("image_size", image_size),
                        ("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or abs(v) > INT32_MAX:
                raise ArgumentError(f"{name}={v!r}: want an int")
        mp.feature_layer = int(feature_layer)
        mp.heads = int(heads)
        mp.image_size = int(image_size)
        mp.min_pixels = int(min_pixels)
        mp.max_pixels = int(max_pixels)
        if aspect is not None:
            if aspect not in _ffi.ASPECTS:
                raise ArgumentError(f"aspect={aspect!r}: want 'crop', 'pad', 'resize' or None")
            mp.aspect = _ffi.ASPECTS[aspect]
        mp.use_mmap = 1 if use_mmap else 0
        mp.limits = _limits(limits)
        ptr = lib.vtc_model_default(mp) if path is None else lib.vtc_model_load(_path(path), mp)
        if not ptr:
            raise last()
        return cls(_Handle(ptr, lib.vtc_model_free), dict(limits or {}))

    @property
    def info(self):
        """ModelInfo (vtc_model_get_info): name, arch, format, image_size, patch_size,
        grid, hidden, heads, head_dim, ffn, n_layers, feature_layer, has_cls,
        has_projector, lm_dim, aspect ('crop'/'pad'/'resize'), random_weights,
        image_mean, image_std, layout ('single'/'anyres'/'anyres_max'/'native'), grid_h,
        grid_w, post_layernorm, n_feature_layers, feature_dim, and for the native
        layout merge_size, temporal_patch, window_size, min_pixels, max_pixels."""
        i = _ffi.ModelInfo()
        h = self._handle()
        check(lib.vtc_model_get_info(h.ptr, byref(i)))
        names = {v: k for k, v in _ffi.ASPECTS.items()}
        vals = []
        for k, _ in _ffi.ModelInfo._fields_:
            v = getattr(i, k)
            if isinstance(v, bytes):
                v = _ffi.text(v)
            elif k in ("image_mean", "image_std"):
                v = tuple(v)
            elif k in ("has_cls", "has_projector", "random_weights"):
                v = bool(v)
            elif k == "aspect":
                v = names.get(v, v)
            vals.append(v)
        return ModelInfo(*vals)

    def context(self, n_threads=0, want_embeds=True, want_last_attn=True, progress=None, precision="auto"):
        """A Context on this model (one thread at a time)."""
        return Context(self, n_threads, want_embeds, want_last_attn, progress, precision)

    def encode(self, x, *, frames=8, fps=None, timestamps=None, pool=None, pool_mode=None, n_threads=0, want_embeds=True,
               want_last_attn=True, progress=None, precision="auto"):
        """Encodes an image or clip with a fresh context: see Context.encode. Safe
        from any number of threads at once (the GIL is released while vtc works)."""
        with self.context(n_threads, want_embeds, want_last_attn, progress, precision) as c:
            return c.encode(x, frames=frames, fps=fps, timestamps=timestamps, pool=pool, pool_mode=pool_mode)

    def prune(self, features, method="none", keep=None, *, params=None, seed=0, n_threads=0, **knobs):
        """vtc.prune with this model's projector: merged tokens are projected to the
        language model's space (what `vtc prune --model` does)."""
        p = _PruneParams(method, keep, params, seed, knobs)
        with self.context(n_threads) as c:
            return c._prune(features, p)

    def compress(self, x, method, keep=None, *, frames=8, fps=None, pool=None, pool_mode=None, params=None, seed=0,
                 n_threads=0,
                 progress=None, precision="auto", **knobs):
        """Encode, then prune: `vtc compress`. Embeddings are computed for every
        token only when the method reads them or pool > 1, as the CLI does."""
        p = _PruneParams(method, keep, params, seed, knobs)
        want = "embeds" in method_needs(method) or (pool or 1) != 1 or (pool is None and self.info.layout == "anyres_max")
        with self.context(n_threads, want_embeds=want, progress=progress, precision=precision) as c:
            with c.encode(x, frames=frames, fps=fps, pool=pool, pool_mode=pool_mode) as f:
                return c._prune(f, p)

    def preprocess(self, image, aspect=None):
        """The model's input for an image (uint8 RGB [H, W, 3] or a path): float32
        [3, S, S], normalised, as the model's image processor (vtc_preprocess)."""
        if isinstance(image, (str, bytes, os.PathLike)):
            image = load_image(image, self._limits)
        img = _image(image)
        S = self.info.image_size
        out = np.empty((3, S, S), np.float32)
        a = 0 if aspect is None else _ffi.ASPECTS.get(aspect, -1)
        if a < 0:
            raise ArgumentError(f"aspect={aspect!r}: want 'crop', 'pad', 'resize' or None")
        h = self._handle()
        check(lib.vtc_preprocess(h.ptr, img.ptr, a, _ptr(out, c_float)))
        return out

    def image_tokens(self, width, height):
        """(n_tokens, tiling) a width x height image gives unpruned (vtc_model_image_tokens):
        tiling is a dict of vtc_tiling's fields (kind 0 for a one-tile model)."""
        for name, v in (("width", width), ("height", height)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{name} must be an int")
        tl, n = _ffi.Tiling(), c_int64(0)
        h = self._handle()
        check(lib.vtc_model_image_tokens(h.ptr, int(width), int(height), byref(tl), byref(n)))
        return n.value, {k: getattr(tl, k) for k, _ in _ffi.Tiling._fields_}

    def preprocess_tiles(self, image):
        """Every input tile of an image as vtc_encode_image encodes them
        (vtc_preprocess_tile): float32 [n_tiles, 3, S, S]; one tile for a one-tile
        model, the base image then the sub-images for an anyres model."""
        if isinstance(image, (str, bytes, os.PathLike)):
            image = load_image(image, self._limits)
        img = _image(image)
        S = self.info.image_size
        h = self._handle()
        n = c_int32(0)
        check(lib.vtc_preprocess_tile(h.ptr, img.ptr, 0, byref(n), None))
        out = np.empty((n.value, 3, S, S), np.float32)
        for k in range(n.value):
            check(lib.vtc_preprocess_tile(h.ptr, img.ptr, k, byref(n), _ptr(out[k], c_float)))
        return out

    def _describe(self):
        return repr(self.info.name)


class Context(_Owner):
    """Scratch buffers and the last error for one thread's work on one model
    (struct vtc_ctx). Calls on one Context are serialised by a lock; for
    parallel work use one per thread (Model.encode makes one per call)."""

    _what = "Context"

    def __init__(self, model, n_threads=0, want_embeds=True, want_last_attn=True, progress=None, precision="auto"):
        mh = model._handle()
        cp = lib.vtc_ctx_params_default()
        if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral) or not 0 <= n_threads <= 1024:
            raise ArgumentError(f"n_threads={n_threads!r}: want an int in [0, 1024] (0 = all CPUs)")
        if precision not in _PRECISIONS:
            raise ArgumentError(f"precision={precision!r}: want 'auto', 'f32' or 'bf16'")
        cp.n_threads = int(n_threads)
        cp.precision = _PRECISIONS[precision]
        cp.want_embeds = 1 if want_embeds else 0
        cp.want_last_attn = 1 if want_last_attn else 0
        cb = None
        if progress is not None:
            if not callable(progress):
                raise TypeError("progress must be callable(done, total)")
            cb = _ffi.PROGRESS_FN(lambda user, done, total: progress(done, total))
            cp.progress = cb
        ptr = lib.vtc_ctx_new(mh.ptr, cp)
        if not ptr:
            raise last()
        super().__init__(_Handle(ptr, lib.vtc_ctx_free, (mh, cb)))
        self.model = model
        self._limits = model._limits
        self._lock = threading.Lock()

    @property
    def precision(self):
        """What the encoder and projector run in, auto resolved: ('f32' or 'bf16',
        the line saying where and why, e.g. 'bf16 on oneDNN avx512_core_amx')."""
        h = self._handle()
        line = c_char_p()
        p = lib.vtc_ctx_precision(h.ptr, byref(line))
        return ("bf16" if p == _ffi.VTC_PRECISION_BF16 else "f32", _ffi.text(line.value))

    @property
    def error(self):
        """The last error recorded on this context (vtc_ctx_error), '' if none."""
        h = self._handle()
        return _ffi.text(lib.vtc_ctx_error(h.ptr))

    def encode(self, x, *, frames=8, fps=None, timestamps=None, pool=None, pool_mode=None):
        """Encodes x into Features: preprocessing, the ViT, the attention statistics
        and the projector (vtc_encode_image / vtc_encode_frames).

        x: a path (an image, or a video sampled by `frames` or `fps`, as `vtc
        encode`: a video's frames are decoded and encoded one by one, never all
        held, vtc_encode_file), a Media, uint8 RGB pixels [H, W, 3] (one image), [T, H, W, 3] or
        a list of [H, W, 3] (frames of one clip, with optional timestamps [T]);
        numpy arrays or torch tensors. pool > 1 pools each frame's grid s x s
        afterwards, pool_mode "avg" or "bilinear" (`--pool`, `--pool-mode`); None
        = the model's rule (LLaVA-OneVision video: 2, bilinear; else none).

        The GIL is released while vtc works (ctypes releases it around every
        foreign call), so Python threads encoding with their own contexts run in
        parallel."""
        with self._lock:
            h = self._handle()  # held for the call: a close() meanwhile frees nothing
            ctx = h.ptr
            out = POINTER(_ffi.Features)()
            if isinstance(x, (str, bytes, os.PathLike)):
                st = lib.vtc_encode_file(ctx, _path(x), _sample(frames, fps), byref(out))
            elif not isinstance(x, (Media, list, tuple, np.ndarray)) and not hasattr(x, "__array__"):
                raise TypeError("encode: want a path, a Media, or uint8 RGB pixels [H, W, 3] / [T, H, W, 3], "
                                f"not {type(x).__name__}")
            elif isinstance(x, Media):
                mh = x._handle()
                m = mh.ptr.contents
                if m.is_video:
                    st = lib.vtc_encode_frames(ctx, m.frames, m.n_frames, m.timestamps, byref(out))
                else:  # an image: tiled when the model tiles (LLaVA-NeXT / OneVision anyres)
                    st = lib.vtc_encode_image(ctx, m.frames[0], byref(out))
            else:
                if isinstance(x, (list, tuple)):
                    imgs = [_image(a, f"frame {i}") for i, a in enumerate(x)]
                else:
                    a = _as_numpy(x)
                    if a.ndim == 4:
                        imgs = [_image(a[i], f"frame {i}") for i in range(a.shape[0])]
                    else:
                        imgs = [_image(a)]
                if not imgs:
                    raise ArgumentError("encode: no frames")
                ts = None
                if timestamps is not None:
                    ts = _floats(timestamps, "timestamps", np.float64)
                    if ts.shape != (len(imgs),):
                        raise ArgumentError(f"timestamps: want shape [{len(imgs)}], got {list(ts.shape)}")
                if ts is None and not isinstance(x, (list, tuple)) and _as_numpy(x).ndim == 3:
                    st = lib.vtc_encode_image(ctx, imgs[0].ptr, byref(out))  # one image [H, W, 3]
                else:
                    arr = (POINTER(_ffi.Image) * len(imgs))(*[i.ptr for i in imgs])
                    st = lib.vtc_encode_frames(ctx, arr, len(imgs), None if ts is None else _ptr(ts, c_double),
                                               byref(out))
            check(st, ctx)
            f = Features._own(out)
        # pool=None: the model's rule, as the CLI's: LLaVA-OneVision pools each video
        # frame 2x2 bilinearly after the projector (apply_pooling), others do not
        onevision_video = f._c.tiling.newline == 2
        if pool is None:
            pool = 2 if onevision_video else 1
        if pool_mode is None:
            pool_mode = "bilinear" if onevision_video else "avg"
        if pool != 1:
            with f:
                return f.pool(pool, pool_mode)
        return f

    def encode_to_file(self, path, out, *, frames=8, fps=None, metadata=None):
        """Encodes the image or video at `path` and writes its features file to
        `out` (vtc_encode_file_save, what `vtc encode` does): a video's frames are
        written as they are encoded, so memory holds one frame's tokens however
        many frames are sampled. Returns the summary: Features with the grid,
        FLOPs, timings and timestamps but no token arrays (read the file with
        vtc.Features.load for those). No pooling."""
        with self._lock:
            h = self._handle()
            ctx = h.ptr
            info = POINTER(_ffi.Features)()
            check(lib.vtc_encode_file_save(ctx, _path(path), _sample(frames, fps), _path(out), _metadata(metadata),
                                           byref(info)), ctx)
            return Features._own(info)

    def prune(self, features, method="none", keep=None, *, params=None, seed=0, **knobs):
        """vtc.prune with this context's model and threads (see Model.prune)."""
        return self._prune(features, _PruneParams(method, keep, params, seed, knobs))

    def _prune(self, features, p):
        with self._lock:
            h = self._handle()
            return _prune(h.ptr, features, p)

    def _describe(self):
        return f"on {self.model!r}"


# ---------------------------------------------------------------- FLOPs


def lm_preset(name):
    """A language model's shape by preset name (vtc_lm_preset): llava-1.5-7b, ..."""
    s = _ffi.LMShape()
    check(lib.vtc_lm_preset(_str(name, "preset").encode(), byref(s)))
    return LMShape(*(getattr(s, k) for k, _ in _ffi.LMShape._fields_))


def flops(lm, visual, text=0, gen=0):
    """Language-model FLOPs (vtc_lm_flops) of a prompt with `visual` visual and
    `text` text tokens generating `gen`: Flops(prefill, decode_per_token, decode,
    paper_prefill). lm: a preset name, an LMShape or a dict of its fields."""
    if isinstance(lm, str):
        lm = lm_preset(lm)
    elif hasattr(lm, "items"):
        lm = LMShape(**dict(lm))
    s = _ffi.LMShape(*[int(v) for v in lm])
    for name, v in (("visual", visual), ("text", text), ("gen", gen)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int")
    out = _ffi.Flops()
    check(lib.vtc_lm_flops(byref(s), int(visual), int(text), int(gen), byref(out)))
    return Flops(*(getattr(out, k) for k, _ in _ffi.Flops._fields_))


# ---------------------------------------------------------------- in-decoder policies' decisions


def select_top(score, k):
    """keep[i] = True for the k highest of score (ties: the lower index) (vtc_lm_select_top)."""
    s = _floats(score, "score")
    if s.ndim != 1:
        raise ArgumentError(f"score: want a vector, got shape {list(s.shape)}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= INT32_MAX:
        raise ArgumentError(f"k={k!r}: want an int >= 0")
    keep = np.zeros(s.shape[0], np.uint8)
    check(lib.vtc_lm_select_top(_ptr(s, c_float), s.shape[0], int(k), _ptr(keep, c_uint8)))
    return keep.astype(bool)


def _ratio(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise ArgumentError(f"{name}={v!r}: want a finite number")
    return float(v)


def _count(n):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 0 <= n <= INT32_MAX:
        raise ArgumentError(f"n_visual={n!r}: want an int >= 0")
    return int(n)


def fastv_n_keep(n_visual, r=0.5):
    """FastV's kept count: round(n_visual * (1 - r)), in [0, n_visual]."""
    return lib.vtc_lm_fastv_n_keep(_count(n_visual), _ratio(r, "r"))


def dycoke_n_keep(n_visual, p=0.7):
    """DyCoke-KV's kept count: int(n_visual * (1 - p)), in [0, n_visual]."""
    return lib.vtc_lm_dycoke_n_keep(_count(n_visual), _ratio(p, "p"))


def todre2_drop(alpha_tv, alpha_vt, tau=0.1):
    """ToDRE stage 2: True when both attention shares are below tau (drop every visual token)."""
    return bool(lib.vtc_lm_todre2_drop(_ratio(alpha_tv, "alpha_tv"), _ratio(alpha_vt, "alpha_vt"),
                                       _ratio(tau, "tau")))


def cosine(a, b):
    """Cosine similarity as torch.nn.functional.cosine_similarity (eps 1e-8), in double."""
    x, y = _floats(a, "a"), _floats(b, "b")
    if x.ndim != 1 or x.shape != y.shape:
        raise ArgumentError(f"cosine: want two vectors of one length, got {list(x.shape)} and {list(y.shape)}")
    return lib.vtc_lm_cosine(_ptr(x, c_float), _ptr(y, c_float), x.shape[0])
