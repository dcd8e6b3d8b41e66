"""The ctypes layer: finding libvtc, mirrors of include/vtc.h's structs and the
prototypes of the functions the binding calls.

The mirrors must match the header field for field; tests/test_python.py compiles
offsetof/sizeof of every field named in STRUCTS against include/vtc.h and fails
on any drift. They were written for the library version in ABI_VERSION
(major, minor): a libvtc of another major.minor is refused at import.
"""
import ctypes
import ctypes.util
import os

from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int32,
                    c_int64, c_uint, c_uint8, c_uint64, c_void_p)

ABI_VERSION = (0, 1)
SONAME = "libvtc.so.0"

# ---------------------------------------------------------------- finding the library


def _candidates():
    """Where libvtc is looked for, in order: $VTC_LIBRARY, the build tree this
    package sits in (python/vtc -> build/libvtc.so.0), then the system."""
    env = os.environ.get("VTC_LIBRARY")
    if env:
        return [("$VTC_LIBRARY", env)]
    out = []
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.join(here, "..", "..", "build", SONAME)
    if os.path.exists(tree):
        out.append(("the build tree", os.path.normpath(tree)))
    found = ctypes.util.find_library("vtc")
    if found:
        out.append(("the system", found))
    out.append(("the system", SONAME))
    return out


def _load():
    tried = []
    for where, path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{path} ({where}): {e}")
    raise ImportError("vtc: cannot load libvtc; set VTC_LIBRARY to the path of libvtc.so.0 or build it "
                      "with `make` (tried " + "; ".join(tried) + ")")


lib, LIBRARY_PATH = _load()

# ---------------------------------------------------------------- constants (include/vtc.h)

VTC_OK, VTC_ERR_ARG, VTC_ERR_IO, VTC_ERR_FORMAT, VTC_ERR_UNSUPPORTED = 0, -1, -2, -3, -4
VTC_ERR_NOMEM, VTC_ERR_LIMIT, VTC_ERR_INTERNAL, VTC_ERR_NEEDS = -5, -6, -7, -8
VTC_PRECISION_AUTO, VTC_PRECISION_F32, VTC_PRECISION_BF16 = 0, 1, 2

ASPECTS = {"default": 0, "crop": 1, "pad": 2, "resize": 3}
SPACES = {0: "features", 1: "embeds"}
FIELDS = {"features": 1 << 0, "cls": 1 << 1, "cls_attn": 1 << 2, "cls_attn_last": 1 << 3, "keys": 1 << 4,
          "embeds": 1 << 5, "cls_embed": 1 << 6, "timestamps": 1 << 7, "cls_attn_first": 1 << 9}

# ---------------------------------------------------------------- struct mirrors


class Limits(Structure):
    _fields_ = [("max_pixels", c_uint64), ("max_frames", c_int32), ("max_tokens", c_int64),
                ("max_memory", c_uint64)]


class Image(Structure):
    _fields_ = [("width", c_int32), ("height", c_int32), ("rgb", POINTER(c_uint8))]


class ModelParams(Structure):
    _fields_ = [("feature_layer", c_int32), ("aspect", c_int32), ("use_mmap", c_int32), ("limits", Limits),
                ("heads", c_int32), ("image_size", c_int32), ("min_pixels", c_int32), ("max_pixels", c_int32)]


class ModelInfo(Structure):
    _fields_ = [("name", c_char * 128), ("arch", c_char * 16), ("format", c_char * 16),
                ("image_size", c_int32), ("patch_size", c_int32), ("grid", c_int32), ("hidden", c_int32),
                ("heads", c_int32), ("head_dim", c_int32), ("ffn", c_int32), ("n_layers", c_int32),
                ("feature_layer", c_int32), ("has_cls", c_int32), ("has_projector", c_int32),
                ("lm_dim", c_int32), ("aspect", c_int32), ("random_weights", c_int32),
                ("image_mean", c_float * 3), ("image_std", c_float * 3), ("layout", c_char * 16),
                ("grid_h", c_int32), ("grid_w", c_int32), ("post_layernorm", c_int32),
                ("n_feature_layers", c_int32), ("feature_dim", c_int32), ("merge_size", c_int32),
                ("temporal_patch", c_int32), ("window_size", c_int32), ("min_pixels", c_int32),
                ("max_pixels", c_int32)]


PROGRESS_FN = CFUNCTYPE(None, c_void_p, c_int32, c_int32)


class CtxParams(Structure):
    _fields_ = [("n_threads", c_int32), ("want_embeds", c_int32), ("want_last_attn", c_int32),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p), ("precision", c_int32)]


class Tiling(Structure):
    _fields_ = [("kind", c_int32), ("newline", c_int32), ("image_w", c_int32), ("image_h", c_int32),
                ("tiles_h", c_int32), ("tiles_w", c_int32), ("unpad_y0", c_int32), ("unpad_x0", c_int32),
                ("unpad_h", c_int32), ("unpad_w", c_int32), ("out_h", c_int32), ("out_w", c_int32)]


class Features(Structure):
    _fields_ = [("T", c_int32), ("H", c_int32), ("W", c_int32), ("n", c_int32), ("dim", c_int32),
                ("head_dim", c_int32), ("lm_dim", c_int32), ("cls_is_received", c_int32),
                ("features", POINTER(c_float)), ("cls", POINTER(c_float)), ("cls_attn", POINTER(c_float)),
                ("cls_attn_last", POINTER(c_float)), ("keys", POINTER(c_float)), ("embeds", POINTER(c_float)),
                ("cls_embed", POINTER(c_float)), ("timestamps", POINTER(c_double)),
                ("flops_encoder", c_double), ("flops_projector", c_double), ("ms_preprocess", c_double),
                ("ms_encode", c_double), ("ms_project", c_double), ("model", c_char * 128),
                ("model_format", c_char * 16), ("feature_layer", c_int32), ("tiling", Tiling),
                ("newline", POINTER(c_float)), ("cls_attn_first", POINTER(c_float))]


class Media(Structure):
    _fields_ = [("n_frames", c_int32), ("frames", POINTER(POINTER(Image))), ("timestamps", POINTER(c_double)),
                ("frame_index", POINTER(c_int32)), ("is_video", c_int32), ("total_frames", c_int64),
                ("fps", c_double), ("codec", c_char * 32)]


class SampleParams(Structure):
    _fields_ = [("n_frames", c_int32), ("fps", c_double), ("rule", c_int32)]


class Tokens(Structure):
    _fields_ = [("n", c_int32), ("dim", c_int32), ("n_input", c_int32), ("space", c_int32),
                ("data", POINTER(c_float)), ("index", POINTER(c_int32)), ("pos", POINTER(c_int32)),
                ("tile", POINTER(c_int32)), ("weight", POINTER(c_float)), ("codes", POINTER(c_int32)), ("grid", c_int32 * 3),
                ("method", c_char * 32), ("note", c_char * 256), ("flops_projector", c_double),
                ("params", c_char_p), ("n_keep", c_int32), ("keep_ratio", c_double),
                ("timestamps", POINTER(c_double)), ("model", c_char * 128), ("model_format", c_char * 16),
                ("feature_layer", c_int32), ("tiling", Tiling), ("pack", c_int32)]


class PruneParams(Structure):
    _fields_ = [("method", c_char_p), ("n_keep", c_int32), ("keep_ratio", c_double), ("params", c_char_p),
                ("seed", c_uint64), ("pack", c_int32)]


class LMShape(Structure):
    _fields_ = [("layers", c_int32), ("hidden", c_int32), ("ffn", c_int32), ("heads", c_int32),
                ("kv_heads", c_int32), ("vocab", c_int32)]


class Flops(Structure):
    _fields_ = [("prefill", c_double), ("decode_per_token", c_double), ("decode", c_double),
                ("paper_prefill", c_double)]


# C name of each mirror, for the layout test
STRUCTS = {"vtc_limits": Limits, "vtc_image": Image, "vtc_model_params": ModelParams,
           "vtc_model_info": ModelInfo, "vtc_ctx_params": CtxParams, "vtc_features": Features,
           "vtc_media": Media, "vtc_sample_params": SampleParams, "vtc_tokens": Tokens,
           "vtc_prune_params": PruneParams, "vtc_tiling": Tiling, "vtc_lm_shape": LMShape, "vtc_flops": Flops}

# ---------------------------------------------------------------- prototypes

_p = POINTER
_PROTOS = {
    "vtc_version": (c_char_p, []),
    "vtc_status_str": (c_char_p, [c_int]),
    "vtc_last_error": (c_char_p, []),
    "vtc_last_status": (c_int, []),
    "vtc_limits_default": (Limits, []),
    "vtc_image_load": (_p(Image), [c_char_p, _p(Limits)]),
    "vtc_image_from_rgb": (_p(Image), [c_void_p, c_int32, c_int32]),
    "vtc_image_free": (None, [_p(Image)]),
    "vtc_model_params_default": (ModelParams, []),
    "vtc_model_load": (c_void_p, [c_char_p, ModelParams]),
    "vtc_model_default": (c_void_p, [ModelParams]),
    "vtc_model_free": (None, [c_void_p]),
    "vtc_model_get_info": (c_int, [c_void_p, _p(ModelInfo)]),
    "vtc_ctx_params_default": (CtxParams, []),
    "vtc_ctx_new": (c_void_p, [c_void_p, CtxParams]),
    "vtc_ctx_free": (None, [c_void_p]),
    "vtc_ctx_error": (c_char_p, [c_void_p]),
    "vtc_ctx_precision": (c_int32, [c_void_p, POINTER(c_char_p)]),
    "vtc_features_new": (_p(Features), [c_int32, c_int32, c_int32, c_int32, c_int32, c_int32, c_uint]),
    "vtc_features_free": (None, [_p(Features)]),
    "vtc_features_pool": (_p(Features), [_p(Features), c_int32, c_int32]),
    "vtc_encode_image": (c_int, [c_void_p, _p(Image), _p(_p(Features))]),
    "vtc_encode_frames": (c_int, [c_void_p, _p(_p(Image)), c_int32, _p(c_double), _p(_p(Features))]),
    "vtc_encode_file": (c_int, [c_void_p, c_char_p, SampleParams, _p(_p(Features))]),
    "vtc_encode_file_save": (c_int, [c_void_p, c_char_p, SampleParams, c_char_p, c_void_p, _p(_p(Features))]),
    "vtc_sample_params_default": (SampleParams, []),
    "vtc_media_load": (_p(Media), [c_char_p, SampleParams, _p(Limits)]),
    "vtc_media_free": (None, [_p(Media)]),
    "vtc_preprocess": (c_int, [c_void_p, _p(Image), c_int32, _p(c_float)]),
    "vtc_preprocess_tile": (c_int, [c_void_p, _p(Image), c_int32, _p(c_int32), _p(c_float)]),
    "vtc_model_image_tokens": (c_int, [c_void_p, c_int32, c_int32, _p(Tiling), _p(c_int64)]),
    "vtc_tokens_free": (None, [_p(Tokens)]),
    "vtc_prune_params_default": (PruneParams, []),
    "vtc_prune": (c_int, [c_void_p, _p(Features), PruneParams, _p(_p(Tokens))]),
    "vtc_method_count": (c_int32, []),
    "vtc_method_name": (c_char_p, [c_int32]),
    "vtc_method_summary": (c_char_p, [c_int32]),
    "vtc_method_param_count": (c_int32, [c_int32]),
    "vtc_method_param": (c_int, [c_int32, c_int32, _p(c_char_p), _p(c_char_p), _p(c_char_p)]),
    "vtc_prune_validate": (c_int, [PruneParams]),
    "vtc_method_needs": (c_int, [c_char_p, _p(c_uint)]),
    "vtc_prune_keep_count": (c_int64, [PruneParams, c_int64]),
    "vtc_features_save": (c_int, [_p(Features), c_char_p, _p(c_char_p)]),
    "vtc_features_load": (c_int, [c_char_p, _p(_p(Features))]),
    "vtc_tokens_save": (c_int, [_p(Tokens), c_char_p, _p(c_char_p)]),
    "vtc_lm_preset": (c_int, [c_char_p, _p(LMShape)]),
    "vtc_lm_flops": (c_int, [_p(LMShape), c_int64, c_int64, c_int64, _p(Flops)]),
    "vtc_lm_select_top": (c_int, [_p(c_float), c_int32, c_int32, _p(c_uint8)]),
    "vtc_lm_fastv_n_keep": (c_int32, [c_int32, c_double]),
    "vtc_lm_dycoke_n_keep": (c_int32, [c_int32, c_double]),
    "vtc_lm_todre2_drop": (c_int, [c_double, c_double, c_double]),
    "vtc_lm_cosine": (c_double, [_p(c_float), _p(c_float), c_int32]),
    "vtc_lm_policy_count": (c_int32, []),
    "vtc_lm_policy_name": (c_char_p, [c_int32]),
    "vtc_lm_policy_summary": (c_char_p, [c_int32]),
    "vtc_lm_policy_param_count": (c_int32, [c_int32]),
    "vtc_lm_policy_param": (c_int, [c_int32, c_int32, _p(c_char_p), _p(c_char_p), _p(c_char_p)]),
}


def _bind():
    missing = []
    for name, (res, args) in _PROTOS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype, fn.argtypes = res, args
    if missing:
        raise ImportError(f"vtc: {LIBRARY_PATH} lacks {', '.join(missing)} (an older libvtc?)")
    got = lib.vtc_version().decode()
    if tuple(int(x) for x in got.split(".")[:2]) != ABI_VERSION:
        raise ImportError(f"vtc: {LIBRARY_PATH} is libvtc {got}; this binding mirrors vtc.h "
                          f"{ABI_VERSION[0]}.{ABI_VERSION[1]}")


_bind()


def text(b):
    """A C string (bytes or None) as str."""
    return b.decode("utf-8", "replace") if b else ""
