// Safetensors: the reader for one file (or buffer), the reader for a Hugging
// Face model directory (sharded or not), and the atomic writer for token files.
//
// Format (https://huggingface.co/docs/safetensors): u64 little-endian N, then N
// bytes of a UTF-8 JSON object {"name": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}, then the data
// area; offsets are relative to the data area.
//
// Everything is validated at open, so views handed out are always consistent:
// header length against the file size and VTC_ST_MAX_HEADER; JSON well-formed,
// an object, nothing but whitespace after it; each entry an object with a known
// dtype, a shape of non-negative integers whose byte size (checked for overflow)
// equals end - begin, and offsets inside the data area; no two tensors'
// bytes overlap; no duplicate names; __metadata__ an object of strings.
// Errors: VTC_ERR_FORMAT "path: tensor: why" for malformed files,
// VTC_ERR_UNSUPPORTED for an unknown dtype or more than VTC_TENSOR_MAX_DIMS
// dims, VTC_ERR_LIMIT for a header over the cap, VTC_ERR_IO from the file.
//
// Thread-safety: opening is thread-safe as far as vtc goes (libcjson records its
// last parse error in a global that vtc never reads: concurrent opens race on
// that write only); an open reader is immutable, so any number of threads may
// query it concurrently. A writer belongs to one thread.
#ifndef VTC_SAFETENSORS_H
#define VTC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "mapfile.h"
#include "tensor.h"

// Largest JSON header accepted (the reference implementation's cap).
#define VTC_ST_MAX_HEADER (100u << 20)

// ---------------------------------------------------------------- one file

typedef struct vtc_st vtc_st;

// Opens and validates one .safetensors file (mapped when use_mmap, else read).
// *out receives the reader; caller frees with vtc_st_close. On failure *out is NULL.
int vtc_st_open(const char *path, int use_mmap, vtc_st **out);
// Same over a caller buffer, which is borrowed: it must outlive the reader.
// Error messages name it "<memory>".
int vtc_st_open_memory(const void *data, size_t size, vtc_st **out);
void vtc_st_close(vtc_st *st);

// Number of tensors, in header order (for files vtc wrote: insertion order).
int vtc_st_count(const vtc_st *st);
// Tensor i in [0, count), or NULL. Owned by st.
const vtc_tensor_view *vtc_st_tensor(const vtc_st *st, int i);
// Tensor by exact name (hash lookup), or NULL. Owned by st.
const vtc_tensor_view *vtc_st_find(const vtc_st *st, const char *name);
// __metadata__ value for key, or NULL when absent. Owned by st.
const char *vtc_st_meta(const vtc_st *st, const char *key);
// Number of __metadata__ entries, and entry i (key and value owned by st).
int vtc_st_meta_count(const vtc_st *st);
int vtc_st_meta_at(const vtc_st *st, int i, const char **key, const char **value);
// The path it was opened from ("<memory>" for a buffer). Owned by st.
const char *vtc_st_path(const vtc_st *st);

// ---------------------------------------------------------------- a model directory

typedef struct vtc_stset vtc_stset;

// Opens every tensor of a Hugging Face checkpoint. `path` is one of:
//  - a directory with model.safetensors.index.json: the shards its weight_map
//    names (plain file names in that directory: no '/', '\\' or ".."), each
//    opened once; every tensor the map lists must be in the shard it names;
//  - a directory without an index: every *.safetensors file in it (name order);
//  - an index .json file: as its directory with that index;
//  - a single .safetensors file.
// A tensor name found in two shards is VTC_ERR_FORMAT. *out receives the set;
// caller frees with vtc_stset_close.
int vtc_stset_open(const char *path, int use_mmap, vtc_stset **out);
// One buffer as a one-shard set (the caller keeps data alive and unchanged until close).
int vtc_stset_open_memory(const void *data, size_t size, vtc_stset **out);
void vtc_stset_close(vtc_stset *set);
// Tensors of all shards: shard order, then header order within a shard.
int vtc_stset_count(const vtc_stset *set);
const vtc_tensor_view *vtc_stset_tensor(const vtc_stset *set, int i);
// Tensor by name across shards (hash lookup), or NULL. Owned by set.
const vtc_tensor_view *vtc_stset_find(const vtc_stset *set, const char *name);
// The shards (for their metadata or paths). Owned by set.
int vtc_stset_shard_count(const vtc_stset *set);
const vtc_st *vtc_stset_shard(const vtc_stset *set, int i);

// ---------------------------------------------------------------- writer

typedef struct vtc_st_writer vtc_st_writer;

// An empty writer. NULL on allocation failure. Caller frees with vtc_st_writer_free.
vtc_st_writer *vtc_st_writer_new(void);
void vtc_st_writer_free(vtc_st_writer *w);
// Adds tensor `name` (UTF-8, not "__metadata__", unique) of `dtype` (enum
// vtc_dtype, not VTC_DT_GGML_QUANT) and shape[n_dims] (row-major, 0..8 dims,
// each >= 0). `data` holds numel * vtc_dtype_size(dtype) little-endian bytes;
// it is referenced, not copied, and must stay valid until write or free; NULL
// only for a tensor a vtc_st_stream fills.
// The name is copied. VTC_ERR_ARG on a bad argument.
int vtc_st_writer_add(vtc_st_writer *w, const char *name, int dtype, int n_dims, const int64_t *shape,
                      const void *data);
// Sets __metadata__[key] = value (both UTF-8, copied); a repeated key replaces.
int vtc_st_writer_meta(vtc_st_writer *w, const char *key, const char *value);
// Writes the file atomically (see mapfile.h): header JSON padded with spaces so
// the data area starts 8-byte aligned, __metadata__ first, tensors contiguous in
// insertion order. On failure nothing is left at path (nor any temporary file).
// The writer may be written again or freed.
int vtc_st_writer_write(const vtc_st_writer *w, const char *path);

// A file written piece by piece, for data that never is in memory at once (a
// long video's features, frame by frame). Tensors added with data NULL are
// filled with vtc_st_stream_put; tensors with data are written by begin.
typedef struct vtc_st_stream {
    vtc_atomic_file af;
    const vtc_st_writer *w; // must stay alive and unchanged until commit or abort
    uint64_t *offsets;      // file offset of each tensor's data
} vtc_st_stream;
// Writes the header and the tensors that have data to a temporary file of the
// file's final size. On success the caller ends with exactly one of commit or abort.
int vtc_st_stream_begin(const vtc_st_writer *w, const char *path, vtc_st_stream *out);
// Writes n bytes at byte `at` of tensor `tensor` (its index in insertion order).
int vtc_st_stream_put(vtc_st_stream *s, int tensor, uint64_t at, const void *data, size_t n);
// As vtc_atomic_commit / vtc_atomic_abort: the file appears whole at its path, or not at all.
int vtc_st_stream_commit(vtc_st_stream *s);
void vtc_st_stream_abort(vtc_st_stream *s);

#endif
