"""vtc: visual token compression for vision-language models, from Python.

A ctypes binding of libvtc (include/vtc.h) with numpy arrays in and out:

    import vtc
    model = vtc.Model.load()                    # the embedded model; or a HF dir, .safetensors, .gguf
    f = model.encode("photo.jpg")               # Features: f.features [576, D], f.cls_attn, f.embeds, ...
    kept = model.prune(f, "divprune", 64)       # Tokens: kept.data [64, lm_dim], kept.index, kept.pos
    kept = vtc.prune({"features": feats, "cls_attn": attn}, "cls", 0.25)   # a host's own features

The library is found through $VTC_LIBRARY, then the build tree this package
sits in (build/libvtc.so.0), then the system (libvtc.so.0). docs/python.md has
the whole API.
"""
from ._ffi import LIBRARY_PATH
from ._errors import (ArgumentError, FileIOError, FormatError, InternalError, LimitError, NeedsError,
                      NoMemoryError, UnsupportedError, VtcError, status_str)
from ._core import (Context, Features, Flops, LMShape, Media, Method, Model, ModelInfo, Param, Policy, Tokens,
                    cosine, dycoke_n_keep, fastv_n_keep, flops, keep_count, limits_default, lm_preset,
                    load_image, load_media, method_needs, methods, policies, prune, select_top, todre2_drop,
                    validate, version)

__version__ = version()

__all__ = [
    "ArgumentError", "Context", "Features", "FileIOError", "Flops", "FormatError", "InternalError",
    "LIBRARY_PATH", "LMShape", "LimitError", "Media", "Method", "Model", "ModelInfo", "NeedsError",
    "NoMemoryError", "Param", "Policy", "Tokens", "UnsupportedError", "VtcError", "cosine", "dycoke_n_keep",
    "fastv_n_keep", "flops", "keep_count", "limits_default", "lm_preset", "load_image", "load_media",
    "method_needs", "methods", "policies", "prune", "select_top", "status_str", "todre2_drop", "validate",
    "version",
]
