// Argument forms shared by several subcommands.
#include <string.h>

#include "cli.h"

int cli_parse_keep(const char *s, double *out) {
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > 63) return -1;
    if (s[len - 1] == '%') {
        char num[64];
        memcpy(num, s, len - 1);
        num[len - 1] = '\0';
        double pct;
        if (cli_parse_double(num, 0, 100, &pct) || pct <= 0) return -1;
        *out = pct >= 100 ? 0 : pct / 100.0;
        return 0;
    }
    double v;
    if (cli_parse_double(s, 0, 1e9, &v) || v <= 0) return -1;
    if (v >= 1 && v != (double)(long long)v) return -1; // a count must be whole
    *out = v;
    return 0;
}

int cli_parse_positions(const char *s, int *original) {
    if (!s || (strcmp(s, "compact") && strcmp(s, "original"))) return -1;
    *original = !strcmp(s, "original");
    return 0;
}
