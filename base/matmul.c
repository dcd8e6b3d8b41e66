// bf16 matrix products on oneDNN's C API (base/matmul.h).
#include "matmul.h"

#include "common.h"

#include <dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// libgomp's (oneDNN's OpenMP runtime): declared here so no omp.h is needed.
extern int omp_get_max_threads(void);
extern void omp_set_num_threads(int n);

// ---------------------------------------------------------------- the engine

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t g_engine;
static dnnl_status_t g_engine_status;

static void engine_init(void) { g_engine_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0); }

static int engine(dnnl_engine_t *out) {
    pthread_once(&g_once, engine_init);
    if (g_engine_status != dnnl_success)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "oneDNN: cannot create the CPU engine (status %d)", (int)g_engine_status);
    *out = g_engine;
    return VTC_OK;
}

static int dnnl_fail(dnnl_status_t st, const char *what) {
    if (st == dnnl_out_of_memory) return vtc_set_error(VTC_ERR_NOMEM, "oneDNN: %s: out of memory", what);
    if (st == dnnl_unimplemented)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "oneDNN: %s: not implemented for this CPU (%s)", what, vtc_mm_isa());
    return vtc_set_error(VTC_ERR_INTERNAL, "oneDNN: %s failed (status %d)", what, (int)st);
}

const char *vtc_mm_isa(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
    }
}

int vtc_mm_bf16_native(void) {
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), bf16 = (unsigned)dnnl_cpu_isa_avx512_core_bf16;
    return (isa & bf16) == bf16; // AMX's mask contains AVX512-BF16's
}

// Buffers 64-byte aligned, from vtc_alloc (so allocation faults reach them).
static void *alloc_aligned(size_t bytes, void **raw) {
    size_t n;
    if (vtc_add_size(bytes, 64, &n)) {
        vtc_set_error(VTC_ERR_NOMEM, "oneDNN buffer of %zu bytes: size overflows", bytes);
        return NULL;
    }
    *raw = vtc_alloc(n, 1);
    if (!*raw) return NULL;
    return (void *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63);
}

// Runs prim on the calling thread alone with the given arguments.
static int execute(dnnl_primitive_t prim, int n_args, const dnnl_exec_arg_t *args, const char *what) {
    dnnl_engine_t eng = NULL;
    int st = engine(&eng);
    if (st) return st;
    dnnl_stream_t stream;
    dnnl_status_t ds = dnnl_stream_create(&stream, eng, dnnl_stream_default_flags);
    if (ds != dnnl_success) return dnnl_fail(ds, "stream");
    const int omp = omp_get_max_threads();
    if (omp != 1) omp_set_num_threads(1);
    ds = dnnl_primitive_execute(prim, stream, n_args, args);
    if (ds == dnnl_success) ds = dnnl_stream_wait(stream);
    if (omp != 1) omp_set_num_threads(omp);
    dnnl_stream_destroy(stream);
    return ds == dnnl_success ? VTC_OK : dnnl_fail(ds, what);
}

// n memory objects over the given descriptors and handles (NULL handle: none made).
static int make_memories(int n, const dnnl_memory_desc_t *const *mds, void *const *handles, dnnl_memory_t *mem) {
    dnnl_engine_t eng = NULL;
    int st = engine(&eng);
    for (int i = 0; i < n; i++) mem[i] = NULL;
    if (st) return st;
    for (int i = 0; i < n; i++) {
        if (!mds[i]) continue;
        dnnl_status_t ds = dnnl_memory_create(&mem[i], mds[i], eng, handles[i]);
        if (ds != dnnl_success) {
            for (int j = 0; j < i; j++)
                if (mem[j]) dnnl_memory_destroy(mem[j]);
            return dnnl_fail(ds, "memory");
        }
    }
    return VTC_OK;
}

static void free_memories(int n, dnnl_memory_t *mem) {
    for (int i = 0; i < n; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
}

static void md_2d(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, dnnl_data_type_t dt, int64_t rs, int64_t cs) {
    dnnl_dims_t dims = { rows, cols }, strides = { rs, cs };
    dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

// ---------------------------------------------------------------- packed weights

struct vtc_mm_weight {
    const float *src;        // the f32 original (the lookup key)
    int out, in;
    dnnl_memory_desc_t md;   // weights (K = in, N = out) in oneDNN's layout for the kernel
    void *data, *raw;
};

struct vtc_mm_pack {
    vtc_mm_weight *w;        // sorted by src
    int n, cap;
    size_t bytes;
};

vtc_mm_pack *vtc_mm_pack_new(void) { return vtc_zalloc(1, sizeof(vtc_mm_pack)); }

void vtc_mm_pack_free(vtc_mm_pack *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->w[i].raw);
    free(p->w);
    free(p);
}

size_t vtc_mm_pack_bytes(const vtc_mm_pack *p) { return p ? p->bytes : 0; }

static int find_index(const vtc_mm_pack *p, const float *w) {
    int lo = 0, hi = p->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if ((uintptr_t)p->w[mid].src < (uintptr_t)w) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

const vtc_mm_weight *vtc_mm_pack_find(const vtc_mm_pack *p, const float *w) {
    if (!p || !w) return NULL;
    int i = find_index(p, w);
    return i < p->n && p->w[i].src == w ? &p->w[i] : NULL;
}

// The weights layout oneDNN's bf16 matmul prefers for (m, in) x (in, out).
static int preferred_layout(int m, int in, int out, dnnl_memory_desc_t *md) {
    dnnl_engine_t eng = NULL;
    int st = engine(&eng);
    if (st) return st;
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t db = { in, out };
    md_2d(&a, m, in, dnnl_bf16, in, 1);
    dnnl_memory_desc_init_by_tag(&b, 2, db, dnnl_bf16, dnnl_format_tag_any);
    md_2d(&c, m, out, dnnl_f32, out, 1);
    dnnl_matmul_desc_t op;
    dnnl_primitive_desc_t pd;
    dnnl_status_t ds = dnnl_matmul_desc_init(&op, &a, &b, NULL, &c);
    if (ds == dnnl_success) ds = dnnl_primitive_desc_create(&pd, &op, NULL, eng, NULL);
    if (ds != dnnl_success) return dnnl_fail(ds, "bf16 matmul");
    *md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    return VTC_OK;
}

// Converts f32 (from_md over from) into to_md over to with a reorder primitive.
static int reorder(const dnnl_memory_desc_t *from_md, const void *from, const dnnl_memory_desc_t *to_md, void *to,
                   const char *what) {
    dnnl_engine_t eng = NULL;
    int st = engine(&eng);
    if (st) return st;
    dnnl_primitive_desc_t pd;
    dnnl_status_t ds = dnnl_reorder_primitive_desc_create(&pd, from_md, eng, to_md, eng, NULL);
    if (ds != dnnl_success) return dnnl_fail(ds, what);
    dnnl_primitive_t prim;
    ds = dnnl_primitive_create(&prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (ds != dnnl_success) return dnnl_fail(ds, what);
    dnnl_memory_t mem[2];
    const dnnl_memory_desc_t *mds[2] = { from_md, to_md };
    void *handles[2] = { (void *)from, to };
    st = make_memories(2, mds, handles, mem);
    if (!st) {
        dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, mem[0] }, { DNNL_ARG_TO, mem[1] } };
        st = execute(prim, 2, args, what);
        free_memories(2, mem);
    }
    dnnl_primitive_destroy(prim);
    return st;
}

int vtc_mm_pack_add(vtc_mm_pack *p, const float *w, int out, int in, int m_hint) {
    if (out < 1 || in < 1 || m_hint < 1) return vtc_set_error(VTC_ERR_ARG, "bf16 pack: bad shape %dx%d", out, in);
    int at = find_index(p, w);
    if (at < p->n && p->w[at].src == w) return VTC_OK;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        vtc_mm_weight *g = vtc_realloc(p->w, (size_t)cap, sizeof *g);
        if (!g) return VTC_ERR_NOMEM;
        p->w = g;
        p->cap = cap;
    }
    vtc_mm_weight x = { .src = w, .out = out, .in = in };
    int st = preferred_layout(m_hint, in, out, &x.md);
    if (st) return st;
    const size_t bytes = dnnl_memory_desc_get_size(&x.md);
    x.data = alloc_aligned(bytes, &x.raw);
    if (!x.data) return VTC_ERR_NOMEM;
    // W (out, in) row-major is the (in, out) weights matrix with strides (1, in)
    dnnl_memory_desc_t from;
    md_2d(&from, in, out, dnnl_f32, 1, in);
    st = reorder(&from, w, &x.md, x.data, "bf16 weight reorder");
    if (st) {
        free(x.raw);
        return st;
    }
    memmove(p->w + at + 1, p->w + at, sizeof *p->w * (size_t)(p->n - at));
    p->w[at] = x;
    p->n++;
    p->bytes += bytes;
    return VTC_OK;
}

// ---------------------------------------------------------------- the primitive cache

enum { KIND_LINEAR, KIND_MATMUL, KIND_TO_BF16 };

// What identifies a primitive: its kind and every number its descriptors hold.
struct key {
    int kind, bias, accumulate;
    float alpha;
    int64_t m, n, k;
    int64_t s[6];               // strides: a (rs, cs), b (rs, cs), c/y row strides
    dnnl_memory_desc_t wmd;     // KIND_LINEAR: the packed weights' layout
};

struct entry {
    struct key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t md[4];   // src, weights, dst, scratchpad (bias: md[4] below)
    dnnl_memory_desc_t bias_md;
    size_t scratch_bytes;
};

// A buffer lent to one call at a time (scratchpads, converted sources).
struct buffer { void *raw, *p; size_t cap; int busy; };

struct vtc_mm {
    pthread_mutex_t lock;
    struct entry *e;
    int n, cap;
    struct buffer *buf;
    int n_buf, cap_buf;
};

vtc_mm *vtc_mm_new(void) {
    vtc_mm *e = vtc_zalloc(1, sizeof *e);
    if (!e) return NULL;
    e->cap_buf = 256; // two or three per call in flight
    e->buf = vtc_zalloc((size_t)e->cap_buf, sizeof *e->buf);
    if (!e->buf) {
        free(e);
        return NULL;
    }
    if (pthread_mutex_init(&e->lock, NULL)) {
        free(e->buf);
        free(e);
        vtc_set_error(VTC_ERR_NOMEM, "bf16 engine: cannot create a mutex");
        return NULL;
    }
    return e;
}

void vtc_mm_free(vtc_mm *e) {
    if (!e) return;
    for (int i = 0; i < e->n; i++) dnnl_primitive_destroy(e->e[i].prim);
    for (int i = 0; i < e->n_buf; i++) free(e->buf[i].raw);
    free(e->e);
    free(e->buf);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static int key_eq(const struct key *a, const struct key *b) {
    return a->kind == b->kind && a->bias == b->bias && a->accumulate == b->accumulate && a->alpha == b->alpha &&
           a->m == b->m && a->n == b->n && a->k == b->k && !memcmp(a->s, b->s, sizeof a->s) &&
           (a->kind != KIND_LINEAR || dnnl_memory_desc_equal(&a->wmd, &b->wmd));
}

// Builds the primitive for key (the descriptors from it); VTC_OK with *out filled.
static int build(const struct key *k, struct entry *out) {
    dnnl_engine_t eng = NULL;
    int st = engine(&eng);
    if (st) return st;
    memset(out, 0, sizeof *out);
    out->key = *k;
    dnnl_primitive_attr_t attr;
    dnnl_status_t ds = dnnl_primitive_attr_create(&attr);
    if (ds != dnnl_success) return dnnl_fail(ds, "primitive attributes");
    dnnl_primitive_desc_t pd = NULL;
    ds = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    const char *what = k->kind == KIND_TO_BF16 ? "f32 -> bf16 reorder" : "bf16 matmul";
    if (ds == dnnl_success && k->kind == KIND_TO_BF16) {
        md_2d(&out->md[0], k->m, k->n, dnnl_f32, k->s[0], 1);
        md_2d(&out->md[2], k->m, k->n, dnnl_bf16, k->s[4], 1);
        ds = dnnl_reorder_primitive_desc_create(&pd, &out->md[0], eng, &out->md[2], eng, attr);
    } else if (ds == dnnl_success) {
        if (k->kind == KIND_LINEAR) {
            md_2d(&out->md[0], k->m, k->k, dnnl_bf16, k->k, 1);
            out->md[1] = k->wmd;
        } else {
            md_2d(&out->md[0], k->m, k->k, dnnl_bf16, k->s[0], k->s[1]);
            md_2d(&out->md[1], k->k, k->n, dnnl_bf16, k->s[2], k->s[3]);
        }
        md_2d(&out->md[2], k->m, k->n, dnnl_f32, k->s[4], 1);
        if (k->bias) md_2d(&out->bias_md, 1, k->n, dnnl_f32, k->n, 1);
        if (k->alpha != 1.0f) ds = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha);
        if (ds == dnnl_success && k->accumulate) {
            dnnl_post_ops_t po;
            ds = dnnl_post_ops_create(&po);
            if (ds == dnnl_success) {
                ds = dnnl_post_ops_append_sum(po, 1.0f);
                if (ds == dnnl_success) ds = dnnl_primitive_attr_set_post_ops(attr, po);
                dnnl_post_ops_destroy(po);
            }
        }
        dnnl_matmul_desc_t op;
        if (ds == dnnl_success)
            ds = dnnl_matmul_desc_init(&op, &out->md[0], &out->md[1], k->bias ? &out->bias_md : NULL, &out->md[2]);
        if (ds == dnnl_success) ds = dnnl_primitive_desc_create(&pd, &op, attr, eng, NULL);
    }
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return dnnl_fail(ds, what);
    out->md[3] = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    out->scratch_bytes = dnnl_memory_desc_get_size(&out->md[3]);
    ds = dnnl_primitive_create(&out->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    return ds == dnnl_success ? VTC_OK : dnnl_fail(ds, what);
}

// The cached primitive for key, built on first use. The entry is copied out
// (the array may move when another thread adds one).
static int lookup(vtc_mm *e, const struct key *k, struct entry *out) {
    pthread_mutex_lock(&e->lock);
    for (int i = 0; i < e->n; i++)
        if (key_eq(&e->e[i].key, k)) {
            *out = e->e[i];
            pthread_mutex_unlock(&e->lock);
            return VTC_OK;
        }
    pthread_mutex_unlock(&e->lock);
    struct entry fresh;
    int st = build(k, &fresh); // outside the lock: creation takes a while
    if (st) return st;
    pthread_mutex_lock(&e->lock);
    for (int i = 0; i < e->n; i++)
        if (key_eq(&e->e[i].key, k)) { // another thread built it meanwhile
            *out = e->e[i];
            pthread_mutex_unlock(&e->lock);
            dnnl_primitive_destroy(fresh.prim);
            return VTC_OK;
        }
    if (e->n == e->cap) {
        int cap = e->cap ? 2 * e->cap : 32;
        struct entry *g = vtc_realloc(e->e, (size_t)cap, sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&e->lock);
            dnnl_primitive_destroy(fresh.prim);
            return VTC_ERR_NOMEM;
        }
        e->e = g;
        e->cap = cap;
    }
    e->e[e->n++] = fresh;
    *out = fresh;
    pthread_mutex_unlock(&e->lock);
    return VTC_OK;
}

// A free buffer of at least `bytes`, lent until give_back(); grown as needed.
static int borrow(vtc_mm *e, size_t bytes, struct buffer **out) {
    pthread_mutex_lock(&e->lock);
    struct buffer *b = NULL;
    for (int i = 0; i < e->n_buf && !b; i++)
        if (!e->buf[i].busy) b = &e->buf[i];
    if (!b) {
        if (e->n_buf == e->cap_buf) { // lent buffers are addressed by pointer: the array never moves
            pthread_mutex_unlock(&e->lock);
            return vtc_set_error(VTC_ERR_LIMIT, "bf16 engine: more than %d calls at once", e->cap_buf);
        }
        b = &e->buf[e->n_buf++];
        memset(b, 0, sizeof *b);
    }
    b->busy = 1;
    pthread_mutex_unlock(&e->lock);
    if (b->cap < bytes) {
        free(b->raw);
        b->cap = 0;
        b->p = alloc_aligned(bytes, &b->raw);
        if (!b->p) {
            b->raw = NULL;
            pthread_mutex_lock(&e->lock);
            b->busy = 0;
            pthread_mutex_unlock(&e->lock);
            return VTC_ERR_NOMEM;
        }
        b->cap = bytes;
    }
    *out = b;
    return VTC_OK;
}

static void give_back(vtc_mm *e, struct buffer *b) {
    if (!b) return;
    pthread_mutex_lock(&e->lock);
    b->busy = 0;
    pthread_mutex_unlock(&e->lock);
}

// Runs a cached entry with its scratchpad; src/wts/bias/dst handles by role.
static int run(vtc_mm *e, const struct entry *en, const void *src, const void *wts, const float *bias, void *dst) {
    struct buffer *scratch = NULL;
    int st = VTC_OK;
    if (en->scratch_bytes) st = borrow(e, en->scratch_bytes, &scratch);
    if (st) return st;
    const int is_reorder = en->key.kind == KIND_TO_BF16;
    dnnl_memory_t mem[5];
    const dnnl_memory_desc_t *mds[5] = { &en->md[0], is_reorder ? NULL : &en->md[1], &en->md[2],
                                         scratch ? &en->md[3] : NULL, bias ? &en->bias_md : NULL };
    void *handles[5] = { (void *)src, (void *)wts, dst, scratch ? scratch->p : NULL, (void *)bias };
    st = make_memories(5, mds, handles, mem);
    if (!st) {
        dnnl_exec_arg_t args[5];
        int n = 0;
        if (is_reorder) {
            args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_FROM, mem[0] };
            args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_TO, mem[2] };
        } else {
            args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_SRC, mem[0] };
            args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_WEIGHTS, mem[1] };
            args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_DST, mem[2] };
            if (bias) args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_BIAS, mem[4] };
        }
        if (scratch) args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, mem[3] };
        st = execute(en->prim, n, args, is_reorder ? "f32 -> bf16 reorder" : "bf16 matmul");
        free_memories(5, mem);
    }
    give_back(e, scratch);
    return st;
}

int vtc_mm_to_bf16(vtc_mm *e, const float *x, int rows, int cols, int64_t ldx, uint16_t *y, int64_t ldy) {
    if (rows < 1 || cols < 1) return VTC_OK;
    struct key k = { .kind = KIND_TO_BF16, .alpha = 1.0f, .m = rows, .n = cols, .s = { ldx, 1, 0, 0, ldy, 0 } };
    struct entry en;
    int st = lookup(e, &k, &en);
    return st ? st : run(e, &en, x, NULL, NULL, y);
}

int vtc_mm_bf16(vtc_mm *e, int m, int n, int k, float alpha, const uint16_t *a, int64_t a_rs, int64_t a_cs,
                const uint16_t *b, int64_t b_rs, int64_t b_cs, float *c, int64_t ldc) {
    if (m < 1 || n < 1 || k < 1) return VTC_OK;
    struct key key = { .kind = KIND_MATMUL, .alpha = alpha, .m = m, .n = n, .k = k,
                       .s = { a_rs, a_cs, b_rs, b_cs, ldc, 0 } };
    struct entry en;
    int st = lookup(e, &key, &en);
    return st ? st : run(e, &en, a, b, NULL, c);
}

int vtc_mm_linear(vtc_mm *e, const vtc_mm_weight *w, const float *x, int n, const float *b, float *y,
                  int accumulate) {
    if (n < 1) return VTC_OK;
    struct key k = { .kind = KIND_LINEAR, .bias = b != NULL, .accumulate = accumulate != 0, .alpha = 1.0f,
                     .m = n, .n = w->out, .k = w->in, .s = { w->in, 1, 0, 0, w->out, 0 }, .wmd = w->md };
    struct entry en;
    int st = lookup(e, &k, &en);
    if (st) return st;
    // the source rows in bf16, in a lent buffer
    struct buffer *src = NULL;
    st = borrow(e, (size_t)n * (size_t)w->in * sizeof(uint16_t), &src);
    if (st) return st;
    st = vtc_mm_to_bf16(e, x, n, w->in, w->in, src->p, w->in);
    if (!st) st = run(e, &en, src->p, w->data, b, y);
    give_back(e, src);
    return st;
}
