// A tiny streaming JSON writer for reports: objects, arrays, keys, strings,
// numbers, booleans and null, to a FILE* or to a growing memory buffer.
//
//   struct vtc_json j;
//   vtc_json_init_file(&j, stdout, 1);           // or vtc_json_init_buffer(&j, 1)
//   vtc_json_begin_object(&j);
//   vtc_json_kv_string(&j, "method", "cls");
//   vtc_json_kv_int(&j, "kept", 64);
//   vtc_json_key(&j, "flops"); vtc_json_begin_object(&j); ... vtc_json_end_object(&j);
//   vtc_json_end_object(&j);
//   int st = vtc_json_finish(&j);                // first error of the whole sequence, or 0
//
// Errors are sticky: once a call fails, every later call does nothing and returns
// the same status, so callers may check only vtc_json_finish(). Misuse (a value
// where a key is due, unbalanced ends) is VTC_ERR_INTERNAL; a failed write
// VTC_ERR_IO; a failed allocation VTC_ERR_NOMEM; nesting deeper than
// VTC_JSON_MAX_DEPTH VTC_ERR_LIMIT. Each sets vtc_last_error().
//
// Output: strings are escaped per RFC 8259 (", \, control characters; bytes that
// are not valid UTF-8 become U+FFFD). Doubles print as the shortest text that
// reads back to the same value (at most 17 significant digits), integral values
// below 2^53 as plain integers, NaN and infinities as null (JSON has no such
// numbers). The decimal point is '.' whatever the locale. Pretty mode indents by
// two spaces; compact mode has no whitespace. vtc_json_finish() ends the document
// with a newline when pretty.
//
// A writer belongs to one thread at a time. The library writes only where its
// caller points it (a FILE* or memory); it never prints on its own.
#ifndef VTC_JSON_OUT_H
#define VTC_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VTC_JSON_MAX_DEPTH 64

struct vtc_json {
    FILE  *fp;        // destination stream, or NULL when writing to buf
    char  *buf;       // memory destination (NUL-terminated), owned by the writer
    size_t len, cap;
    int    pretty;
    int    status;    // first error, sticky (0 = ok)
    int    depth;     // open containers
    int    done;      // a complete top-level value has been written
    int    after_key; // a key was written, its value is due
    unsigned char kind[VTC_JSON_MAX_DEPTH];  // 'o' object, 'a' array
    int64_t       count[VTC_JSON_MAX_DEPTH]; // members written at each level
};

// Starts a document written to fp (not closed by the writer).
void vtc_json_init_file(struct vtc_json *j, FILE *fp, int pretty);
// Starts a document written to memory; take it with vtc_json_take_buffer or release
// it with vtc_json_free.
void vtc_json_init_buffer(struct vtc_json *j, int pretty);

int vtc_json_begin_object(struct vtc_json *j);
int vtc_json_end_object(struct vtc_json *j);
int vtc_json_begin_array(struct vtc_json *j);
int vtc_json_end_array(struct vtc_json *j);
// The next member's name (inside an object only).
int vtc_json_key(struct vtc_json *j, const char *key);

// Values: after a key, as an array element, or as the whole document.
int vtc_json_string(struct vtc_json *j, const char *s);       // NULL writes null
int vtc_json_string_n(struct vtc_json *j, const char *s, size_t n);
int vtc_json_int(struct vtc_json *j, int64_t v);
int vtc_json_uint(struct vtc_json *j, uint64_t v);
int vtc_json_double(struct vtc_json *j, double v);
int vtc_json_bool(struct vtc_json *j, int v);
int vtc_json_null(struct vtc_json *j);

// key + value in one call.
int vtc_json_kv_string(struct vtc_json *j, const char *key, const char *s);
int vtc_json_kv_int(struct vtc_json *j, const char *key, int64_t v);
int vtc_json_kv_double(struct vtc_json *j, const char *key, double v);
int vtc_json_kv_bool(struct vtc_json *j, const char *key, int v);
int vtc_json_kv_null(struct vtc_json *j, const char *key);

// Checks the document is complete (one value, every container closed), adds the
// final newline in pretty mode, flushes a stream. Returns the sticky status.
int vtc_json_finish(struct vtc_json *j);

// Buffer mode: hands over the text (NUL-terminated; *len, if not NULL, gets its
// length without the NUL) and leaves the writer empty. Caller frees with free().
// NULL if the writer has failed or is not in buffer mode.
char *vtc_json_take_buffer(struct vtc_json *j, size_t *len);
// Releases the buffer of a buffer-mode writer (no-op for a stream).
void vtc_json_free(struct vtc_json *j);

// Formats v as vtc_json_double writes it ("null" for NaN/inf) into out (>= 32 bytes).
// Returns the length written.
size_t vtc_json_format_double(double v, char *out, size_t size);

#endif
