// Whole-file input (memory-mapped or read) and atomic output for the model and
// token file layer.
//
// Input: vtc_file_open gives the bytes of one regular file. Directories, FIFOs,
// devices and unreadable paths fail with VTC_ERR_IO and "path: why". A mapped
// file must not be truncated by another process while it is open (the kernel
// would raise SIGBUS on access); read it (use_mmap = 0) when that can happen.
//
// Output: a file is never half-written under its final name. Bytes go to a
// temporary file beside it ("<path>.tmp.XXXXXX", same directory so rename is
// atomic), which is fsync'ed and renamed over `path` on success and unlinked on
// any failure. While it exists the temporary name is registered so that a
// signal handler can remove it with vtc_tmpfile_cleanup_signal_safe().
#ifndef VTC_MAPFILE_H
#define VTC_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct vtc_file {
    const uint8_t *data; // size bytes (never NULL after a successful open, even when size is 0)
    size_t size;
    void *map;           // private: mmap base, or the malloc'ed copy when mapped is 0
    int mapped;          // private
} vtc_file;

// Opens `path` and makes its bytes available in f->data. use_mmap != 0 maps the
// file read-only (falls back to reading when mapping fails); 0 reads it into
// memory. On failure *f is zeroed (vtc_file_close on it is a no-op) and the
// error is VTC_ERR_IO ("path: strerror") or VTC_ERR_NOMEM. Thread-safe.
int vtc_file_open(const char *path, int use_mmap, vtc_file *f);
// Releases the bytes; f is zeroed. NULL or a zeroed f is fine.
void vtc_file_close(vtc_file *f);

// What vtc_reader_open needs to know of a model-file reader (gguf.c, safetensors.c):
// a struct with a vtc_file and a char *path among its members.
typedef struct vtc_reader_kind {
    const char *api;             // its functions' prefix, for messages ("vtc_gguf": "vtc_gguf_open: ...")
    size_t size;                 // sizeof the struct
    size_t file_at, path_at;     // offsetof its vtc_file and its char *path
    int (*parse)(void *reader, const uint8_t *data, size_t size);
    void (*close)(void *reader); // frees a reader whatever parse left in it
} vtc_reader_kind;

// Opens a reader of `kind`: a zeroed struct, its path a copy of `path`, its
// file the bytes at path (mapped when use_mmap, else read), then kind->parse
// over them. *out receives the reader (free it with the format's close), or
// NULL on failure. VTC_ERR_ARG "<api>_open: NULL argument" for a NULL path or out.
int vtc_reader_open(const vtc_reader_kind *kind, const char *path, int use_mmap, void **out);
// The same over data[size], borrowed (it must outlive the reader), path "<memory>";
// data may be NULL only when size is 0.
int vtc_reader_open_memory(const vtc_reader_kind *kind, const void *data, size_t size, void **out);

// An output file being written atomically.
typedef struct vtc_atomic_file {
    int fd;          // the temporary file, open for writing
    char *path;      // final name (owned)
    char *tmp_path;  // temporary name (owned)
    int slot;        // signal-cleanup registration, -1 if none
} vtc_atomic_file;

// Creates the temporary file for `path` (mode 0666 & ~umask, like fopen "w").
// VTC_ERR_IO ("path: why") when the directory does not exist or is not writable.
// On success the caller must end with exactly one of commit or abort.
int vtc_atomic_open(const char *path, vtc_atomic_file *af);
// 0 when a rename may put a file at `path` (absent, or a regular file); else
// VTC_ERR_IO ("path: not a regular file (...)"). vtc_atomic_open checks it.
int vtc_output_replaceable(const char *path);
// Appends n bytes (retries short writes and EINTR). VTC_ERR_IO on failure;
// the file stays open: the caller still aborts.
int vtc_atomic_write(vtc_atomic_file *af, const void *data, size_t n);
// Writes n bytes at byte `offset` (retries short writes and EINTR); as vtc_atomic_write.
int vtc_atomic_pwrite(vtc_atomic_file *af, uint64_t offset, const void *data, size_t n);
// fsync, close and rename over the final path (then fsync the directory, best
// effort). On failure the temporary file is removed and nothing is left at
// `path` that was not there before. Either way af is released.
int vtc_atomic_commit(vtc_atomic_file *af);
// Closes and removes the temporary file; af is released. Safe to repeat, and
// on an af that vtc_atomic_open failed on.
void vtc_atomic_abort(vtc_atomic_file *af);

// Writes len bytes to path atomically (open + write + commit). Thread-safe.
int vtc_write_file_atomic(const char *path, const void *data, size_t len);

// Unlinks every temporary file currently being written by vtc_atomic_*.
// Async-signal-safe: for a SIGINT/SIGTERM handler, which should then re-raise.
// Up to 16 temporary files are tracked at once; more are written untracked.
void vtc_tmpfile_cleanup_signal_safe(void);

#endif
