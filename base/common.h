// Internal conventions shared by every stage of libvtc. Not installed.
//
// Errors: a fallible internal function returns an int status (VTC_OK = 0 or a
// negative enum vtc_status) and, on failure, records "what: why" with
// vtc_set_error(); the message lives in a thread-local buffer read by
// vtc_last_error(). Never print, never exit, never abort on bad input.
// Sizes: every size computed from file or user data goes through
// vtc_mul_size()/vtc_add_size() so overflow becomes an error, not a wrap.
#ifndef VTC_COMMON_H
#define VTC_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include "vtc.h"

#if defined(__GNUC__)
#define VTC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VTC_PRINTF(a, b)
#endif

// Records the message for vtc_last_error() and returns `status` so callers can
// write `return vtc_set_error(VTC_ERR_FORMAT, "%s: bad magic", path);`.
int vtc_set_error(int status, const char *fmt, ...) VTC_PRINTF(2, 3);
// Prefixes the current thread's error message with "prefix: " (context while unwinding).
int vtc_wrap_error(int status, const char *fmt, ...) VTC_PRINTF(2, 3);
void vtc_clear_error(void);

// Overflow-checked size arithmetic: return 0 and set *out on success, -1 on overflow.
int vtc_mul_size(size_t a, size_t b, size_t *out);
int vtc_add_size(size_t a, size_t b, size_t *out);

// malloc/calloc of n*size bytes with overflow check; NULL (and an error set) on failure.
// Every allocation of the library goes through these four (frees stay free()).
void *vtc_alloc(size_t n, size_t size);
void *vtc_zalloc(size_t n, size_t size);
// realloc of p to n*size bytes, overflow-checked; on failure NULL (error set) and p untouched.
void *vtc_realloc(void *p, size_t n, size_t size);
// A malloc'ed copy of s; NULL (error set) on failure.
char *vtc_strdup(const char *s);

// Test hook, allocation fault injection (internal: not in vtc.h, not exported).
// vtc_fault_alloc_after(n, sticky) restarts the allocation counter at 0 and arms
// injection: the next n allocations through the four functions above succeed,
// the one after them (number n, counting from 0) fails as a real out-of-memory
// does (NULL, VTC_ERR_NOMEM recorded with vtc_set_error), and with sticky != 0
// so does every allocation after it; otherwise only that one fails. n = INT64_MAX
// only counts. n < 0 turns injection and counting off (the default), keeping the
// count. Process-wide and thread-safe (C11 atomics); while off, an allocation
// pays one relaxed atomic load.
void vtc_fault_alloc_after(int64_t n, int sticky);
// Allocations attempted (the failed ones included) since the last arming call.
int64_t vtc_fault_alloc_count(void);

// Runs fn(arg, begin, end) over [0, n) split into at most n_threads contiguous
// chunks on worker threads (the calling thread takes the first chunk). Blocks
// until all chunks are done. n_threads <= 1 runs inline.
typedef void (*vtc_range_fn)(void *arg, int begin, int end);
void vtc_parallel_for(int n_threads, int n, vtc_range_fn fn, void *arg);

// vtc parallelises with its own threads and makes each BLAS call from one of
// them, so OpenBLAS must run each call single-threaded (otherwise its spinning
// workers fight vtc's threads for the cores). Sets that once per process.
void vtc_blas_single_thread(void);

// Number of online CPUs (>= 1).
int vtc_cpu_count(void);

// Length of the well-formed UTF-8 sequence at s (n bytes available): 1-4, or 0
// where it is not one (stray continuation, overlong, surrogate, past U+10FFFF).
size_t vtc_utf8_len(const unsigned char *s, size_t n);

// src as UTF-8 (a token file's metadata must be): copied into dst (cap bytes,
// NUL included) with each byte that is not part of a well-formed sequence
// written as \xNN, cut short at a character's end when it does not fit.
void vtc_utf8_escape(char *dst, size_t cap, const char *src);

// Monotonic clock in milliseconds.
double vtc_now_ms(void);

// IEEE half / bfloat16 to float.
float vtc_f16_to_f32(uint16_t h);
float vtc_bf16_to_f32(uint16_t h);
uint16_t vtc_f32_to_f16(float f);

#endif
