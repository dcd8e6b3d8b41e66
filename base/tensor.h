// Tensor views: what the model-file readers (safetensors.h, gguf.h) hand out.
//
// A view borrows everything: `name` and `data` point into the reader that made
// it and stay valid until that reader is closed. Shapes are row-major in
// PyTorch order (the last dimension varies fastest); GGUF's ggml `ne` order is
// reversed into this order by the GGUF reader. Data is little-endian and may be
// unaligned: read it with memcpy or with vtc_tensor_to_f32(), never by casting.
#ifndef VTC_TENSOR_H
#define VTC_TENSOR_H

#include <stddef.h>
#include <stdint.h>

// Element types. Values are stable (they are stored nowhere but keep them so).
enum vtc_dtype {
    VTC_DT_F32 = 0,
    VTC_DT_F16,
    VTC_DT_BF16,
    VTC_DT_F64,
    VTC_DT_I8,
    VTC_DT_U8,
    VTC_DT_I16,
    VTC_DT_U16,
    VTC_DT_I32,
    VTC_DT_U32,
    VTC_DT_I64,
    VTC_DT_U64,
    VTC_DT_BOOL,      // one byte per element
    VTC_DT_F8_E4M3,
    VTC_DT_F8_E5M2,
    VTC_DT_GGML_QUANT,// a block-quantized ggml type (GGUF only; vtc_gguf_tensor_type says which)
    VTC_DT_COUNT
};

// Most dimensions a view carries. Safetensors files with more are refused
// (VTC_ERR_UNSUPPORTED); GGUF allows at most 4.
#define VTC_TENSOR_MAX_DIMS 8

typedef struct vtc_tensor_view {
    const char    *name;   // NUL-terminated, owned by the reader
    int            dtype;  // enum vtc_dtype
    int            n_dims; // 0 (a scalar) .. VTC_TENSOR_MAX_DIMS
    int64_t        shape[VTC_TENSOR_MAX_DIMS]; // row-major, PyTorch order; unused entries 0
    const uint8_t *data;   // nbytes bytes, possibly unaligned, owned by the reader
    size_t         nbytes; // exact byte size of the tensor's data
} vtc_tensor_view;

// Bytes per element of `dtype`; 0 for VTC_DT_GGML_QUANT and unknown values.
size_t vtc_dtype_size(int dtype);
// The safetensors spelling of `dtype` ("F32", "BF16", "I32", "BOOL", ...);
// "QUANT" for VTC_DT_GGML_QUANT, "?" for unknown values. Static storage.
const char *vtc_dtype_name(int dtype);
// Inverse of vtc_dtype_name for safetensors dtypes (exact, case-sensitive match
// of `len` bytes); -1 when unknown.
int vtc_dtype_from_name(const char *name, size_t len);

// Number of elements: the product of the shape (1 for a scalar, 0 if any dim is 0).
// The readers guarantee it fits; returns -1 for an inconsistent view.
int64_t vtc_tensor_numel(const vtc_tensor_view *t);

// Converts t's elements to float: dst (n_elems) <- t (numel). Handles F32, F16,
// BF16 and F64 (rounded to nearest); other dtypes -> VTC_ERR_UNSUPPORTED.
// n_elems must equal vtc_tensor_numel(t) (else VTC_ERR_ARG) so a shape mix-up
// cannot silently read too little. Unaligned data is fine. Thread-safe.
int vtc_tensor_to_f32(const vtc_tensor_view *t, float *dst, size_t n_elems);

// The readers' check that no two non-empty views t[0..n) share bytes (a crafted
// file could alias them): begin[i] is where t[i]'s bytes start in the data area.
// VTC_ERR_FORMAT "path: name: data overlaps tensor other", or VTC_ERR_NOMEM.
int vtc_views_check_disjoint(const char *path, const vtc_tensor_view *t, const uint64_t *begin, int n);

// ---------------------------------------------------------------- name index
// An open-addressing hash from NUL-terminated names to small integers, used by
// the readers so lookups stay O(1) with thousands of tensors. The index borrows
// the name strings: they must outlive it.
typedef struct vtc_name_index {
    struct vtc_name_slot *slots;
    size_t mask;  // slot count - 1 (a power of two)
    size_t count; // names added
    size_t cap;   // names it was sized for
} vtc_name_index;

// Sizes an empty index for up to n names. 0 or VTC_ERR_NOMEM.
int vtc_name_index_init(vtc_name_index *ix, size_t n);
// Adds name -> idx (idx >= 0). Returns -1 when added, or the idx already stored
// for an equal name (the index is left unchanged: a duplicate). Adding more
// than the n names it was sized for is a bug: returns -2 and adds nothing.
int vtc_name_index_add(vtc_name_index *ix, const char *name, int idx);
// The idx stored for name, or -1. Thread-safe (read-only).
int vtc_name_index_find(const vtc_name_index *ix, const char *name);
void vtc_name_index_free(vtc_name_index *ix);

#endif
