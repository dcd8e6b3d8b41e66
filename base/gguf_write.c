// GGUF writer (gguf.h): key-values serialised as they are set, tensors
// referenced until the write, which streams them (F16 converted in chunks)
// into an atomic output file.
#include "gguf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "mapfile.h"

#define GGUF_VERSION 3u
#define GGUF_ALIGN 32u
#define GGUF_MAX_DIMS 4
#define CHUNK_FLOATS 65536

struct wtensor {
    char *name;
    int type, n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; // ggml order: ne[0] is the innermost (row-major shape reversed)
    uint64_t numel, nbytes;
    const float *data;
};

struct vtc_gguf_writer {
    uint8_t *kv;           // the serialised key-values
    size_t kv_len, kv_cap;
    int n_kv;
    char **keys;           // [n_kv]
    int keys_cap;
    struct wtensor *t;
    int n, cap;
};

vtc_gguf_writer *vtc_gguf_writer_new(void) { return vtc_zalloc(1, sizeof(vtc_gguf_writer)); }

void vtc_gguf_writer_free(vtc_gguf_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    free(w->keys);
    free(w->kv);
    free(w->t);
    free(w);
}

// ---------------------------------------------------------------- key-values

static int put(vtc_gguf_writer *w, const void *p, size_t n) {
    if (w->kv_cap - w->kv_len < n) {
        size_t cap = w->kv_cap ? w->kv_cap : 1024;
        while (cap - w->kv_len < n) {
            if (cap > SIZE_MAX / 2) return vtc_set_error(VTC_ERR_NOMEM, "gguf writer: header too large");
            cap *= 2;
        }
        uint8_t *grown = realloc(w->kv, cap);
        if (!grown) return vtc_set_error(VTC_ERR_NOMEM, "gguf writer: out of memory");
        w->kv = grown;
        w->kv_cap = cap;
    }
    if (n) memcpy(w->kv + w->kv_len, p, n); // an empty array passes no data
    w->kv_len += n;
    return 0;
}

static int put_u32(vtc_gguf_writer *w, uint32_t v) { return put(w, &v, 4); }
static int put_u64(vtc_gguf_writer *w, uint64_t v) { return put(w, &v, 8); }
static int put_str(vtc_gguf_writer *w, const char *s) {
    size_t n = strlen(s);
    int st = put_u64(w, n);
    return st ? st : put(w, s, n);
}

// Checks the key and registers it, then writes the key and its type. On any
// failure the serialised bytes are as before.
static int begin_kv(vtc_gguf_writer *w, const char *key, uint32_t type, size_t *mark) {
    if (!w) return vtc_set_error(VTC_ERR_ARG, "gguf writer: NULL writer");
    *mark = w->kv_len;
    if (!key || !key[0]) return vtc_set_error(VTC_ERR_ARG, "gguf writer: NULL or empty key");
    for (int i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return vtc_set_error(VTC_ERR_ARG, "gguf writer: key %s set twice", key);
    if (w->n_kv == w->keys_cap) {
        int cap = w->keys_cap ? 2 * w->keys_cap : 32;
        char **grown = realloc(w->keys, (size_t)cap * sizeof *grown);
        if (!grown) return vtc_set_error(VTC_ERR_NOMEM, "gguf writer: out of memory");
        w->keys = grown;
        w->keys_cap = cap;
    }
    int st = put_str(w, key);
    if (!st) st = put_u32(w, type);
    return st;
}

// Registers the key once its value is written; rolls back otherwise.
static int end_kv(vtc_gguf_writer *w, const char *key, size_t mark, int st) {
    char *copy = st ? NULL : strdup(key);
    if (!st && !copy) st = vtc_set_error(VTC_ERR_NOMEM, "gguf writer: out of memory");
    if (st) {
        w->kv_len = mark;
        return st;
    }
    w->keys[w->n_kv++] = copy;
    return 0;
}

int vtc_gguf_writer_str(vtc_gguf_writer *w, const char *key, const char *value) {
    size_t mark = 0;
    if (!value) return vtc_set_error(VTC_ERR_ARG, "gguf writer: NULL value");
    int st = begin_kv(w, key, VTC_GGUF_STRING, &mark);
    if (!st) st = put_str(w, value);
    return w ? end_kv(w, key, mark, st) : st;
}

// One fixed-size scalar value of `type`.
static int scalar(vtc_gguf_writer *w, const char *key, uint32_t type, const void *v, size_t n) {
    size_t mark = 0;
    int st = begin_kv(w, key, type, &mark);
    if (!st) st = put(w, v, n);
    return w ? end_kv(w, key, mark, st) : st;
}

int vtc_gguf_writer_u32(vtc_gguf_writer *w, const char *key, uint32_t value) {
    return scalar(w, key, VTC_GGUF_U32, &value, 4);
}
int vtc_gguf_writer_f32(vtc_gguf_writer *w, const char *key, float value) {
    return scalar(w, key, VTC_GGUF_F32, &value, 4);
}
int vtc_gguf_writer_bool(vtc_gguf_writer *w, const char *key, int value) {
    uint8_t b = value != 0;
    return scalar(w, key, VTC_GGUF_BOOL, &b, 1);
}

// An array of n fixed-size elements of `type` (4 bytes each).
static int array4(vtc_gguf_writer *w, const char *key, uint32_t type, const void *values, int64_t n) {
    size_t mark = 0;
    if (n < 0 || (n > 0 && !values) || (uint64_t)n > SIZE_MAX / 4)
        return vtc_set_error(VTC_ERR_ARG, "gguf writer: %s: bad array", key ? key : "?");
    int st = begin_kv(w, key, VTC_GGUF_ARRAY, &mark);
    if (!st) st = put_u32(w, type);
    if (!st) st = put_u64(w, (uint64_t)n);
    if (!st) st = put(w, values, (size_t)n * 4);
    return w ? end_kv(w, key, mark, st) : st;
}

int vtc_gguf_writer_arr_f32(vtc_gguf_writer *w, const char *key, const float *values, int64_t n) {
    return array4(w, key, VTC_GGUF_F32, values, n);
}
int vtc_gguf_writer_arr_i32(vtc_gguf_writer *w, const char *key, const int32_t *values, int64_t n) {
    return array4(w, key, VTC_GGUF_I32, values, n);
}

int vtc_gguf_writer_arr_str(vtc_gguf_writer *w, const char *key, const char *const *values, int64_t n) {
    size_t mark = 0;
    if (n < 0 || (n > 0 && !values)) return vtc_set_error(VTC_ERR_ARG, "gguf writer: %s: bad array", key ? key : "?");
    for (int64_t i = 0; i < n; i++)
        if (!values[i]) return vtc_set_error(VTC_ERR_ARG, "gguf writer: %s: NULL string %lld", key, (long long)i);
    int st = begin_kv(w, key, VTC_GGUF_ARRAY, &mark);
    if (!st) st = put_u32(w, VTC_GGUF_STRING);
    if (!st) st = put_u64(w, (uint64_t)n);
    for (int64_t i = 0; i < n && !st; i++) st = put_str(w, values[i]);
    return w ? end_kv(w, key, mark, st) : st;
}

// ---------------------------------------------------------------- tensors

int vtc_gguf_writer_tensor(vtc_gguf_writer *w, const char *name, int ggml_type, int n_dims, const int64_t *shape,
                           const float *data) {
    if (!w || !name || !name[0] || !shape || !data)
        return vtc_set_error(VTC_ERR_ARG, "gguf writer: tensor: NULL argument or empty name");
    if (ggml_type != 0 && ggml_type != 1)
        return vtc_set_error(VTC_ERR_ARG, "gguf writer: tensor %s: type %d (F32 or F16 only)", name, ggml_type);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return vtc_set_error(VTC_ERR_ARG, "gguf writer: tensor %s: %d dimensions", name, n_dims);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) return vtc_set_error(VTC_ERR_ARG, "gguf writer: tensor %s added twice", name);
    struct wtensor t = { .type = ggml_type, .n_dims = n_dims, .data = data };
    size_t numel = 1;
    for (int d = 0; d < n_dims; d++) {
        if (shape[d] < 1 || vtc_mul_size(numel, (size_t)shape[d], &numel) || numel > ((size_t)1 << 48))
            return vtc_set_error(VTC_ERR_ARG, "gguf writer: tensor %s: bad shape", name);
        t.ne[n_dims - 1 - d] = (uint64_t)shape[d];
    }
    t.numel = numel;
    t.nbytes = numel * (ggml_type ? 2u : 4u);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        struct wtensor *grown = realloc(w->t, (size_t)cap * sizeof *grown);
        if (!grown) return vtc_set_error(VTC_ERR_NOMEM, "gguf writer: out of memory");
        w->t = grown;
        w->cap = cap;
    }
    if (!(t.name = strdup(name))) return vtc_set_error(VTC_ERR_NOMEM, "gguf writer: out of memory");
    w->t[w->n++] = t;
    return 0;
}

// ---------------------------------------------------------------- the file

static uint64_t align_up(uint64_t x) { return (x + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN; }

static int write_pad(vtc_atomic_file *af, uint64_t n) {
    static const uint8_t zeros[GGUF_ALIGN];
    return n ? vtc_atomic_write(af, zeros, (size_t)n) : 0;
}

// A tensor's data: F32 as it is, F16 converted chunk by chunk.
static int write_data(vtc_atomic_file *af, const struct wtensor *t, uint16_t *half) {
    if (t->type == 0) return vtc_atomic_write(af, t->data, (size_t)t->nbytes);
    for (uint64_t at = 0; at < t->numel; at += CHUNK_FLOATS) {
        size_t m = t->numel - at < CHUNK_FLOATS ? (size_t)(t->numel - at) : CHUNK_FLOATS;
        for (size_t i = 0; i < m; i++) {
            float x = t->data[at + i];
            half[i] = vtc_f32_to_f16(x);
            if (isfinite(x) && (half[i] & 0x7fff) == 0x7c00)
                return vtc_set_error(VTC_ERR_FORMAT, "tensor %s: element %llu (%g) is outside F16's range", t->name,
                                     (unsigned long long)(at + i), (double)x);
        }
        int st = vtc_atomic_write(af, half, m * sizeof *half);
        if (st) return st;
    }
    return 0;
}

int vtc_gguf_writer_write(const vtc_gguf_writer *w, const char *path) {
    if (!w || !path) return vtc_set_error(VTC_ERR_ARG, "vtc_gguf_writer_write: NULL argument");
    // the header: fixed part, key-values, tensor infos
    vtc_gguf_writer info = { 0 }; // a scratch buffer for the infos, through put()
    int st = 0;
    uint64_t offset = 0;
    for (int i = 0; i < w->n && !st; i++) {
        const struct wtensor *t = &w->t[i];
        st = put_str(&info, t->name);
        if (!st) st = put_u32(&info, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims && !st; d++) st = put_u64(&info, t->ne[d]);
        if (!st) st = put_u32(&info, (uint32_t)t->type);
        if (!st) st = put_u64(&info, offset);
        offset = align_up(offset + t->nbytes);
    }
    uint8_t fixed[24];
    uint32_t magic_version[2] = { 0, GGUF_VERSION };
    memcpy(&magic_version[0], "GGUF", 4);
    uint64_t counts[2] = { (uint64_t)w->n, (uint64_t)w->n_kv };
    memcpy(fixed, magic_version, 8);
    memcpy(fixed + 8, counts, 16);
    uint16_t *half = st ? NULL : vtc_alloc(CHUNK_FLOATS, sizeof *half);
    vtc_atomic_file af;
    if (!st && !half) st = VTC_ERR_NOMEM;
    if (!st) st = vtc_atomic_open(path, &af);
    if (st) {
        free(info.kv);
        free(half);
        return st;
    }
    uint64_t header = sizeof fixed + w->kv_len + info.kv_len;
    st = vtc_atomic_write(&af, fixed, sizeof fixed);
    if (!st && w->kv_len) st = vtc_atomic_write(&af, w->kv, w->kv_len);
    if (!st && info.kv_len) st = vtc_atomic_write(&af, info.kv, info.kv_len);
    if (!st) st = write_pad(&af, align_up(header) - header);
    for (int i = 0; i < w->n && !st; i++) {
        st = write_data(&af, &w->t[i], half);
        if (!st) st = write_pad(&af, align_up(w->t[i].nbytes) - w->t[i].nbytes); // the last one too, as ggml
    }
    free(info.kv);
    free(half);
    if (st) {
        vtc_atomic_abort(&af);
        return st;
    }
    return vtc_atomic_commit(&af);
}
