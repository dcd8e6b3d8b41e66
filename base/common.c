// Errors, checked allocation, a minimal parallel-for, clocks and float conversions.
#include "common.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char g_error[1024];
static _Thread_local int g_status;

const char *vtc_last_error(void) { return g_error; }
int vtc_last_status(void) { return g_status; }

void vtc_clear_error(void) {
    g_error[0] = '\0';
    g_status = VTC_OK;
}

int vtc_set_error(int status, const char *fmt, ...) {
    g_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return status;
}

int vtc_wrap_error(int status, const char *fmt, ...) {
    char msg[sizeof g_error];
    g_status = status;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t used = len < 0 ? 0 : (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1;
    if (g_error[0] && used + 2 < sizeof msg) { // "prefix: previous message", truncated to fit
        size_t room = sizeof msg - used - 3, old = strlen(g_error);
        if (old > room) old = room;
        memcpy(msg + used, ": ", 2);
        memcpy(msg + used + 2, g_error, old);
        used += 2 + old;
    }
    msg[used] = '\0';
    memcpy(g_error, msg, used + 1);
    return status;
}

const char *vtc_version(void) { return VTC_VERSION; }

const char *vtc_status_str(int status) {
    switch (status) {
    case VTC_OK: return "ok";
    case VTC_ERR_ARG: return "invalid argument";
    case VTC_ERR_IO: return "i/o error";
    case VTC_ERR_FORMAT: return "malformed input";
    case VTC_ERR_UNSUPPORTED: return "unsupported";
    case VTC_ERR_NOMEM: return "out of memory";
    case VTC_ERR_LIMIT: return "limit exceeded";
    case VTC_ERR_INTERNAL: return "internal error";
    case VTC_ERR_NEEDS: return "input lacks what the method needs";
    default: return "unknown status";
    }
}

int vtc_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

int vtc_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return -1;
    *out = a + b;
    return 0;
}

// Fault injection (vtc_fault_alloc_after): g_fault_at is the number of the
// allocation that fails, -1 when off; g_fault_count counts allocations while armed.
static _Atomic int64_t g_fault_at = -1;
static _Atomic int64_t g_fault_count;
static _Atomic int g_fault_sticky;

void vtc_fault_alloc_after(int64_t n, int sticky) {
    atomic_store(&g_fault_at, -1);
    if (n < 0) return;
    atomic_store(&g_fault_sticky, sticky != 0);
    atomic_store(&g_fault_count, 0);
    atomic_store(&g_fault_at, n);
}

int64_t vtc_fault_alloc_count(void) { return atomic_load(&g_fault_count); }

// 1 when this allocation is to fail (injection armed and its turn come); sets the error as a real failure does.
static int fault_injected(size_t bytes) {
    if (atomic_load_explicit(&g_fault_at, memory_order_relaxed) < 0) return 0;
    int64_t k = atomic_fetch_add_explicit(&g_fault_count, 1, memory_order_relaxed);
    int64_t at = atomic_load_explicit(&g_fault_at, memory_order_relaxed);
    if (at < 0 || k < at || (k > at && !atomic_load_explicit(&g_fault_sticky, memory_order_relaxed))) return 0;
    vtc_set_error(VTC_ERR_NOMEM, "out of memory allocating %zu bytes (injected fault)", bytes);
    return 1;
}

void *vtc_alloc(size_t n, size_t size) {
    size_t bytes;
    if (vtc_mul_size(n, size, &bytes) != 0) {
        vtc_set_error(VTC_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    if (fault_injected(bytes)) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (!p) vtc_set_error(VTC_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *vtc_zalloc(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) {
        vtc_set_error(VTC_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    if (fault_injected(n * size)) return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) vtc_set_error(VTC_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *vtc_realloc(void *p, size_t n, size_t size) {
    size_t bytes;
    if (vtc_mul_size(n, size, &bytes) != 0) {
        vtc_set_error(VTC_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    if (fault_injected(bytes)) return NULL;
    void *q = realloc(p, bytes ? bytes : 1); // never 0 bytes: realloc(p, 0) may free p
    if (!q) vtc_set_error(VTC_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return q;
}

char *vtc_strdup(const char *s) {
    size_t len = strlen(s) + 1;
    char *p = vtc_alloc(len, 1);
    if (p) memcpy(p, s, len);
    return p;
}

struct range_job {
    vtc_range_fn fn;
    void *arg;
    int begin, end;
};

static void *range_worker(void *p) {
    struct range_job *job = p;
    job->fn(job->arg, job->begin, job->end);
    return NULL;
}

void vtc_parallel_for(int n_threads, int n, vtc_range_fn fn, void *arg) {
    if (n <= 0) return;
    if (n_threads > n) n_threads = n;
    if (n_threads > 64) n_threads = 64;
    if (n_threads <= 1) {
        fn(arg, 0, n);
        return;
    }
    struct range_job jobs[64];
    pthread_t tids[64];
    int started[64] = {0};
    for (int t = 0; t < n_threads; t++) {
        jobs[t].fn = fn;
        jobs[t].arg = arg;
        jobs[t].begin = (int)((int64_t)n * t / n_threads);
        jobs[t].end = (int)((int64_t)n * (t + 1) / n_threads);
    }
    for (int t = 1; t < n_threads; t++)
        started[t] = pthread_create(&tids[t], NULL, range_worker, &jobs[t]) == 0;
    fn(arg, jobs[0].begin, jobs[0].end);
    // A chunk whose thread could not start runs here: slower, never wrong.
    for (int t = 1; t < n_threads; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            fn(arg, jobs[t].begin, jobs[t].end);
    }
}

static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;

static void blas_one_thread(void) { openblas_set_num_threads(1); }

void vtc_blas_single_thread(void) { pthread_once(&g_blas_once, blas_one_thread); }

int vtc_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

double vtc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

float vtc_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { // subnormal: renormalise
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float vtc_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t vtc_f32_to_f16(float f) {
    // Round-to-nearest-even, as numpy's astype(float16).
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - exp;
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | (uint32_t)exp << 10 | man >> 13;
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)h;
}

size_t vtc_utf8_len(const unsigned char *s, size_t n) {
    const unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x3F >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

struct vtc_limits vtc_limits_default(void) {
    struct vtc_limits l;
    l.max_pixels = 64ull << 20;
    l.max_frames = 4096;
    l.max_tokens = (int64_t)1 << 20;
    l.max_memory = 8ull << 30;
    return l;
}

void vtc_utf8_escape(char *dst, size_t cap, const char *src) {
    const unsigned char *s = (const unsigned char *)src;
    size_t n = strlen(src), at = 0;
    for (size_t i = 0, len; i < n; i += len) {
        len = vtc_utf8_len(s + i, n - i);
        if (len) {
            if (at + len >= cap) break;
            memcpy(dst + at, s + i, len);
            at += len;
        } else {
            if (at + 4 >= cap) break;
            snprintf(dst + at, 5, "\\x%02x", s[i]);
            at += 4, len = 1;
        }
    }
    if (cap) dst[at] = '\0';
}
