// The streaming JSON writer (see json_out.h).
#include "json_out.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

static int fail(struct vtc_json *j, int status, const char *why) {
    if (j->status == VTC_OK) j->status = vtc_set_error(status, "json writer: %s", why);
    return j->status;
}

static int emit(struct vtc_json *j, const char *s, size_t n) {
    if (j->status != VTC_OK) return j->status;
    if (n == 0) return VTC_OK;
    if (j->fp) {
        if (fwrite(s, 1, n, j->fp) != n) return fail(j, VTC_ERR_IO, "write failed");
        return VTC_OK;
    }
    if (n >= j->cap - j->len || !j->buf) {
        size_t need;
        if (vtc_add_size(j->len, n + 1, &need) != 0) return fail(j, VTC_ERR_NOMEM, "document too large");
        size_t cap = j->cap ? j->cap : 256;
        while (cap < need) {
            if (cap > SIZE_MAX / 2) { cap = need; break; }
            cap *= 2;
        }
        char *nb = realloc(j->buf, cap);
        if (!nb) return fail(j, VTC_ERR_NOMEM, "out of memory");
        j->buf = nb;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
    return VTC_OK;
}

static int emits(struct vtc_json *j, const char *s) { return emit(j, s, strlen(s)); }

static int newline_indent(struct vtc_json *j, int depth) {
    if (!j->pretty) return VTC_OK;
    emit(j, "\n", 1);
    for (int i = 0; i < depth; i++) emit(j, "  ", 2);
    return j->status;
}

static void init(struct vtc_json *j, FILE *fp, int pretty) {
    memset(j, 0, sizeof *j);
    j->fp = fp;
    j->pretty = pretty != 0;
}

void vtc_json_init_file(struct vtc_json *j, FILE *fp, int pretty) {
    init(j, fp, pretty);
    if (!fp) fail(j, VTC_ERR_ARG, "NULL stream");
}

void vtc_json_init_buffer(struct vtc_json *j, int pretty) { init(j, NULL, pretty); }

// Everything a value needs before its first byte: a separator and indentation
// inside an array, nothing after a key, a check that it may appear at all.
static int before_value(struct vtc_json *j) {
    if (j->status != VTC_OK) return j->status;
    if (j->depth == 0) {
        if (j->done) return fail(j, VTC_ERR_INTERNAL, "more than one top-level value");
        return VTC_OK;
    }
    if (j->kind[j->depth - 1] == 'o') {
        if (!j->after_key) return fail(j, VTC_ERR_INTERNAL, "object member without a key");
        j->after_key = 0;
        return VTC_OK;
    }
    if (j->count[j->depth - 1]++ > 0) emit(j, ",", 1);
    return newline_indent(j, j->depth);
}

static void after_value(struct vtc_json *j) {
    if (j->depth == 0 && j->status == VTC_OK) j->done = 1;
}

static int begin(struct vtc_json *j, char kind) {
    if (before_value(j) != VTC_OK) return j->status;
    if (j->depth >= VTC_JSON_MAX_DEPTH) return fail(j, VTC_ERR_LIMIT, "nesting too deep");
    emit(j, kind == 'o' ? "{" : "[", 1);
    j->kind[j->depth] = (unsigned char)kind;
    j->count[j->depth] = 0;
    j->depth++;
    return j->status;
}

static int end(struct vtc_json *j, char kind) {
    if (j->status != VTC_OK) return j->status;
    if (j->depth == 0 || j->kind[j->depth - 1] != (unsigned char)kind)
        return fail(j, VTC_ERR_INTERNAL, kind == 'o' ? "end_object without a matching begin_object"
                                                     : "end_array without a matching begin_array");
    if (j->after_key) return fail(j, VTC_ERR_INTERNAL, "key without a value");
    j->depth--;
    if (j->count[j->depth] > 0) newline_indent(j, j->depth);
    emit(j, kind == 'o' ? "}" : "]", 1);
    after_value(j);
    return j->status;
}

int vtc_json_begin_object(struct vtc_json *j) { return begin(j, 'o'); }
int vtc_json_end_object(struct vtc_json *j) { return end(j, 'o'); }
int vtc_json_begin_array(struct vtc_json *j) { return begin(j, 'a'); }
int vtc_json_end_array(struct vtc_json *j) { return end(j, 'a'); }

static int write_string(struct vtc_json *j, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    emit(j, "\"", 1);
    size_t run = 0; // start of the pending run of bytes copied verbatim
    for (size_t i = 0; i < n && j->status == VTC_OK;) {
        const unsigned c = s[i];
        size_t len = c >= 0x20 && c != '"' && c != '\\' ? vtc_utf8_len(s + i, n - i) : 1;
        if (len > 0 && c >= 0x20 && c != '"' && c != '\\') {
            i += len;
            continue;
        }
        emit(j, str + run, i - run);
        char esc[8];
        switch (c) {
        case '"': emits(j, "\\\""); break;
        case '\\': emits(j, "\\\\"); break;
        case '\b': emits(j, "\\b"); break;
        case '\f': emits(j, "\\f"); break;
        case '\n': emits(j, "\\n"); break;
        case '\r': emits(j, "\\r"); break;
        case '\t': emits(j, "\\t"); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                emits(j, esc);
            } else {
                emits(j, "\\ufffd"); // a byte that does not start valid UTF-8
            }
        }
        i++;
        run = i;
    }
    emit(j, str + run, n - run);
    return emit(j, "\"", 1);
}

int vtc_json_key(struct vtc_json *j, const char *key) {
    if (j->status != VTC_OK) return j->status;
    if (j->depth == 0 || j->kind[j->depth - 1] != 'o') return fail(j, VTC_ERR_INTERNAL, "key outside an object");
    if (j->after_key) return fail(j, VTC_ERR_INTERNAL, "two keys in a row");
    if (!key) return fail(j, VTC_ERR_INTERNAL, "NULL key");
    if (j->count[j->depth - 1]++ > 0) emit(j, ",", 1);
    newline_indent(j, j->depth);
    write_string(j, key, strlen(key));
    emit(j, j->pretty ? ": " : ":", j->pretty ? 2 : 1);
    j->after_key = 1;
    return j->status;
}

static int scalar(struct vtc_json *j, const char *text) {
    if (before_value(j) != VTC_OK) return j->status;
    emits(j, text);
    after_value(j);
    return j->status;
}

int vtc_json_string_n(struct vtc_json *j, const char *s, size_t n) {
    if (!s) return vtc_json_null(j);
    if (before_value(j) != VTC_OK) return j->status;
    write_string(j, s, n);
    after_value(j);
    return j->status;
}

int vtc_json_string(struct vtc_json *j, const char *s) { return vtc_json_string_n(j, s, s ? strlen(s) : 0); }

int vtc_json_int(struct vtc_json *j, int64_t v) {
    char t[32];
    snprintf(t, sizeof t, "%" PRId64, v);
    return scalar(j, t);
}

int vtc_json_uint(struct vtc_json *j, uint64_t v) {
    char t[32];
    snprintf(t, sizeof t, "%" PRIu64, v);
    return scalar(j, t);
}

// Makes printf output locale-proof: the only characters %g emits besides digits,
// sign and exponent are the decimal point, whatever the locale made of it.
static void fix_decimal_point(char *s) {
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == 'e')) *s = '.';
}

size_t vtc_json_format_double(double v, char *out, size_t size) {
    int n;
    if (!isfinite(v)) {
        n = snprintf(out, size, "null");
    } else if (v == 0.0) {
        n = snprintf(out, size, "0");
    } else if (fabs(v) < 9007199254740992.0 && v == trunc(v)) {
        n = snprintf(out, size, "%" PRId64, (int64_t)v);
    } else {
        n = 0;
        for (int prec = 15; prec <= 17; prec++) {
            n = snprintf(out, size, "%.*g", prec, v);
            if (prec == 17 || strtod(out, NULL) == v) break;
        }
        fix_decimal_point(out);
    }
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

int vtc_json_double(struct vtc_json *j, double v) {
    char t[40];
    vtc_json_format_double(v, t, sizeof t);
    return scalar(j, t);
}

int vtc_json_bool(struct vtc_json *j, int v) { return scalar(j, v ? "true" : "false"); }
int vtc_json_null(struct vtc_json *j) { return scalar(j, "null"); }

int vtc_json_kv_string(struct vtc_json *j, const char *key, const char *s) {
    return vtc_json_key(j, key) != VTC_OK ? j->status : vtc_json_string(j, s);
}
int vtc_json_kv_int(struct vtc_json *j, const char *key, int64_t v) {
    return vtc_json_key(j, key) != VTC_OK ? j->status : vtc_json_int(j, v);
}
int vtc_json_kv_double(struct vtc_json *j, const char *key, double v) {
    return vtc_json_key(j, key) != VTC_OK ? j->status : vtc_json_double(j, v);
}
int vtc_json_kv_bool(struct vtc_json *j, const char *key, int v) {
    return vtc_json_key(j, key) != VTC_OK ? j->status : vtc_json_bool(j, v);
}
int vtc_json_kv_null(struct vtc_json *j, const char *key) {
    return vtc_json_key(j, key) != VTC_OK ? j->status : vtc_json_null(j);
}

int vtc_json_finish(struct vtc_json *j) {
    if (j->status != VTC_OK) return j->status;
    if (j->depth != 0 || !j->done) return fail(j, VTC_ERR_INTERNAL, "document incomplete");
    if (j->pretty) emit(j, "\n", 1);
    if (j->fp && fflush(j->fp) != 0) return fail(j, VTC_ERR_IO, "flush failed");
    return j->status;
}

char *vtc_json_take_buffer(struct vtc_json *j, size_t *len) {
    if (j->fp || j->status != VTC_OK) return NULL;
    char *out = j->buf;
    if (!out) { // nothing written yet: hand over an empty string
        out = malloc(1);
        if (!out) {
            fail(j, VTC_ERR_NOMEM, "out of memory");
            return NULL;
        }
        out[0] = '\0';
    }
    if (len) *len = j->len;
    j->buf = NULL;
    j->len = j->cap = 0;
    return out;
}

void vtc_json_free(struct vtc_json *j) {
    if (!j || j->fp) return;
    free(j->buf);
    j->buf = NULL;
    j->len = j->cap = 0;
}
