// Error reporting and strict number parsing shared by every subcommand.
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

static int report(int code, const char *fmt, va_list ap) {
    fputs("vtc: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int code = report(CLI_USAGE, fmt, ap);
    va_end(ap);
    return code;
}

int cli_runtime_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int code = report(CLI_RUNTIME, fmt, ap);
    va_end(ap);
    return code;
}

void cli_status_text(int status, const char *what, char *buf, size_t cap) {
    const char *why = vtc_last_error();
    if (!why || !why[0]) why = vtc_status_str(status);
    snprintf(buf, cap, "%s: %s", what && what[0] ? what : "vtc", why);
}

int cli_status_error(int status, const char *what) {
    if (status == VTC_OK) return CLI_OK;
    char text[1400];
    cli_status_text(status, what, text, sizeof text);
    fprintf(stderr, "vtc: error: %s\n", text);
    return status == VTC_ERR_ARG ? CLI_USAGE : CLI_RUNTIME;
}

// Both parsers accept exactly: optional sign, decimal digits (and for doubles a
// fraction and an exponent). No surrounding whitespace, no hex, no "nan"/"inf".
// They return 0 on success, -1 if s is not such a number, -2 if it is out of
// [lo, hi] (or of the type's range); *out is written only on success.

int cli_parse_int(const char *s, long long lo, long long hi, long long *out) {
    if (!s || !out) return -1;
    const char *p = s + (*s == '+' || *s == '-');
    if (!isdigit((unsigned char)*p)) return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return -1;
    errno = 0;
    char *endp;
    long long v = strtoll(s, &endp, 10);
    if (*endp != '\0') return -1;
    if (errno == ERANGE || v < lo || v > hi) return -2;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out) {
    if (!s || !out) return -1;
    // sign? digits* (. digits*)? ([eE] sign? digits+)? with at least one mantissa digit
    const char *p = s + (*s == '+' || *s == '-');
    int digits = 0;
    while (isdigit((unsigned char)*p)) { p++; digits++; }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) { p++; digits++; }
    }
    if (digits == 0) return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += (*p == '+' || *p == '-');
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p != '\0') return -1;
    errno = 0;
    char *endp;
    double v = strtod(s, &endp);
    if (*endp != '\0') return -1; // a locale whose decimal point is not '.'
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) return -2; // overflow; underflow is fine
    if (!(v >= lo && v <= hi)) return -2;
    *out = v;
    return 0;
}

int cli_join_params(const char *const *list, int n, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + at, cap - at, "%s%s", i ? "," : "", list[i]);
        if (w < 0 || (size_t)w >= cap - at) return -1;
        at += (size_t)w;
    }
    return 0;
}

int cli_tokenizer_beside(const char *lm_path, char *buf, size_t cap) {
    const char *slash = strrchr(lm_path, '/');
    int dir = slash ? (int)(slash + 1 - lm_path) : 0;
    return (size_t)snprintf(buf, cap, "%.*stokenizer.bin", dir, lm_path) >= cap ? -1 : 0;
}
