// bf16 matrix products on oneDNN (docs/speed.md#bf16): bfloat16 sources and
// weights, float32 accumulation and output. The encoder's f32 path stays on
// OpenBLAS; this is the engine its bf16 path runs on.
//
// Weights are converted to bf16 and reordered into the layout oneDNN's kernel
// prefers once (a vtc_mm_pack, one per model); primitives are created once per
// shape and kept in a per-context cache (vtc_mm). Every call runs on the calling
// thread alone: vtc parallelises with its own threads (vtc_parallel_for), so
// oneDNN's OpenMP team is held to one thread for the call and the caller's
// OpenMP setting is restored after it. Scratchpads are the caller's (user mode),
// so one primitive runs on several threads at once. Deterministic: the same
// shapes on the same CPU give the same bits.
#ifndef VTC_MATMUL_H
#define VTC_MATMUL_H

#include <stddef.h>
#include <stdint.h>

// The CPU oneDNN runs on: the name of its effective ISA ("avx512_core_amx",
// "avx512_core_bf16", "avx512_core_vnni", "avx2", ...; honours
// ONEDNN_MAX_CPU_ISA), and 1 when that ISA has bf16 units (AVX512-BF16 or
// AMX-BF16): there bf16 matrix products run on them; elsewhere oneDNN emulates
// them (correct, slower than f32).
const char *vtc_mm_isa(void);
int vtc_mm_bf16_native(void);

// One weight matrix W (out, in), as the linear layers store it, packed to bf16.
typedef struct vtc_mm_weight vtc_mm_weight;
// A model's packed weights, looked up by the address of their f32 original.
typedef struct vtc_mm_pack vtc_mm_pack;

vtc_mm_pack *vtc_mm_pack_new(void);
// Packs w (out, in) for products with about m_hint rows (the layout oneDNN
// picks for that shape is used for every row count). A pointer already packed
// is not packed again. VTC_OK or a status with the error set.
int vtc_mm_pack_add(vtc_mm_pack *p, const float *w, int out, int in, int m_hint);
// The packed form of w, or NULL when w was not packed.
const vtc_mm_weight *vtc_mm_pack_find(const vtc_mm_pack *p, const float *w);
// Bytes the packed weights take.
size_t vtc_mm_pack_bytes(const vtc_mm_pack *p);
void vtc_mm_pack_free(vtc_mm_pack *p);

// A context's primitive cache and buffers. Thread-safe: its calls may run on
// several threads at once.
typedef struct vtc_mm vtc_mm;
vtc_mm *vtc_mm_new(void);
void vtc_mm_free(vtc_mm *e);

// y (n, out) = bf16(x) (n, in) · bf16(W)^T + b (b: f32 [out] or NULL); with
// accumulate, y += the same. x and y are f32, rows dense (ld = in, out).
int vtc_mm_linear(vtc_mm *e, const vtc_mm_weight *w, const float *x, int n, const float *b, float *y,
                  int accumulate);

// c (m, n) = alpha · a (m, k) · b (k, n): a and b bf16 with the given row and
// column strides (elements), c f32 with row stride ldc.
int vtc_mm_bf16(vtc_mm *e, int m, int n, int k, float alpha, const uint16_t *a, int64_t a_rs, int64_t a_cs,
                const uint16_t *b, int64_t b_rs, int64_t b_cs, float *c, int64_t ldc);

// y (rows, cols) = bf16(x (rows, cols)), round to nearest even; row strides ldx, ldy.
int vtc_mm_to_bf16(vtc_mm *e, const float *x, int rows, int cols, int64_t ldx, uint16_t *y, int64_t ldy);

#endif
