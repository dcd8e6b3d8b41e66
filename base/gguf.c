// GGUF reader: a bounds-checked cursor over the header, key-values with typed
// getters, and tensor views over the data area.
#include "gguf.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "mapfile.h"

#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_ALIGNMENT (1u << 30)
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NESTING 8

// ggml's types: name, elements per block, bytes per block, and the vtc dtype
// (VTC_DT_GGML_QUANT for block-quantized ones). Zero rows are ids ggml never
// defined or has removed.
static const struct ggml_type_info {
    const char *name;
    uint32_t blck, size;
    int dtype;
} GGML_TYPES[] = {
    [0] = { "f32", 1, 4, VTC_DT_F32 },
    [1] = { "f16", 1, 2, VTC_DT_F16 },
    [2] = { "q4_0", 32, 18, VTC_DT_GGML_QUANT },
    [3] = { "q4_1", 32, 20, VTC_DT_GGML_QUANT },
    [6] = { "q5_0", 32, 22, VTC_DT_GGML_QUANT },
    [7] = { "q5_1", 32, 24, VTC_DT_GGML_QUANT },
    [8] = { "q8_0", 32, 34, VTC_DT_GGML_QUANT },
    [9] = { "q8_1", 32, 36, VTC_DT_GGML_QUANT },
    [10] = { "q2_K", 256, 84, VTC_DT_GGML_QUANT },
    [11] = { "q3_K", 256, 110, VTC_DT_GGML_QUANT },
    [12] = { "q4_K", 256, 144, VTC_DT_GGML_QUANT },
    [13] = { "q5_K", 256, 176, VTC_DT_GGML_QUANT },
    [14] = { "q6_K", 256, 210, VTC_DT_GGML_QUANT },
    [15] = { "q8_K", 256, 292, VTC_DT_GGML_QUANT },
    [16] = { "iq2_xxs", 256, 66, VTC_DT_GGML_QUANT },
    [17] = { "iq2_xs", 256, 74, VTC_DT_GGML_QUANT },
    [18] = { "iq3_xxs", 256, 98, VTC_DT_GGML_QUANT },
    [19] = { "iq1_s", 256, 50, VTC_DT_GGML_QUANT },
    [20] = { "iq4_nl", 32, 18, VTC_DT_GGML_QUANT },
    [21] = { "iq3_s", 256, 110, VTC_DT_GGML_QUANT },
    [22] = { "iq2_s", 256, 82, VTC_DT_GGML_QUANT },
    [23] = { "iq4_xs", 256, 136, VTC_DT_GGML_QUANT },
    [24] = { "i8", 1, 1, VTC_DT_I8 },
    [25] = { "i16", 1, 2, VTC_DT_I16 },
    [26] = { "i32", 1, 4, VTC_DT_I32 },
    [27] = { "i64", 1, 8, VTC_DT_I64 },
    [28] = { "f64", 1, 8, VTC_DT_F64 },
    [29] = { "iq1_m", 256, 56, VTC_DT_GGML_QUANT },
    [30] = { "bf16", 1, 2, VTC_DT_BF16 },
    [34] = { "tq1_0", 256, 54, VTC_DT_GGML_QUANT },
    [35] = { "tq2_0", 256, 66, VTC_DT_GGML_QUANT },
    [39] = { "mxfp4", 32, 17, VTC_DT_GGML_QUANT },
};
#define N_GGML_TYPES ((int)(sizeof GGML_TYPES / sizeof GGML_TYPES[0]))

static const struct ggml_type_info *ggml_type(uint32_t t) {
    return t < (uint32_t)N_GGML_TYPES && GGML_TYPES[t].name ? &GGML_TYPES[t] : NULL;
}

const char *vtc_ggml_type_name(int t) {
    const struct ggml_type_info *ti = t >= 0 ? ggml_type((uint32_t)t) : NULL;
    return ti ? ti->name : "?";
}

// Byte size of one value of a fixed-size KV type; 0 for string and array.
static const uint8_t KV_SIZE[VTC_GGUF_TYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
static const char *const KV_NAME[VTC_GGUF_TYPE_COUNT] = { "u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                          "bool", "string", "array", "u64", "i64", "f64" };

const char *vtc_gguf_type_name(int type) {
    return type >= 0 && type < VTC_GGUF_TYPE_COUNT ? KV_NAME[type] : "?";
}

struct kv {
    const char *key;
    int type;
    int arr_type;          // arrays: element type
    uint64_t count;        // arrays: element count
    const uint8_t *raw;    // fixed-size scalar: its bytes; array: its first element
    const char *str;       // string: NUL-terminated copy
    size_t str_len;
    const char **strs;     // array of strings: [count] NUL-terminated copies
};

struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
};

struct vtc_gguf {
    vtc_file file;
    char *path;
    uint32_t version, alignment;
    int n_kv, n_tensors;
    struct kv *kv;             // [n_kv]
    vtc_tensor_view *t;        // [n_tensors]
    int *ggml;                 // [n_tensors] ggml type ids
    vtc_name_index kv_ix, t_ix;
    struct chunk *strings;     // arena of copied strings
};

// A NUL-terminated copy of s[len] in g's string arena (stable address).
static const char *arena_copy(vtc_gguf *g, const uint8_t *s, size_t len) {
    struct chunk *c = g->strings;
    if (!c || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > (64u << 10) ? len + 1 : (64u << 10);
        c = vtc_alloc(1, sizeof *c + cap);
        if (!c) {
            vtc_set_error(VTC_ERR_NOMEM, "out of memory copying GGUF strings");
            return NULL;
        }
        c->next = g->strings;
        c->used = 0;
        c->cap = cap;
        g->strings = c;
    }
    char *at = c->data + c->used;
    memcpy(at, s, len);
    at[len] = '\0';
    c->used += len + 1;
    return at;
}

// ---------------------------------------------------------------- cursor

struct cursor {
    const uint8_t *p;
    size_t left;
    const char *path;
};

static int take(struct cursor *c, void *dst, size_t n, const char *what) {
    if (c->left < n) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: truncated in %s", c->path, what);
        return VTC_ERR_FORMAT; // a literal, so compilers see that outputs are set on success
    }
    if (dst) memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return VTC_OK;
}

static int take_u32(struct cursor *c, uint32_t *v, const char *what) { return take(c, v, 4, what); }
static int take_u64(struct cursor *c, uint64_t *v, const char *what) { return take(c, v, 8, what); }

// A string: u64 length + bytes. *s points into the file.
static int take_str(struct cursor *c, const uint8_t **s, uint64_t *len, const char *what) {
    int st = take_u64(c, len, what);
    if (st) return st;
    if (*len > c->left) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: %s: string length %llu runs past the end of the file", c->path, what,
                      (unsigned long long)*len);
        return VTC_ERR_FORMAT;
    }
    *s = c->p;
    return take(c, NULL, (size_t)*len, what);
}

// Skips (validating) one value of `type`; nested arrays recurse up to a depth.
static int skip_value(struct cursor *c, uint32_t type, int depth, const char *key);

static int skip_array(struct cursor *c, int depth, const char *key, uint32_t *elem_type, uint64_t *count) {
    if (depth >= GGUF_MAX_NESTING)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: arrays nested more than %d deep", c->path, key,
                             GGUF_MAX_NESTING);
    int st = take_u32(c, elem_type, key);
    if (!st) st = take_u64(c, count, key);
    if (st) return st;
    if (*elem_type >= VTC_GGUF_TYPE_COUNT)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: unknown array element type %u", c->path, key, *elem_type);
    // Bound the count by the bytes left before walking (or anyone allocating) it.
    size_t min_size = *elem_type == VTC_GGUF_STRING ? 8 : *elem_type == VTC_GGUF_ARRAY ? 12 : KV_SIZE[*elem_type];
    if (*count > c->left / min_size)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: array of %llu %s cannot fit in the %zu bytes left", c->path, key,
                             (unsigned long long)*count, KV_NAME[*elem_type], c->left);
    if (KV_SIZE[*elem_type]) return take(c, NULL, (size_t)*count * KV_SIZE[*elem_type], key);
    for (uint64_t i = 0; i < *count; i++)
        if ((st = skip_value(c, *elem_type, depth + 1, key))) return st;
    return VTC_OK;
}

static int skip_value(struct cursor *c, uint32_t type, int depth, const char *key) {
    if (type == VTC_GGUF_STRING) {
        const uint8_t *s;
        uint64_t len = 0;
        return take_str(c, &s, &len, key);
    }
    if (type == VTC_GGUF_ARRAY) {
        uint32_t et = 0;
        uint64_t n = 0;
        return skip_array(c, depth, key, &et, &n);
    }
    return take(c, NULL, KV_SIZE[type], key);
}

// ---------------------------------------------------------------- parse

static int has_nul(const uint8_t *s, uint64_t len) { return memchr(s, 0, (size_t)len) != NULL; }

static int parse_kv(vtc_gguf *g, struct cursor *c, struct kv *kv) {
    const uint8_t *ks;
    uint64_t klen = 0;
    int st = take_str(c, &ks, &klen, "key-value key");
    if (st) return st;
    if (has_nul(ks, klen)) return vtc_set_error(VTC_ERR_FORMAT, "%s: a key contains a NUL byte", c->path);
    if (!(kv->key = arena_copy(g, ks, (size_t)klen))) return VTC_ERR_NOMEM;
    const char *key = kv->key;
    uint32_t type = 0;
    if ((st = take_u32(c, &type, key))) return st;
    if (type >= VTC_GGUF_TYPE_COUNT)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: unknown value type %u", c->path, key, type);
    kv->type = (int)type;
    kv->arr_type = -1;
    if (type == VTC_GGUF_STRING) {
        const uint8_t *s;
        uint64_t len = 0;
        if ((st = take_str(c, &s, &len, key))) return st;
        kv->str_len = (size_t)len;
        return (kv->str = arena_copy(g, s, (size_t)len)) ? VTC_OK : VTC_ERR_NOMEM;
    }
    if (type != VTC_GGUF_ARRAY) {
        kv->raw = c->p;
        return take(c, NULL, KV_SIZE[type], key);
    }
    const uint8_t *start = c->p;
    uint32_t et = 0;
    if ((st = skip_array(c, 0, key, &et, &kv->count))) return st;
    kv->arr_type = (int)et;
    kv->raw = start + 12;
    if (et != VTC_GGUF_STRING) return VTC_OK;
    // Strings of a top-level array are copied for O(1) access. skip_array
    // validated them, and bounded count by the file size.
    kv->strs = vtc_alloc((size_t)kv->count ? (size_t)kv->count : 1, sizeof *kv->strs);
    if (!kv->strs) return VTC_ERR_NOMEM;
    struct cursor w = { kv->raw, (size_t)(c->p - kv->raw), c->path };
    for (uint64_t i = 0; i < kv->count; i++) {
        const uint8_t *s;
        uint64_t len = 0;
        if ((st = take_str(&w, &s, &len, key))) return st;
        if (!(kv->strs[i] = arena_copy(g, s, (size_t)len))) return VTC_ERR_NOMEM;
    }
    return VTC_OK;
}

// Reads a KV as a signed integer when its type is an integer type.
static int kv_int(const struct kv *kv, int64_t *out) {
    const uint8_t *p = kv->raw;
    switch (kv->type) {
    case VTC_GGUF_U8: *out = p[0]; return 0;
    case VTC_GGUF_I8: *out = (int8_t)p[0]; return 0;
    case VTC_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case VTC_GGUF_I16: { int16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case VTC_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case VTC_GGUF_I32: { int32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case VTC_GGUF_I64: { int64_t v; memcpy(&v, p, 8); *out = v; return 0; }
    case VTC_GGUF_U64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > INT64_MAX) return -2;
        *out = (int64_t)v;
        return 0;
    }
    default: return -1;
    }
}

static int parse_alignment(vtc_gguf *g) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int i = vtc_name_index_find(&g->kv_ix, "general.alignment");
    if (i < 0) return VTC_OK;
    int64_t a;
    if (kv_int(&g->kv[i], &a) || a <= 0 || a > GGUF_MAX_ALIGNMENT || (a & (a - 1)))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: general.alignment must be a power of two integer <= 2^30", g->path);
    g->alignment = (uint32_t)a;
    return VTC_OK;
}

static int parse_tensor_info(vtc_gguf *g, struct cursor *c, int idx, uint64_t *offset) {
    vtc_tensor_view *v = &g->t[idx];
    const uint8_t *ns = NULL;
    uint64_t nlen = 0;
    int st = take_str(c, &ns, &nlen, "tensor name");
    if (st) return st;
    if (has_nul(ns, nlen)) return vtc_set_error(VTC_ERR_FORMAT, "%s: tensor %d: name contains a NUL byte", c->path, idx);
    if (!(v->name = arena_copy(g, ns, (size_t)nlen))) return VTC_ERR_NOMEM;
    const char *name = v->name;
    uint32_t n_dims = 0, type = 0;
    if ((st = take_u32(c, &n_dims, name))) return st;
    if (n_dims > GGUF_MAX_DIMS)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: %u dimensions (GGUF allows %d)", c->path, name, n_dims,
                             GGUF_MAX_DIMS);
    uint64_t ne[GGUF_MAX_DIMS] = { 0 };
    for (uint32_t d = 0; d < n_dims; d++) {
        if ((st = take_u64(c, &ne[d], name))) return st;
        if (ne[d] > (uint64_t)INT64_MAX)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: ne[%u] = %llu is negative as int64", c->path, name, d,
                                 (unsigned long long)ne[d]);
    }
    if ((st = take_u32(c, &type, name)) || (st = take_u64(c, offset, name))) return st;
    const struct ggml_type_info *ti = ggml_type(type);
    if (!ti) return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: %s: unknown ggml type %u", c->path, name, type);
    g->ggml[idx] = (int)type;
    v->dtype = ti->dtype;
    v->n_dims = (int)n_dims;
    int has_zero = 0;
    for (uint32_t d = 0; d < n_dims; d++) {
        v->shape[d] = (int64_t)ne[n_dims - 1 - d];
        has_zero |= ne[d] == 0;
    }
    uint64_t row = n_dims ? ne[0] : 1;
    if (row % ti->blck)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: row of %llu elements is not a whole number of %s blocks (%u)",
                             c->path, name, (unsigned long long)row, ti->name, ti->blck);
    size_t nbytes = 0, numel = 1;
    if (!has_zero) {
        nbytes = (size_t)(row / ti->blck);
        int bad = vtc_mul_size(nbytes, ti->size, &nbytes);
        for (uint32_t d = 0; d < n_dims && !bad; d++) bad = vtc_mul_size(numel, (size_t)ne[d], &numel);
        for (uint32_t d = 1; d < n_dims && !bad; d++) bad = vtc_mul_size(nbytes, (size_t)ne[d], &nbytes);
        if (bad || numel > (size_t)INT64_MAX)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: element count or byte size overflows", c->path, name);
    }
    v->nbytes = nbytes;
    if (*offset % g->alignment)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: offset %llu is not a multiple of the alignment %u", c->path, name,
                             (unsigned long long)*offset, g->alignment);
    return VTC_OK;
}

static int gguf_parse(void *reader, const uint8_t *buf, size_t size) {
    vtc_gguf *g = reader;
    struct cursor c = { buf, size, g->path };
    uint8_t magic[4];
    int st = take(&c, magic, 4, "magic");
    if (st) return st;
    if (memcmp(magic, "GGUF", 4)) return vtc_set_error(VTC_ERR_FORMAT, "%s: not a GGUF file (bad magic)", g->path);
    if ((st = take_u32(&c, &g->version, "version"))) return st;
    if (g->version == 1)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: GGUF version 1 (vtc reads versions 2 and 3)", g->path);
    if (g->version != 2 && g->version != 3)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: GGUF version %u%s (vtc reads versions 2 and 3)", g->path,
                             g->version, (g->version & 0xffff) == 0 ? ", big-endian?" : "");
    uint64_t n_tensors = 0, n_kv = 0;
    if ((st = take_u64(&c, &n_tensors, "tensor count")) || (st = take_u64(&c, &n_kv, "key-value count"))) return st;
    // Smallest possible entries: a KV is 8 (key length) + 4 (type) + 1 byte;
    // a tensor info 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset).
    if (n_kv > c.left / 13 || n_tensors > c.left / 24 || n_kv * 13 + n_tensors * 24 > c.left)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %llu tensors and %llu key-values cannot fit in the %zu bytes left",
                             g->path, (unsigned long long)n_tensors, (unsigned long long)n_kv, c.left);
    if (n_kv > INT_MAX / 2 || n_tensors > INT_MAX / 2)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: too many tensors or key-values", g->path);

    g->kv = vtc_zalloc((size_t)n_kv, sizeof *g->kv);
    g->t = vtc_zalloc((size_t)n_tensors, sizeof *g->t);
    g->ggml = vtc_zalloc((size_t)n_tensors, sizeof *g->ggml);
    if (!g->kv || !g->t || !g->ggml || vtc_name_index_init(&g->kv_ix, (size_t)n_kv) ||
        vtc_name_index_init(&g->t_ix, (size_t)n_tensors))
        return VTC_ERR_NOMEM;
    for (uint64_t i = 0; i < n_kv; i++) {
        struct kv *kv = &g->kv[g->n_kv];
        // Count it before parsing: a half-parsed KV may own an array to free.
        g->n_kv++;
        if ((st = parse_kv(g, &c, kv))) return st;
        if (vtc_name_index_add(&g->kv_ix, kv->key, (int)i) != -1)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: duplicate key", g->path, kv->key);
    }
    if ((st = parse_alignment(g))) return st;

    uint64_t *offsets = vtc_alloc((size_t)n_tensors, sizeof *offsets);
    if (!offsets) return VTC_ERR_NOMEM;
    for (uint64_t i = 0; i < n_tensors && !st; i++) {
        st = parse_tensor_info(g, &c, (int)i, &offsets[i]);
        if (!st && vtc_name_index_add(&g->t_ix, g->t[i].name, (int)i) != -1)
            st = vtc_set_error(VTC_ERR_FORMAT, "%s: %s: duplicate tensor name", g->path, g->t[i].name);
        if (!st) g->n_tensors++;
    }
    if (!st) {
        // The data area starts at the next multiple of the alignment.
        size_t header = size - c.left, pad = (g->alignment - header % g->alignment) % g->alignment;
        size_t data_start = header + pad;
        size_t dsize = data_start <= size ? size - data_start : 0;
        for (int i = 0; i < g->n_tensors && !st; i++) {
            vtc_tensor_view *v = &g->t[i];
            if (offsets[i] > dsize || v->nbytes > dsize - offsets[i]) {
                st = vtc_set_error(VTC_ERR_FORMAT, "%s: %s: %zu bytes at offset %llu run past the end of the file",
                                   g->path, v->name, v->nbytes, (unsigned long long)offsets[i]);
                break;
            }
            v->data = buf + data_start + offsets[i];
        }
        if (!st) st = vtc_views_check_disjoint(g->path, g->t, offsets, g->n_tensors);
    }
    free(offsets);
    return st;
}

static void gguf_close(void *g) { vtc_gguf_close(g); }

static const vtc_reader_kind GGUF_READER = {
    "vtc_gguf", sizeof(vtc_gguf), offsetof(vtc_gguf, file), offsetof(vtc_gguf, path), gguf_parse, gguf_close,
};

int vtc_gguf_open_memory(const void *data, size_t size, vtc_gguf **out) {
    return vtc_reader_open_memory(&GGUF_READER, data, size, (void **)out);
}

int vtc_gguf_open(const char *path, int use_mmap, vtc_gguf **out) {
    return vtc_reader_open(&GGUF_READER, path, use_mmap, (void **)out);
}

void vtc_gguf_close(vtc_gguf *g) {
    if (!g) return;
    for (int i = 0; i < g->n_kv; i++) free(g->kv[i].strs);
    for (struct chunk *c = g->strings, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    vtc_name_index_free(&g->kv_ix);
    vtc_name_index_free(&g->t_ix);
    vtc_file_close(&g->file);
    free(g->kv);
    free(g->t);
    free(g->ggml);
    free(g->path);
    free(g);
}

uint32_t vtc_gguf_version(const vtc_gguf *g) { return g ? g->version : 0; }
uint32_t vtc_gguf_alignment(const vtc_gguf *g) { return g ? g->alignment : 0; }
const char *vtc_gguf_path(const vtc_gguf *g) { return g ? g->path : NULL; }

// ---------------------------------------------------------------- key-values

int vtc_gguf_count_kv(const vtc_gguf *g) { return g ? g->n_kv : 0; }

int vtc_gguf_find_key(const vtc_gguf *g, const char *key) {
    return g && key ? vtc_name_index_find(&g->kv_ix, key) : -1;
}

static const struct kv *kv_at(const vtc_gguf *g, int i) { return g && i >= 0 && i < g->n_kv ? &g->kv[i] : NULL; }

const char *vtc_gguf_key(const vtc_gguf *g, int i) {
    const struct kv *kv = kv_at(g, i);
    return kv ? kv->key : NULL;
}

int vtc_gguf_kv_type(const vtc_gguf *g, int i) {
    const struct kv *kv = kv_at(g, i);
    return kv ? kv->type : -1;
}

int vtc_gguf_kv_arr_type(const vtc_gguf *g, int i) {
    const struct kv *kv = kv_at(g, i);
    return kv ? kv->arr_type : -1;
}

int64_t vtc_gguf_kv_arr_count(const vtc_gguf *g, int i) {
    const struct kv *kv = kv_at(g, i);
    return kv && kv->type == VTC_GGUF_ARRAY ? (int64_t)kv->count : -1;
}

// Element i of a fixed-size numeric array (or a scalar when raw points at it) as double.
static double num_at(int type, const uint8_t *p) {
    struct kv tmp = { .type = type, .raw = p };
    int64_t v;
    if (kv_int(&tmp, &v) == 0) return (double)v;
    if (type == VTC_GGUF_U64) { // above INT64_MAX
        uint64_t u;
        memcpy(&u, p, 8);
        return (double)u;
    }
    if (type == VTC_GGUF_F32) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    if (type == VTC_GGUF_F64) {
        double d;
        memcpy(&d, p, 8);
        return d;
    }
    return p[0] != 0; // bool
}

struct out {
    char *buf;
    size_t cap, len;
};

static void out_printf(struct out *o, const char *fmt, ...) VTC_PRINTF(2, 3);
static void out_printf(struct out *o, const char *fmt, ...) {
    if (o->len >= o->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    o->len = n < 0 ? o->cap : o->len + (size_t)n;
}

static void out_scalar(struct out *o, int type, const uint8_t *p) {
    if (type == VTC_GGUF_BOOL)
        out_printf(o, "%s", p[0] ? "true" : "false");
    else if (type == VTC_GGUF_F32 || type == VTC_GGUF_F64)
        out_printf(o, "%.9g", num_at(type, p));
    else if (type == VTC_GGUF_U64) {
        uint64_t u;
        memcpy(&u, p, 8);
        out_printf(o, "%llu", (unsigned long long)u);
    } else {
        struct kv tmp = { .type = type, .raw = p };
        int64_t v = 0;
        kv_int(&tmp, &v);
        out_printf(o, "%lld", (long long)v);
    }
}

static void out_string(struct out *o, const char *s, size_t len) {
    out_printf(o, "\"");
    for (size_t i = 0; i < len && i < 64; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') out_printf(o, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f) out_printf(o, "\\x%02x", ch);
        else out_printf(o, "%c", ch);
    }
    out_printf(o, len > 64 ? "...\"" : "\"");
}

int vtc_gguf_kv_format(const vtc_gguf *g, int i, char *buf, size_t cap) {
    const struct kv *kv = kv_at(g, i);
    if (!kv || !buf || cap == 0) return vtc_set_error(VTC_ERR_ARG, "vtc_gguf_kv_format: bad argument");
    struct out o = { buf, cap, 0 };
    buf[0] = '\0';
    if (kv->type == VTC_GGUF_STRING) {
        out_string(&o, kv->str, kv->str_len);
    } else if (kv->type != VTC_GGUF_ARRAY) {
        out_scalar(&o, kv->type, kv->raw);
    } else {
        out_printf(&o, "[%llu x %s]", (unsigned long long)kv->count, KV_NAME[kv->arr_type]);
        uint64_t show = kv->count < 8 ? kv->count : 8;
        if (kv->arr_type != VTC_GGUF_ARRAY && show) {
            out_printf(&o, " {");
            for (uint64_t k = 0; k < show; k++) {
                if (k) out_printf(&o, ", ");
                if (kv->arr_type == VTC_GGUF_STRING)
                    out_string(&o, kv->strs[k], strlen(kv->strs[k]));
                else
                    out_scalar(&o, kv->arr_type, kv->raw + k * KV_SIZE[kv->arr_type]);
            }
            out_printf(&o, kv->count > show ? ", ...}" : "}");
        }
    }
    if (o.len >= cap && cap >= 4) memcpy(buf + cap - 4, "...", 4);
    return VTC_OK;
}

static const struct kv *get(const vtc_gguf *g, const char *key, int *st) {
    int i = vtc_gguf_find_key(g, key);
    if (i < 0) {
        *st = vtc_set_error(VTC_ERR_FORMAT, "%s: key %s not found", g ? g->path : "gguf", key ? key : "(null)");
        return NULL;
    }
    *st = VTC_OK;
    return &g->kv[i];
}

static int wrong_type(const vtc_gguf *g, const struct kv *kv, const char *want) {
    if (kv->type == VTC_GGUF_ARRAY)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: is an array of %s, expected %s", g->path, kv->key,
                             KV_NAME[kv->arr_type], want);
    return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: is %s, expected %s", g->path, kv->key, KV_NAME[kv->type], want);
}

int vtc_gguf_get_int(const vtc_gguf *g, const char *key, int64_t *out) {
    int st;
    const struct kv *kv = get(g, key, &st);
    if (!kv) return st;
    int64_t v;
    int r = kv_int(kv, &v);
    if (r == -2) return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: value exceeds int64", g->path, key);
    if (r) return wrong_type(g, kv, "an integer");
    *out = v;
    return VTC_OK;
}

int vtc_gguf_get_float(const vtc_gguf *g, const char *key, double *out) {
    int st;
    const struct kv *kv = get(g, key, &st);
    if (!kv) return st;
    if (kv->type == VTC_GGUF_STRING || kv->type == VTC_GGUF_ARRAY || kv->type == VTC_GGUF_BOOL)
        return wrong_type(g, kv, "a number");
    *out = num_at(kv->type, kv->raw);
    return VTC_OK;
}

int vtc_gguf_get_bool(const vtc_gguf *g, const char *key, int *out) {
    int st;
    const struct kv *kv = get(g, key, &st);
    if (!kv) return st;
    int is_int = kv->type <= VTC_GGUF_I32 && kv->type != VTC_GGUF_F32;
    is_int |= kv->type == VTC_GGUF_U64 || kv->type == VTC_GGUF_I64;
    if (kv->type != VTC_GGUF_BOOL && !is_int) return wrong_type(g, kv, "a bool");
    int nonzero = 0; // an integer is nonzero iff one of its bytes is
    for (size_t k = 0; k < KV_SIZE[kv->type]; k++) nonzero |= kv->raw[k] != 0;
    *out = nonzero;
    return VTC_OK;
}

int vtc_gguf_get_str_len(const vtc_gguf *g, const char *key, const char **out, size_t *len) {
    int st;
    const struct kv *kv = get(g, key, &st);
    if (!kv) return st;
    if (kv->type != VTC_GGUF_STRING) return wrong_type(g, kv, "a string");
    if (out) *out = kv->str;
    if (len) *len = kv->str_len;
    return VTC_OK;
}

int vtc_gguf_get_str(const vtc_gguf *g, const char *key, const char **out) {
    return vtc_gguf_get_str_len(g, key, out, NULL);
}

// The array under key, checked to hold numbers (ints_only: integers) and to fit an int count.
static const struct kv *get_num_array(const vtc_gguf *g, const char *key, int ints_only, int max, void *out,
                                      int *st) {
    const struct kv *kv = get(g, key, st);
    if (!kv) return NULL;
    int et = kv->arr_type;
    int ok = kv->type == VTC_GGUF_ARRAY && et != VTC_GGUF_STRING && et != VTC_GGUF_ARRAY && et != VTC_GGUF_BOOL &&
             (!ints_only || (et != VTC_GGUF_F32 && et != VTC_GGUF_F64));
    if (!ok) {
        *st = kv->type == VTC_GGUF_ARRAY
                  ? vtc_set_error(VTC_ERR_FORMAT, "%s: %s: is an array of %s, expected an array of %s", g->path, key,
                                  KV_NAME[et], ints_only ? "integers" : "numbers")
                  : wrong_type(g, kv, "an array");
        return NULL;
    }
    if (kv->count > INT_MAX) {
        *st = vtc_set_error(VTC_ERR_LIMIT, "%s: %s: array of %llu elements", g->path, key,
                            (unsigned long long)kv->count);
        return NULL;
    }
    if (max < 0 || (max > 0 && !out)) {
        *st = vtc_set_error(VTC_ERR_ARG, "%s: %s: bad output buffer", g->path, key);
        return NULL;
    }
    return kv;
}

// vtc_gguf_get_arr_f32 (out is float *) and, ints_only, vtc_gguf_get_arr_i32 (out is int32_t *).
static int get_arr(const vtc_gguf *g, const char *key, int ints_only, void *out, int max, int *n) {
    int st;
    const struct kv *kv = get_num_array(g, key, ints_only, max, out, &st);
    if (!kv) return st;
    size_t es = KV_SIZE[kv->arr_type];
    for (uint64_t i = 0; i < kv->count && i < (uint64_t)max; i++) {
        if (!ints_only) {
            ((float *)out)[i] = (float)num_at(kv->arr_type, kv->raw + i * es);
            continue;
        }
        struct kv tmp = { .type = kv->arr_type, .raw = kv->raw + i * es };
        int64_t v;
        if (kv_int(&tmp, &v) || v < INT32_MIN || v > INT32_MAX)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: element %llu does not fit in int32", g->path, key,
                                 (unsigned long long)i);
        ((int32_t *)out)[i] = (int32_t)v;
    }
    if (n) *n = (int)kv->count;
    return VTC_OK;
}

int vtc_gguf_get_arr_f32(const vtc_gguf *g, const char *key, float *out, int max, int *n) {
    return get_arr(g, key, 0, out, max, n);
}

int vtc_gguf_get_arr_i32(const vtc_gguf *g, const char *key, int32_t *out, int max, int *n) {
    return get_arr(g, key, 1, out, max, n);
}

int vtc_gguf_get_arr_str(const vtc_gguf *g, const char *key, int64_t i, const char **out) {
    int st;
    const struct kv *kv = get(g, key, &st);
    if (!kv) return st;
    if (kv->type != VTC_GGUF_ARRAY || kv->arr_type != VTC_GGUF_STRING) return wrong_type(g, kv, "an array of strings");
    if (i < 0 || (uint64_t)i >= kv->count)
        return vtc_set_error(VTC_ERR_ARG, "%s: %s: index %lld out of range (%llu strings)", g->path, key, (long long)i,
                             (unsigned long long)kv->count);
    *out = kv->strs[i];
    return VTC_OK;
}

// ---------------------------------------------------------------- tensors

int vtc_gguf_count_tensors(const vtc_gguf *g) { return g ? g->n_tensors : 0; }

const vtc_tensor_view *vtc_gguf_tensor(const vtc_gguf *g, int i) {
    return g && i >= 0 && i < g->n_tensors ? &g->t[i] : NULL;
}

int vtc_gguf_find_tensor_index(const vtc_gguf *g, const char *name) {
    return g && name ? vtc_name_index_find(&g->t_ix, name) : -1;
}

const vtc_tensor_view *vtc_gguf_find_tensor(const vtc_gguf *g, const char *name) {
    int i = vtc_gguf_find_tensor_index(g, name);
    return i >= 0 ? &g->t[i] : NULL;
}

int vtc_gguf_tensor_type(const vtc_gguf *g, int i) { return g && i >= 0 && i < g->n_tensors ? g->ggml[i] : -1; }
