#!/usr/bin/python3
"""Writes the model-file fixtures for tests/test_modelfiles.c into tests/fixtures/files/.

Valid files (bytes written by hand with struct, independently of vtc's C code):
  st_basic.safetensors    F32/F16/BF16/F64/I32/I64/U8/BOOL tensors, a scalar, an empty
                          tensor and __metadata__ (values: see VALUES below / the C test)
  st_values.safetensors   interesting F16 and BF16 bit patterns with numpy's float32
                          conversion of each stored beside them ("<name>_f32")
  conv.txt                FNV-1a 64 of numpy's float32 conversion of all 65536 F16 and
                          all 65536 BF16 bit patterns (the C test recomputes it)
  sharded/                model.safetensors.index.json + 2 shards + config.json
  multi/                  two .safetensors files, no index
  v3.gguf                 GGUF v3, alignment 64, every KV type (nested string arrays too),
                          F32/F16/BF16/Q8_0/I32 tensors
  v2.gguf                 GGUF v2, default alignment
  kv_only.gguf            GGUF v3 with key-values and no tensors
Hostile files go to hostile/, each listed in hostile/MANIFEST.txt as
  <file or dir/>  <status: format|unsupported|limit|io>  <substring of the error message>

Run: /usr/bin/python3 tools/gen_file_fixtures.py   (deterministic; rewrites everything)
"""
import json
import os
import shutil
import struct
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "files")
HOSTILE = os.path.join(ROOT, "hostile")
manifest = []


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def hostile(name, data, status, substring):
    write(os.path.join(HOSTILE, name), data)
    manifest.append((name, status, substring))


# ---------------------------------------------------------------- safetensors


def st_file(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes). Contiguous data, header padded with spaces."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    return st_raw(json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode(),
                  b"".join(t[3] for t in tensors))


def st_raw(header, data=b"", hlen=None, pad=True):
    if pad:
        header += b" " * ((8 - (8 + len(header)) % 8) % 8)
    return struct.pack("<Q", len(header) if hlen is None else hlen) + header + data


def bf16_bits(x):
    """Round-to-nearest-even float32 -> bfloat16 bits (values here are exact anyway)."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def gen_safetensors():
    # VALUES (the C test recomputes these formulas):
    f32 = (np.arange(6, dtype=np.float32) * 0.25 - 0.5).reshape(2, 3)
    f16 = ((np.arange(8) - 3) * 0.125).astype(np.float16).reshape(4, 2)
    bf16 = bf16_bits([1.0, -2.5, 3.140625])
    f64 = np.array([1e-3, -2.5e10], dtype=np.float64)
    i32 = (np.arange(5) * -7 + 3).astype(np.int32)
    i64 = np.array([-(2 ** 40), 2 ** 40 + 1], dtype=np.int64)
    tensors = [
        ("empty", "F32", (0, 4), b""),
        ("f32", "F32", (2, 3), f32.tobytes()),
        ("f16", "F16", (4, 2), f16.tobytes()),
        ("bf16", "BF16", (3,), bf16.tobytes()),
        ("u8", "U8", (), bytes([200])),
        ("bool", "BOOL", (3,), bytes([1, 0, 1])),
        ("f64", "F64", (2,), f64.tobytes()),
        ("i32", "I32", (5,), i32.tobytes()),
        ("i64", "I64", (2,), i64.tobytes()),  # last and non-empty: every strict prefix is invalid
    ]
    meta = {"format": "test-basic", "grid": "1,2,3", "note": 'quote " backslash \\ tab \t \u00e9'}
    basic = st_file(tensors, meta)
    write(os.path.join(ROOT, "st_basic.safetensors"), basic)

    # F16 / BF16 bit patterns with numpy's conversion beside them.
    special = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF,
               0x7C00, 0xFC00, 0x7C01, 0x7E00, 0xFE00, 0x7FFF, 0x3555, 0x1234]
    h = np.array(special + list(range(0, 65536, 97)), dtype=np.uint16)
    h16 = h.view(np.float16).astype(np.float32)
    b16 = np.array([0x0000, 0x8000, 0x0001, 0x007F, 0x0080, 0x3F80, 0xBF80, 0x7F7F, 0x7F80, 0xFF80,
                    0x7F81, 0x7FC0, 0x4049] + list(range(5, 65536, 89)), dtype=np.uint16)
    b32 = (b16.astype(np.uint32) << 16).view(np.float32)
    write(os.path.join(ROOT, "st_values.safetensors"), st_file([
        ("f16", "F16", (len(h),), h.tobytes()),
        ("f16_f32", "F32", (len(h),), h16.tobytes()),
        ("bf16", "BF16", (len(b16),), b16.tobytes()),
        ("bf16_f32", "F32", (len(b16),), b32.tobytes()),
    ]))
    all16 = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    conv_f16 = all16.view(np.float16).astype(np.float32).tobytes()
    conv_bf16 = (all16.astype(np.uint32) << 16).view(np.float32).tobytes()
    with open(os.path.join(ROOT, "conv.txt"), "w") as f:
        f.write("# FNV-1a 64 of numpy %s float32 conversions of all 65536 bit patterns\n" % np.__version__)
        f.write("f16 %016x\n" % fnv1a64(conv_f16))
        f.write("bf16 %016x\n" % fnv1a64(conv_bf16))

    # A sharded Hugging Face directory.
    d = os.path.join(ROOT, "sharded")
    shutil.rmtree(d, ignore_errors=True)
    s1 = [("vision_model.embeddings.class_embedding", "F32", (4,), np.arange(4, dtype=np.float32).tobytes()),
          ("vision_model.post_layernorm.weight", "F16", (4,), np.ones(4, np.float16).tobytes())]
    s2 = [("multi_modal_projector.linear_1.weight", "BF16", (2, 4), bf16_bits(np.arange(8) - 4.0).tobytes()),
          ("multi_modal_projector.linear_1.bias", "F32", (2,), np.array([0.5, -0.5], np.float32).tobytes())]
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    write(os.path.join(d, names[0]), st_file(s1, {"format": "pt"}))
    write(os.path.join(d, names[1]), st_file(s2, {"format": "pt"}))
    index = {"metadata": {"total_size": 40}, "weight_map": {}}
    for shard, ts in zip(names, (s1, s2)):
        for t in ts:
            index["weight_map"][t[0]] = shard
    write(os.path.join(d, "model.safetensors.index.json"), json.dumps(index, indent=2).encode())
    write(os.path.join(d, "config.json"), json.dumps({"model_type": "llava", "vision_config": {
        "hidden_size": 4, "image_size": 28, "patch_size": 14}}, indent=2).encode())

    d = os.path.join(ROOT, "multi")
    shutil.rmtree(d, ignore_errors=True)
    write(os.path.join(d, "b.safetensors"), st_file([("y", "I32", (2,), np.array([5, 6], np.int32).tobytes())]))
    write(os.path.join(d, "a.safetensors"), st_file([("x", "F32", (1,), np.array([1.5], np.float32).tobytes())]))
    write(os.path.join(d, "notes.txt"), b"not a tensor file\n")
    return basic


def hdr(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def gen_hostile_safetensors(basic):
    F = "format"
    one = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    d4 = b"\0" * 4
    hostile("st_empty.safetensors", b"", F, "too short")
    hostile("st_short.safetensors", b"\x10\0\0\0\0", F, "too short")
    hostile("st_hlen_past_eof.safetensors", st_raw(b"{}", hlen=1000), F, "runs past the end")
    hostile("st_hlen_huge.safetensors", st_raw(b"{}", hlen=2 ** 63), F, "runs past the end")
    hostile("st_hlen_max.safetensors", st_raw(b"{}", hlen=2 ** 64 - 1), F, "runs past the end")
    hostile("st_hlen_zero.safetensors", st_raw(b"", hlen=0, pad=False), F, "header of 0 bytes")
    hostile("st_bad_json.safetensors", st_raw(b'{"a": '), F, "not valid JSON")
    hostile("st_bad_json_escape.safetensors", st_raw(b'{"a\\', pad=False), F, "not valid JSON")
    hostile("st_json_array.safetensors", st_raw(b"[1,2]"), F, "not an object")
    hostile("st_json_string.safetensors", st_raw(b'"x"'), F, "not an object")
    hostile("st_trailing.safetensors", st_raw(b"{} xx"), F, "bytes after the header")
    hostile("st_nul_padding.safetensors", st_raw(b"{}\0\0\0\0\0\0", pad=False), F, "bytes after the header")
    hostile("st_deep_json.safetensors", st_raw(b'{"a":' + b"[" * 3000 + b"]" * 3000 + b"}"), F, "not valid JSON")
    hostile("st_entry_not_object.safetensors", st_raw(hdr({"a": 5})), F, "a: entry is not an object")
    hostile("st_no_dtype.safetensors", st_raw(hdr({"a": {"shape": [1], "data_offsets": [0, 4]}}), d4),
            F, '"dtype" missing')
    hostile("st_dtype_not_string.safetensors", st_raw(hdr({"a": dict(one, dtype=5)}), d4), F, '"dtype" missing')
    hostile("st_unknown_dtype.safetensors", st_raw(hdr({"a": dict(one, dtype="F4")}), d4),
            "unsupported", 'unknown dtype "F4"')
    hostile("st_lowercase_dtype.safetensors", st_raw(hdr({"a": dict(one, dtype="f32")}), d4),
            "unsupported", "unknown dtype")
    hostile("st_no_shape.safetensors", st_raw(hdr({"a": {"dtype": "F32", "data_offsets": [0, 4]}}), d4),
            F, '"shape" missing')
    hostile("st_shape_negative.safetensors", st_raw(hdr({"a": dict(one, shape=[-1])}), d4), F, "shape[0]")
    hostile("st_shape_fraction.safetensors", st_raw(hdr({"a": dict(one, shape=[1, 1.5])}), d4), F, "shape[1]")
    hostile("st_shape_string.safetensors", st_raw(hdr({"a": dict(one, shape=["1"])}), d4), F, "shape[0]")
    hostile("st_shape_1e300.safetensors", st_raw(b'{"a":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}}', d4),
            F, "shape[0]")
    hostile("st_shape_overflow.safetensors", st_raw(hdr({"a": dict(one, shape=[2 ** 40, 2 ** 40, 2 ** 40])}), d4),
            F, "overflows")
    hostile("st_shape_2e53.safetensors", st_raw(hdr({"a": dict(one, shape=[2 ** 53 + 2])}), d4), F, "shape[0]")
    hostile("st_too_many_dims.safetensors", st_raw(hdr({"a": dict(one, shape=[1] * 9)}), d4),
            "unsupported", "more than 8 dimensions")
    hostile("st_no_offsets.safetensors", st_raw(hdr({"a": {"dtype": "F32", "shape": [1]}}), d4), F, "data_offsets")
    hostile("st_offsets_three.safetensors", st_raw(hdr({"a": dict(one, data_offsets=[0, 4, 8])}), d4 * 2),
            F, "data_offsets")
    hostile("st_offsets_negative.safetensors", st_raw(hdr({"a": dict(one, data_offsets=[-4, 0])}), d4),
            F, "data_offsets")
    hostile("st_offsets_huge.safetensors", st_raw(hdr({"a": dict(one, data_offsets=[0, 2 ** 64])}), d4),
            F, "data_offsets")
    hostile("st_offsets_reversed.safetensors", st_raw(hdr({"a": dict(one, data_offsets=[8, 4])}), d4 * 3),
            F, "reversed")
    hostile("st_offsets_past_eof.safetensors", st_raw(hdr({"a": dict(one, data_offsets=[4000, 4004])}), d4),
            F, "run past the data area")
    hostile("st_size_mismatch.safetensors", st_raw(hdr({"a": dict(one, shape=[2])}), d4 * 2),
            F, "shape needs 8 bytes")
    hostile("st_overlap.safetensors", st_raw(hdr({"a": dict(one, shape=[2], data_offsets=[0, 8]),
                                                   "b": dict(one, shape=[2], data_offsets=[4, 12])}), d4 * 3),
            F, "overlaps")
    hostile("st_dup_name.safetensors",
            st_raw(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                   b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', d4 * 2), F, "duplicate tensor name")
    hostile("st_meta_not_object.safetensors", st_raw(hdr({"__metadata__": 5})), F, "__metadata__ is not an object")
    hostile("st_meta_value.safetensors", st_raw(hdr({"__metadata__": {"k": 1}})), F, 'value of "k" is not a string')
    hostile("st_meta_twice.safetensors", st_raw(b'{"__metadata__":{},"__metadata__":{}}'), F, "appears twice")
    # Truncations of a valid file at a spread of points (the C test also tries every prefix in memory).
    for cut in (1, 7, 8, 9, 40, len(basic) // 2, len(basic) - 9, len(basic) - 1):
        hostile("st_trunc_%d.safetensors" % cut, basic[:cut], F, "")

    # Model directories.
    def shard_dir(name, files, status, substring):
        d = os.path.join(HOSTILE, name)
        shutil.rmtree(d, ignore_errors=True)
        for fname, data in files.items():
            write(os.path.join(d, fname), data)
        manifest.append((name + "/", status, substring))

    t_a = st_file([("a", "F32", (1,), d4)])
    t_b = st_file([("b", "F32", (1,), d4)])
    idx = lambda m: json.dumps({"weight_map": m}).encode()
    ix = "model.safetensors.index.json"
    shard_dir("dir_traversal", {ix: idx({"a": "../st_basic.safetensors"}), "x.safetensors": t_a},
              F, "shard must be a file name")
    shard_dir("dir_slash", {ix: idx({"a": "sub/x.safetensors"}), "x.safetensors": t_a}, F, "shard must be a file name")
    shard_dir("dir_abs", {ix: idx({"a": "/etc/passwd"}), "x.safetensors": t_a}, F, "shard must be a file name")
    shard_dir("dir_missing_shard", {ix: idx({"a": "nope.safetensors"}), "x.safetensors": t_a},
              "io", "nope.safetensors: No such file")
    shard_dir("dir_dup", {ix: idx({"a": "x.safetensors", "b": "y.safetensors"}), "x.safetensors": t_a,
                          "y.safetensors": st_file([("a", "F32", (1,), d4), ("b", "F32", (1,), d4)])},
              F, "a: tensor also in")
    shard_dir("dir_wrong_shard", {ix: idx({"a": "y.safetensors", "b": "x.safetensors"}), "x.safetensors": t_a,
                                  "y.safetensors": t_b}, F, "a: not found in y.safetensors")
    shard_dir("dir_listed_absent", {ix: idx({"a": "x.safetensors", "zzz": "x.safetensors"}), "x.safetensors": t_a},
              F, "zzz: not found in x.safetensors")
    shard_dir("dir_bad_index", {ix: b"{not json", "x.safetensors": t_a}, F, "not a JSON object")
    shard_dir("dir_no_weight_map", {ix: b'{"metadata":{}}', "x.safetensors": t_a}, F, "weight_map")
    shard_dir("dir_map_value", {ix: idx({"a": 5}), "x.safetensors": t_a}, F, "shard must be a file name")
    shard_dir("dir_bad_shard", {ix: idx({"a": "x.safetensors"}), "x.safetensors": st_raw(b"[]")},
              F, "x.safetensors: header JSON is not an object")
    shard_dir("dir_empty", {"README.txt": b"no tensors here\n"}, "io", "no *.safetensors file")
    shard_dir("dir_multi_dup", {"p.safetensors": t_a, "q.safetensors": t_a}, F, "a: tensor also in")


# ---------------------------------------------------------------- GGUF

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?",
              U64: "<Q", I64: "<q", F64: "<d"}
GGML_F32, GGML_F16, GGML_Q8_0, GGML_I32, GGML_BF16 = 0, 1, 8, 26, 30


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gvalue(t, v):
    if t == STRING:
        return gstr(v)
    if t == ARRAY:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gvalue(et, x) for x in items)
    return struct.pack(SCALAR_FMT[t], v)


def gkv(key, t, v):
    return gstr(key) + struct.pack("<I", t) + gvalue(t, v)


def gguf(version, kvs, tensors, alignment=32, n_tensors=None, n_kv=None):
    """kvs: [(key, type, value)]; tensors: [(name, ggml_type, ne, raw)]. No padding after the last tensor."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                len(kvs) if n_kv is None else n_kv)
    out += b"".join(gkv(*kv) for kv in kvs)
    data, off = b"", 0
    for name, typ, ne, raw in tensors:
        out += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", typ, off)
        pad = b"\0" * ((alignment - len(raw) % alignment) % alignment)
        data += raw + pad
        off += len(raw) + len(pad)
    if tensors:
        out += b"\0" * ((alignment - len(out) % alignment) % alignment)
        data = data[:len(data) - len(pad)]
    return out + data


def gen_gguf():
    kvs = [
        ("general.architecture", STRING, "clip"),
        ("general.alignment", U32, 64),
        ("t.u8", U8, 250), ("t.i8", I8, -100), ("t.u16", U16, 65000), ("t.i16", I16, -30000),
        ("t.u32", U32, 4000000000), ("t.i32", I32, -2000000000), ("t.f32", F32, 0.15625),
        ("t.bool", BOOL, True), ("t.str", STRING, 'h\u00e9llo "world"'),
        ("t.u64", U64, 2 ** 63 + 5), ("t.u64small", U64, 12345), ("t.i64", I64, -(2 ** 62)),
        ("t.f64", F64, -1.0e-300),
        ("t.arr_f32", ARRAY, (F32, [0.5, -1.25, 3.0])),
        ("t.arr_i32", ARRAY, (I32, [1, -2, 3, 2147483647])),
        ("t.arr_u8", ARRAY, (U8, [1, 2, 3])),
        ("t.arr_i64_big", ARRAY, (I64, [1, 2 ** 40])),
        ("t.arr_f64", ARRAY, (F64, [0.1, 2.0])),
        ("t.arr_bool", ARRAY, (BOOL, [True, False])),
        ("t.arr_str", ARRAY, (STRING, ["a", "", "\u00fcn\u00efcode", b"with\0nul"])),
        ("t.arr_nested", ARRAY, (ARRAY, [(STRING, ["x", "y"]), (STRING, ["z"]), (U16, [7])])),
        ("t.arr_empty", ARRAY, (F32, [])),
        ("clip.vision.image_mean", ARRAY, (F32, [0.48145466, 0.4578275, 0.40821073])),
    ]
    tensors = [
        ("v.f32", GGML_F32, [3, 2], (np.arange(6, dtype=np.float32) * 0.5 - 1).tobytes()),
        ("v.f16", GGML_F16, [4], ((np.arange(4) - 1.5) * 0.25).astype(np.float16).tobytes()),
        ("v.bf16", GGML_BF16, [2, 2, 2], bf16_bits([1, -1, 0.5, 2, -3, 4.5, 0.0078125, 256]).tobytes()),
        ("v.q8", GGML_Q8_0, [32, 2], bytes(range(68))),
        ("v.i32", GGML_I32, [3], np.array([7, -8, 9], np.int32).tobytes()),
    ]
    v3 = gguf(3, kvs, tensors, alignment=64)
    write(os.path.join(ROOT, "v3.gguf"), v3)
    v2 = gguf(2, [("general.architecture", STRING, "llama"), ("t.i32", I32, 42),
                  ("t.arr_str", ARRAY, (STRING, ["p", "q"]))],
              [("a", GGML_F32, [5], np.arange(5, dtype=np.float32).tobytes()),
               ("b", GGML_F16, [2, 3], (np.arange(6) * 0.5).astype(np.float16).tobytes())])
    write(os.path.join(ROOT, "v2.gguf"), v2)
    write(os.path.join(ROOT, "kv_only.gguf"), gguf(3, [("general.architecture", STRING, "llama")], []))
    return v3


def gen_hostile_gguf(v3):
    F, U = "format", "unsupported"
    f32x1 = [("t", GGML_F32, [1], b"\0" * 4)]

    def head(version=3, n_tensors=0, n_kv=0):
        return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)

    hostile("g_empty.gguf", b"", F, "truncated in magic")
    hostile("g_bad_magic.gguf", b"GGUX" + v3[4:], F, "bad magic")
    hostile("g_v1.gguf", b"GGUF" + struct.pack("<III", 1, 0, 0), U, "version 1")
    hostile("g_v4.gguf", head(4), U, "version 4")
    hostile("g_bigendian.gguf", b"GGUF" + struct.pack(">IQQ", 3, 0, 0), U, "big-endian")
    hostile("g_no_counts.gguf", b"GGUF" + struct.pack("<I", 3), F, "truncated in tensor count")
    hostile("g_ntensors_huge.gguf", head(n_tensors=2 ** 62) + b"\0" * 64, F, "cannot fit")
    hostile("g_nkv_huge.gguf", head(n_kv=2 ** 62) + b"\0" * 64, F, "cannot fit")
    hostile("g_nkv_max.gguf", head(n_kv=2 ** 64 - 1, n_tensors=2 ** 64 - 1) + b"\0" * 64, F, "cannot fit")
    hostile("g_counts_sum.gguf", head(n_kv=4, n_tensors=2) + b"\0" * 60, F, "cannot fit")
    hostile("g_key_len_past_eof.gguf", head(n_kv=1) + struct.pack("<Q", 2 ** 40) + b"k" * 16, F,
            "string length 1099511627776 runs past")
    hostile("g_str_len_past_eof.gguf", head(n_kv=1) + gstr("k") + struct.pack("<IQ", STRING, 2 ** 62) + b"x" * 8,
            F, "k: string length")
    hostile("g_str_len_max.gguf", head(n_kv=1) + gstr("k") + struct.pack("<IQ", STRING, 2 ** 64 - 1) + b"x" * 8,
            F, "string length")
    hostile("g_arr_count_huge.gguf", head(n_kv=1) + gstr("k") + struct.pack("<IIQ", ARRAY, U8, 2 ** 62) + b"x" * 8,
            F, "k: array of 4611686018427387904 u8 cannot fit")
    hostile("g_arr_f64_count.gguf", head(n_kv=1) + gstr("k") + struct.pack("<IIQ", ARRAY, F64, 2) + b"x" * 12,
            F, "k: array of 2 f64 cannot fit")
    hostile("g_arr_str_count_huge.gguf",
            head(n_kv=1) + gstr("k") + struct.pack("<IIQ", ARRAY, STRING, 2 ** 61) + b"x" * 16, F, "cannot fit")
    hostile("g_arr_arr_count_huge.gguf",
            head(n_kv=1) + gstr("k") + struct.pack("<IIQ", ARRAY, ARRAY, 2 ** 60) + b"x" * 16, F, "cannot fit")
    hostile("g_arr_str_elem_past_eof.gguf",
            head(n_kv=1) + gstr("k") + struct.pack("<IIQ", ARRAY, STRING, 2) + gstr("ab") + struct.pack("<Q", 99),
            F, "string length 99")
    nested = (STRING, ["deep"])
    for _ in range(12):
        nested = (ARRAY, [nested])
    hostile("g_arr_nested_deep.gguf", gguf(3, [("k", ARRAY, nested)], []), F, "nested more than 8 deep")
    hostile("g_unknown_kv_type.gguf", head(n_kv=1) + gstr("k") + struct.pack("<I", 13) + b"\0" * 16, F,
            "k: unknown value type 13")
    hostile("g_unknown_arr_type.gguf", head(n_kv=1) + gstr("k") + struct.pack("<IIQ", ARRAY, 99, 1) + b"\0" * 16, F,
            "unknown array element type 99")
    hostile("g_dup_key.gguf", gguf(3, [("k", U8, 1), ("k", U8, 2)], []), F, "k: duplicate key")
    hostile("g_key_nul.gguf", gguf(3, [(b"a\0b", U8, 1)], []), F, "NUL")
    hostile("g_truncated_kv.gguf", gguf(3, [("k", U32, 1)], [])[:-2], F, "truncated in k")
    for name, t, v in (("zero", U32, 0), ("npot", U32, 48), ("negative", I32, -32), ("huge", U64, 2 ** 40)):
        hostile("g_align_%s.gguf" % name, gguf(3, [("general.alignment", t, v)], f32x1), F, "general.alignment")
    hostile("g_align_string.gguf", gguf(3, [("general.alignment", STRING, "32")], f32x1), F, "general.alignment")
    hostile("g_align_float.gguf", gguf(3, [("general.alignment", F32, 32.0)], f32x1), F, "general.alignment")

    def one_tensor(name=b"t", n_dims=1, ne=(1,), typ=GGML_F32, offset=0, data=b"\0" * 32, n_tensors=1):
        info = gstr(name) + struct.pack("<I", n_dims) + b"".join(struct.pack("<Q", n) for n in ne)
        info += struct.pack("<IQ", typ, offset)
        out = head(n_tensors=n_tensors) + info
        return out + b"\0" * ((32 - len(out) % 32) % 32) + data

    hostile("g_ndims_5.gguf", one_tensor(n_dims=5, ne=(1,) * 5), F, "t: 5 dimensions")
    hostile("g_ndims_huge.gguf", one_tensor(n_dims=2 ** 31, ne=(1,) * 4), F, "dimensions")
    hostile("g_ne_negative.gguf", one_tensor(ne=(2 ** 63,)), F, "negative as int64")
    hostile("g_ne_overflow.gguf", one_tensor(n_dims=4, ne=(2 ** 31,) * 4), F, "overflows")
    hostile("g_ne_bytes_overflow.gguf", one_tensor(n_dims=2, ne=(2 ** 62, 2)), F, "overflows")
    hostile("g_unknown_ggml_type.gguf", one_tensor(typ=99), U, "t: unknown ggml type 99")
    hostile("g_removed_ggml_type.gguf", one_tensor(typ=4), U, "unknown ggml type 4")
    hostile("g_quant_partial_block.gguf", one_tensor(ne=(31,), typ=GGML_Q8_0), F, "whole number of q8_0 blocks")
    hostile("g_misaligned_offset.gguf", one_tensor(offset=4), F, "offset 4 is not a multiple of the alignment 32")
    hostile("g_offset_past_eof.gguf", one_tensor(offset=2 ** 40), F, "run past the end")
    hostile("g_offset_overflow.gguf", one_tensor(offset=2 ** 64 - 32), F, "run past the end")
    hostile("g_data_truncated.gguf", one_tensor(ne=(64,), data=b"\0" * 100), F, "256 bytes at offset 0 run past")
    hostile("g_tensor_name_nul.gguf", one_tensor(name=b"t\0u"), F, "name contains a NUL")
    hostile("g_tensor_info_truncated.gguf", one_tensor()[:50], F, "truncated in t")
    hostile("g_dup_tensor.gguf", gguf(3, [], [("t", GGML_F32, [1], b"\0" * 4), ("t", GGML_F32, [1], b"\0" * 4)]),
            F, "t: duplicate tensor name")
    two = gguf(3, [], [("t", GGML_F32, [8], b"\0" * 32), ("u", GGML_F32, [8], b"\0" * 32)])
    ov = two.replace(struct.pack("<IQ", GGML_F32, 32), struct.pack("<IQ", GGML_F32, 0))
    assert ov != two
    hostile("g_overlap.gguf", ov, F, "overlaps")
    for cut in (3, 4, 8, 16, 24, 30, 100, 200, len(v3) // 2, len(v3) - 5, len(v3) - 1):
        hostile("g_trunc_%d.gguf" % cut, v3[:cut], F, "")


def main():
    os.makedirs(ROOT, exist_ok=True)
    shutil.rmtree(HOSTILE, ignore_errors=True)
    basic = gen_safetensors()
    gen_hostile_safetensors(basic)
    v3 = gen_gguf()
    gen_hostile_gguf(v3)
    with open(os.path.join(HOSTILE, "MANIFEST.txt"), "w") as f:
        f.write("# file-or-dir/  expected-status  substring-of-error (may be empty); written by "
                "tools/gen_file_fixtures.py\n")
        for name, status, sub in manifest:
            f.write("%s %s %s\n" % (name, status, sub))
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(ROOT) for fn in fns)
    print("wrote %d hostile cases; fixtures total %d bytes" % (len(manifest), total), file=sys.stderr)


if __name__ == "__main__":
    main()
