// GGUF reader and writer (llama.cpp's model format): header key-values and tensors.
//
// Format: "GGUF", u32 version (2 or 3; v1 is VTC_ERR_UNSUPPORTED), u64
// n_tensors, u64 n_kv, n_kv x (string key, u32 type, value), n_tensors x
// (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset), padding
// to general.alignment (default 32), then the data area; offsets are relative
// to it. Strings are u64 length + bytes (no NUL). All little-endian.
//
// Everything is validated at open, before anything is allocated from a count
// read from the file: every count (n_tensors, n_kv, array lengths, string
// lengths) must fit in the bytes that remain; value types known; arrays nest at
// most 8 deep; keys and tensor names unique and free of NUL bytes;
// general.alignment an integer power of two <= 2^30; n_dims <= 4; element counts
// and byte sizes computed without overflow; each tensor's offset a multiple of
// the alignment and its bytes inside the file and disjoint from other tensors'.
//
// Tensor types: F32 (0), F16 (1), BF16 (30), and ggml's I8/I16/I32/I64/F64
// (24..28) map to the matching vtc_dtype and convert as tensor.h says. The
// block-quantized types ggml defines (Q4_0 .. Q8_K, IQ*, TQ*, MXFP4) are parsed
// and their byte sizes validated from ggml's block table; their views carry
// VTC_DT_GGML_QUANT, so vtc_tensor_to_f32 reports VTC_ERR_UNSUPPORTED. A type
// id ggml does not define (or has removed) fails the open with VTC_ERR_UNSUPPORTED,
// since its size cannot be checked.
//
// Shapes in views are row-major PyTorch order: ggml ne[] reversed, so a ggml
// matrix with ne = {in, out} is shape [out, in].
//
// Errors: VTC_ERR_FORMAT "path: what: why" for malformed files, VTC_ERR_UNSUPPORTED
// as above, VTC_ERR_IO from the file. Getters fail with VTC_ERR_FORMAT when the
// key is absent or its type does not convert ("path: key: why").
//
// Thread-safety: opening is thread-safe; an open reader is immutable, so any
// number of threads may query it concurrently.
#ifndef VTC_GGUF_H
#define VTC_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

// Value types of header key-values (the numbers stored in the file).
enum vtc_gguf_type {
    VTC_GGUF_U8 = 0, VTC_GGUF_I8 = 1, VTC_GGUF_U16 = 2, VTC_GGUF_I16 = 3, VTC_GGUF_U32 = 4, VTC_GGUF_I32 = 5,
    VTC_GGUF_F32 = 6, VTC_GGUF_BOOL = 7, VTC_GGUF_STRING = 8, VTC_GGUF_ARRAY = 9,
    VTC_GGUF_U64 = 10, VTC_GGUF_I64 = 11, VTC_GGUF_F64 = 12,
    VTC_GGUF_TYPE_COUNT
};

typedef struct vtc_gguf vtc_gguf;

// Opens and validates a GGUF file (mapped when use_mmap, else read). *out
// receives the reader; caller frees with vtc_gguf_close. On failure *out is NULL.
int vtc_gguf_open(const char *path, int use_mmap, vtc_gguf **out);
// Same over a caller buffer, which is borrowed: it must outlive the reader.
// Error messages name it "<memory>".
int vtc_gguf_open_memory(const void *data, size_t size, vtc_gguf **out);
void vtc_gguf_close(vtc_gguf *g);

uint32_t vtc_gguf_version(const vtc_gguf *g);   // 2 or 3
uint32_t vtc_gguf_alignment(const vtc_gguf *g); // general.alignment or 32
const char *vtc_gguf_path(const vtc_gguf *g);   // owned by g

// ---------------------------------------------------------------- key-values

// Number of key-values, in file order.
int vtc_gguf_count_kv(const vtc_gguf *g);
// Index of `key` (hash lookup), or -1 when absent.
int vtc_gguf_find_key(const vtc_gguf *g, const char *key);
// Key i (owned by g), or NULL when i is out of range.
const char *vtc_gguf_key(const vtc_gguf *g, int i);
// Value type of key i (enum vtc_gguf_type), or -1 when i is out of range.
int vtc_gguf_kv_type(const vtc_gguf *g, int i);
// For an array: its element type and element count; -1 for other values.
int vtc_gguf_kv_arr_type(const vtc_gguf *g, int i);
int64_t vtc_gguf_kv_arr_count(const vtc_gguf *g, int i);
// Writes a one-line, human-readable rendering of value i into buf[cap] (always
// NUL-terminated, truncated with "..." when long; arrays show their type,
// count and first elements). Returns 0 or VTC_ERR_ARG.
int vtc_gguf_kv_format(const vtc_gguf *g, int i, char *buf, size_t cap);
// "u8", "i32", "string", "array", ... ; "?" when unknown. Static storage.
const char *vtc_gguf_type_name(int type);

// Typed getters by key. Each fails with VTC_ERR_FORMAT when the key is absent or
// its value does not convert; *out is untouched then.
// Any integer type (u64 above INT64_MAX fails).
int vtc_gguf_get_int(const vtc_gguf *g, const char *key, int64_t *out);
// f32, f64 or any integer type.
int vtc_gguf_get_float(const vtc_gguf *g, const char *key, double *out);
// bool, or an integer type (nonzero is true). *out is 0 or 1.
int vtc_gguf_get_bool(const vtc_gguf *g, const char *key, int *out);
// A string value, NUL-terminated, owned by g. (A string with NUL bytes inside
// reads as its prefix; vtc_gguf_get_str_len gives the stored length.)
int vtc_gguf_get_str(const vtc_gguf *g, const char *key, const char **out);
int vtc_gguf_get_str_len(const vtc_gguf *g, const char *key, const char **out, size_t *len);
// An array of numbers (f32, f64 or integer elements) converted to float:
// copies min(count, max) elements into out[max] and sets *n = count, so a caller
// can tell a short buffer (*n > max) from a short array. An array longer than
// INT_MAX fails.
int vtc_gguf_get_arr_f32(const vtc_gguf *g, const char *key, float *out, int max, int *n);
// The same for integer elements, each of which must fit in int32_t.
int vtc_gguf_get_arr_i32(const vtc_gguf *g, const char *key, int32_t *out, int max, int *n);
// Element i of an array of strings (NUL-terminated, owned by g).
int vtc_gguf_get_arr_str(const vtc_gguf *g, const char *key, int64_t i, const char **out);

// ---------------------------------------------------------------- tensors

int vtc_gguf_count_tensors(const vtc_gguf *g);
// Tensor i in [0, count) in file order, or NULL. Owned by g.
const vtc_tensor_view *vtc_gguf_tensor(const vtc_gguf *g, int i);
// Tensor by name (hash lookup), or NULL. Owned by g.
const vtc_tensor_view *vtc_gguf_find_tensor(const vtc_gguf *g, const char *name);
// Index of tensor `name`, or -1.
int vtc_gguf_find_tensor_index(const vtc_gguf *g, const char *name);
// The ggml type id of tensor i (0 F32, 1 F16, 8 Q8_0, 30 BF16, ...), or -1.
int vtc_gguf_tensor_type(const vtc_gguf *g, int i);
// ggml's name for a type id ("f32", "q4_K", ...), or "?" when unknown. Static storage.
const char *vtc_ggml_type_name(int ggml_type);

// ---------------------------------------------------------------- writer
//
// Writes GGUF version 3, little-endian, general.alignment 32 (the default, not
// stored): the key-values in the order they were set, the tensor infos in the
// order tensors were added, then each tensor's data padded to a multiple of 32
// bytes. Keys and tensor names are unique, non-empty and free of NUL bytes;
// shapes are given row-major (PyTorch order) and stored as ggml's ne[],
// reversed. Tensors come from float data stored as F32 (ggml type 0) or F16
// (1, rounded to nearest even); a finite value outside F16's range fails the
// write with VTC_ERR_FORMAT rather than turning into an infinity.
//
// Errors: VTC_ERR_ARG for a bad argument (duplicate key or name, a count or
// shape out of range), VTC_ERR_NOMEM, VTC_ERR_IO from the file. A writer belongs
// to one thread.

typedef struct vtc_gguf_writer vtc_gguf_writer;

// An empty writer. NULL on allocation failure. Caller frees with vtc_gguf_writer_free.
vtc_gguf_writer *vtc_gguf_writer_new(void);
void vtc_gguf_writer_free(vtc_gguf_writer *w);
// Key-values; strings and arrays are copied.
int vtc_gguf_writer_str(vtc_gguf_writer *w, const char *key, const char *value);
int vtc_gguf_writer_u32(vtc_gguf_writer *w, const char *key, uint32_t value);
int vtc_gguf_writer_f32(vtc_gguf_writer *w, const char *key, float value);
int vtc_gguf_writer_bool(vtc_gguf_writer *w, const char *key, int value);
int vtc_gguf_writer_arr_str(vtc_gguf_writer *w, const char *key, const char *const *values, int64_t n);
int vtc_gguf_writer_arr_f32(vtc_gguf_writer *w, const char *key, const float *values, int64_t n);
int vtc_gguf_writer_arr_i32(vtc_gguf_writer *w, const char *key, const int32_t *values, int64_t n);
// Adds tensor `name` of shape[n_dims] (1..4 dims, each >= 1) stored as
// ggml_type 0 (F32) or 1 (F16). `data` holds numel floats; it is referenced,
// not copied, and must stay valid until the write.
int vtc_gguf_writer_tensor(vtc_gguf_writer *w, const char *name, int ggml_type, int n_dims, const int64_t *shape,
                           const float *data);
// Writes the file atomically (mapfile.h): on failure nothing is left at path.
// The writer may be written again or freed.
int vtc_gguf_writer_write(const vtc_gguf_writer *w, const char *path);

#endif
