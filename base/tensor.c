// Tensor views: dtype table, element conversion, and the name index the readers share.
#include "tensor.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vtc reads little-endian model files by memcpy; a big-endian host needs byte swaps here"
#endif

static const struct {
    const char *name;
    size_t size;
} DTYPES[VTC_DT_COUNT] = {
    [VTC_DT_F32] = { "F32", 4 },         [VTC_DT_F16] = { "F16", 2 },
    [VTC_DT_BF16] = { "BF16", 2 },       [VTC_DT_F64] = { "F64", 8 },
    [VTC_DT_I8] = { "I8", 1 },           [VTC_DT_U8] = { "U8", 1 },
    [VTC_DT_I16] = { "I16", 2 },         [VTC_DT_U16] = { "U16", 2 },
    [VTC_DT_I32] = { "I32", 4 },         [VTC_DT_U32] = { "U32", 4 },
    [VTC_DT_I64] = { "I64", 8 },         [VTC_DT_U64] = { "U64", 8 },
    [VTC_DT_BOOL] = { "BOOL", 1 },       [VTC_DT_F8_E4M3] = { "F8_E4M3", 1 },
    [VTC_DT_F8_E5M2] = { "F8_E5M2", 1 }, [VTC_DT_GGML_QUANT] = { "QUANT", 0 },
};

size_t vtc_dtype_size(int dtype) {
    return dtype >= 0 && dtype < VTC_DT_COUNT ? DTYPES[dtype].size : 0;
}

const char *vtc_dtype_name(int dtype) {
    return dtype >= 0 && dtype < VTC_DT_COUNT ? DTYPES[dtype].name : "?";
}

int vtc_dtype_from_name(const char *name, size_t len) {
    for (int d = 0; d < VTC_DT_COUNT; d++)
        if (d != VTC_DT_GGML_QUANT && strlen(DTYPES[d].name) == len && memcmp(DTYPES[d].name, name, len) == 0)
            return d;
    return -1;
}

int64_t vtc_tensor_numel(const vtc_tensor_view *t) {
    if (!t || t->n_dims < 0 || t->n_dims > VTC_TENSOR_MAX_DIMS) return -1;
    for (int i = 0; i < t->n_dims; i++) {
        if (t->shape[i] < 0) return -1;
        if (t->shape[i] == 0) return 0;
    }
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++) {
        if (n > INT64_MAX / t->shape[i]) return -1;
        n *= t->shape[i];
    }
    return n;
}

int vtc_tensor_to_f32(const vtc_tensor_view *t, float *dst, size_t n_elems) {
    if (!t || (!dst && n_elems)) return vtc_set_error(VTC_ERR_ARG, "vtc_tensor_to_f32: NULL argument");
    const char *name = t->name ? t->name : "tensor";
    int64_t numel = vtc_tensor_numel(t);
    if (numel < 0 || (uint64_t)numel != (uint64_t)n_elems)
        return vtc_set_error(VTC_ERR_ARG, "%s: holds %lld elements, caller expected %zu", name, (long long)numel,
                             n_elems);
    size_t esize = vtc_dtype_size(t->dtype), need;
    if (t->dtype != VTC_DT_F32 && t->dtype != VTC_DT_F16 && t->dtype != VTC_DT_BF16 && t->dtype != VTC_DT_F64)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: cannot convert dtype %s to F32", name,
                             vtc_dtype_name(t->dtype));
    if (vtc_mul_size(n_elems, esize, &need) || need != t->nbytes || (!t->data && need))
        return vtc_set_error(VTC_ERR_ARG, "%s: view is inconsistent (%zu bytes for %zu x %s)", name, t->nbytes,
                             n_elems, vtc_dtype_name(t->dtype));
    const uint8_t *src = t->data;
    switch (t->dtype) {
    case VTC_DT_F32:
        if (n_elems) memcpy(dst, src, need);
        break;
    case VTC_DT_F16:
    case VTC_DT_BF16: {
        float (*widen)(uint16_t) = t->dtype == VTC_DT_F16 ? vtc_f16_to_f32 : vtc_bf16_to_f32;
        for (size_t i = 0; i < n_elems; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = widen(h);
        }
        break;
    }
    default: // VTC_DT_F64
        for (size_t i = 0; i < n_elems; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        }
        break;
    }
    return VTC_OK;
}

struct span {
    uint64_t begin, end;
    int idx;
};

static int span_cmp(const void *a, const void *b) {
    const struct span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

int vtc_views_check_disjoint(const char *path, const vtc_tensor_view *t, const uint64_t *begin, int n) {
    struct span *s = vtc_alloc((size_t)n, sizeof *s);
    if (!s) return VTC_ERR_NOMEM;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (t[i].nbytes) s[m++] = (struct span){ begin[i], begin[i] + t[i].nbytes, i };
    qsort(s, (size_t)m, sizeof *s, span_cmp);
    int status = VTC_OK;
    for (int i = 1; i < m && !status; i++)
        if (s[i].begin < s[i - 1].end)
            status = vtc_set_error(VTC_ERR_FORMAT, "%s: %s: data overlaps tensor %s", path, t[s[i].idx].name,
                                   t[s[i - 1].idx].name);
    free(s);
    return status;
}

// ---------------------------------------------------------------- name index

struct vtc_name_slot {
    const char *name; // NULL: empty
    uint32_t hash;
    int idx;
};

static uint32_t hash_name(const char *s) {
    uint32_t h = 2166136261u; // FNV-1a
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int vtc_name_index_init(vtc_name_index *ix, size_t n) {
    memset(ix, 0, sizeof *ix);
    size_t slots = 8;
    while (slots < n * 2) {
        if (slots > SIZE_MAX / 4) return vtc_set_error(VTC_ERR_NOMEM, "name index of %zu entries overflows", n);
        slots *= 2;
    }
    ix->slots = vtc_zalloc(slots, sizeof *ix->slots);
    if (!ix->slots) return VTC_ERR_NOMEM;
    ix->mask = slots - 1;
    ix->cap = n;
    return VTC_OK;
}

int vtc_name_index_add(vtc_name_index *ix, const char *name, int idx) {
    uint32_t h = hash_name(name);
    for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        struct vtc_name_slot *s = &ix->slots[i];
        if (!s->name) {
            if (ix->count >= ix->cap) return -2;
            s->name = name;
            s->hash = h;
            s->idx = idx;
            ix->count++;
            return -1;
        }
        if (s->hash == h && strcmp(s->name, name) == 0) return s->idx;
    }
}

int vtc_name_index_find(const vtc_name_index *ix, const char *name) {
    if (!ix->slots || !name) return -1;
    uint32_t h = hash_name(name);
    for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        const struct vtc_name_slot *s = &ix->slots[i];
        if (!s->name) return -1;
        if (s->hash == h && strcmp(s->name, name) == 0) return s->idx;
    }
}

void vtc_name_index_free(vtc_name_index *ix) {
    free(ix->slots);
    memset(ix, 0, sizeof *ix);
}
