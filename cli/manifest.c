// Batch manifests: manifest.h.
#include "manifest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "base/common.h"

#define MAX_PATH 4096
#define MAX_ID 1024

int cli_read_all(const char *name, char **out, size_t *len) {
    FILE *fp = strcmp(name, "-") ? fopen(name, "rb") : stdin;
    if (!fp) return vtc_set_error(VTC_ERR_IO, "%s: %s", name, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int st = buf ? VTC_OK : vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", name);
    while (!st) {
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                st = vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", name);
                break;
            }
            buf = nb, cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp)) st = vtc_set_error(VTC_ERR_IO, "%s: %s", name, strerror(errno ? errno : EIO));
            break;
        }
    }
    if (fp != stdin) fclose(fp);
    if (st) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return VTC_OK;
}

// Lexical normalisation of a '/'-separated path: empty and "." parts dropped,
// "x/.." folded, ".." above the root of an absolute path dropped. Relative
// paths keep their leading ".." parts, each written as `up` ("_up" for ids,
// ".." for paths). -1 when it does not fit in cap.
static int normalize(const char *p, const char *up, char *out, size_t cap) {
    int abs = p[0] == '/', n = 0, n_up = 0;
    const char *part[MAX_PATH / 2 + 1];
    int plen[MAX_PATH / 2 + 1];
    for (const char *s = p; *s;) {
        while (*s == '/') s++;
        const char *e = strchr(s, '/');
        int len = e ? (int)(e - s) : (int)strlen(s);
        if (len == 0) break;
        int dotdot = len == 2 && s[0] == '.' && s[1] == '.';
        if (n == (int)(sizeof part / sizeof part[0])) return -1;
        if (dotdot && n > n_up) n--;                                  // "x/.." folds
        else if (dotdot && !abs) part[n] = s, plen[n] = 2, n++, n_up++; // a leading ".."
        else if (!dotdot && !(len == 1 && s[0] == '.')) part[n] = s, plen[n] = len, n++;
        s += len;
    }
    size_t at = 0;
    if (abs) {
        if (cap < 2) return -1;
        out[at++] = '/';
    }
    out[at] = '\0';
    for (int i = 0; i < n; i++) {
        int w = i < n_up ? snprintf(out + at, cap - at, "%s%s", i ? "/" : "", up)
                         : snprintf(out + at, cap - at, "%s%.*s", i ? "/" : "", plen[i], part[i]);
        if (w < 0 || (size_t)w >= cap - at) return -1;
        at += (size_t)w;
    }
    return 0;
}

// The manifest's folder, absolute and normalised (the current directory for "-").
static int manifest_dir(const char *name, char *out, size_t cap) {
    char cwd[MAX_PATH], joined[2 * MAX_PATH + 2];
    const char *slash = strcmp(name, "-") ? strrchr(name, '/') : NULL;
    int len = slash ? (int)(slash - name) : 0;
    if (slash && name[0] == '/') {
        snprintf(joined, sizeof joined, "/%.*s", len, name);
    } else {
        if (!getcwd(cwd, sizeof cwd)) return vtc_set_error(VTC_ERR_IO, "the current directory: %s", strerror(errno));
        snprintf(joined, sizeof joined, "%s/%.*s", cwd, len, name);
    }
    if (normalize(joined, "..", out, cap)) return vtc_set_error(VTC_ERR_LIMIT, "%s: path too long", name);
    return VTC_OK;
}

// An id from a path: relative to the manifest's folder `dir` (absolute, normalised).
static int id_from_path(const char *given, const char *dir, char *out, size_t cap) {
    char norm[MAX_PATH + 8];
    if (normalize(given, "_up", norm, sizeof norm)) return -1;
    const char *prefix = "", *rest = norm;
    size_t dl = strlen(dir);
    if (norm[0] == '/' && !strcmp(dir, "/")) rest = norm + 1;
    else if (norm[0] == '/' && !strncmp(norm, dir, dl) && norm[dl] == '/') rest = norm + dl + 1;
    else if (norm[0] == '/') prefix = "_root", rest = norm; // outside the folder
    if (!rest[0] || !strcmp(rest, "/") || (norm[0] == '/' && !strcmp(norm, dir))) return -1; // a folder
    int w = snprintf(out, cap, "%s%s", prefix, rest);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

// An id given in the manifest: a relative path of plain parts.
static const char *bad_id(const char *id) {
    size_t len = strlen(id);
    if (len == 0 || len >= MAX_ID) return "is empty or too long";
    if (id[0] == '/' || id[len - 1] == '/' || strstr(id, "//")) return "is not a relative path of plain parts";
    for (const char *s = id; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return "holds a control character";
    for (const char *s = id; s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return "has a '.' or '..' part";
        s = e ? e + 1 : NULL;
    }
    return NULL;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

// One item from a line: text (a path) or a JSON object.
static int parse_line(const struct manifest *m, const char *dir, char *line, int lineno, struct manifest_item *it) {
    char keep[64], idbuf[MAX_PATH + 16];
    const char *path = line, *id = NULL, *method = NULL, *keepv = NULL;
    cJSON *obj = NULL;
    int st = VTC_OK;
    if (line[0] == '{') {
        const char *end = NULL;
        obj = cJSON_ParseWithLengthOpts(line, strlen(line), &end, 0);
        while (end && (*end == ' ' || *end == '\t')) end++;
        if (!obj || !cJSON_IsObject(obj) || !end || *end)
            return cJSON_Delete(obj), vtc_set_error(VTC_ERR_FORMAT, "%s:%d: not a JSON object", m->name, lineno);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "path"), *i = cJSON_GetObjectItemCaseSensitive(obj, "id"),
                    *k = cJSON_GetObjectItemCaseSensitive(obj, "keep"),
                    *me = cJSON_GetObjectItemCaseSensitive(obj, "method");
        path = cJSON_IsString(p) ? p->valuestring : NULL;
        if (!path || !path[0]) st = vtc_set_error(VTC_ERR_FORMAT, "%s:%d: \"path\" is not a file name", m->name, lineno);
        else if (i && !cJSON_IsString(i)) st = vtc_set_error(VTC_ERR_FORMAT, "%s:%d: \"id\" is not a string", m->name, lineno);
        else if (me && !cJSON_IsString(me))
            st = vtc_set_error(VTC_ERR_FORMAT, "%s:%d: \"method\" is not a string", m->name, lineno);
        else if (k && !cJSON_IsString(k) && !cJSON_IsNumber(k))
            st = vtc_set_error(VTC_ERR_FORMAT, "%s:%d: \"keep\" is not a number or string", m->name, lineno);
        if (!st && i) id = i->valuestring;
        if (!st && me) method = me->valuestring;
        if (!st && k) {
            if (cJSON_IsNumber(k)) snprintf(keep, sizeof keep, "%.17g", k->valuedouble);
            else snprintf(keep, sizeof keep, "%.63s", k->valuestring);
            struct vtc_prune_params b;
            if (cli_parse_keep(keep, &b))
                st = vtc_set_error(VTC_ERR_FORMAT, "%s:%d: \"keep\": '%s' is not a token count, percentage or fraction",
                                   m->name, lineno, keep);
            keepv = keep;
        }
        const char *why = !st && id ? bad_id(id) : NULL;
        if (why) st = vtc_set_error(VTC_ERR_FORMAT, "%s:%d: \"id\" %s", m->name, lineno, why);
    }
    if (!st && strlen(path) >= MAX_PATH) st = vtc_set_error(VTC_ERR_FORMAT, "%s:%d: path too long", m->name, lineno);
    if (!st && !id) {
        if (id_from_path(path, dir, idbuf, sizeof idbuf) || strlen(idbuf) >= MAX_ID)
            st = vtc_set_error(VTC_ERR_FORMAT, "%s:%d: '%s' names no file (or is too long to name an output)", m->name,
                               lineno, path);
        id = idbuf;
    }
    if (!st) {
        // relative paths resolve against the manifest's folder
        const char *slash = strcmp(m->name, "-") ? strrchr(m->name, '/') : NULL;
        char full[2 * MAX_PATH + 2];
        if (path[0] != '/' && slash) snprintf(full, sizeof full, "%.*s/%s", (int)(slash - m->name), m->name, path);
        else snprintf(full, sizeof full, "%s", path);
        it->path = strdup(full);
        it->given = strdup(path);
        it->id = strdup(id);
        it->method = dup_or_null(method);
        it->keep = dup_or_null(keepv);
        it->line = lineno;
        if (!it->path || !it->given || !it->id || (method && !it->method) || (keepv && !it->keep))
            st = vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", m->name);
    }
    cJSON_Delete(obj);
    return st;
}

static int by_id(const void *a, const void *b) {
    const struct manifest_item *x = *(const struct manifest_item *const *)a, *y = *(const struct manifest_item *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

// Two items may not write the same output.
static int check_unique(const struct manifest *m) {
    if (m->n < 2) return VTC_OK;
    const struct manifest_item **v = malloc((size_t)m->n * sizeof *v);
    if (!v) return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", m->name);
    for (int i = 0; i < m->n; i++) v[i] = &m->items[i];
    qsort(v, (size_t)m->n, sizeof *v, by_id);
    int st = VTC_OK;
    for (int i = 1; i < m->n && !st; i++)
        if (!strcmp(v[i - 1]->id, v[i]->id))
            st = vtc_set_error(VTC_ERR_FORMAT, "%s: lines %d and %d have the same id '%s' (one output; give one an \"id\")",
                               m->name, v[i - 1]->line, v[i]->line, v[i]->id);
    free(v);
    return st;
}

int manifest_read(const char *name, struct manifest *m) {
    memset(m, 0, sizeof *m);
    char *text = NULL, dir[MAX_PATH + 8];
    size_t len = 0;
    int st = manifest_dir(name, dir, sizeof dir);
    if (!st) st = cli_read_all(name, &text, &len);
    if (!st && memchr(text, '\0', len)) st = vtc_set_error(VTC_ERR_FORMAT, "%s: not a text file (a NUL byte)", name);
    if (!st && !(m->name = strdup(name))) st = vtc_set_error(VTC_ERR_NOMEM, "out of memory");
    int cap = 0, lineno = 0;
    for (char *s = text; !st && s && *s;) {
        char *e = strchr(s, '\n'), *next = e ? e + 1 : NULL;
        if (!e) e = s + strlen(s);
        lineno++;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        *e = '\0';
        if (*s && *s != '#') {
            if (m->n == cap) {
                int nc = cap ? cap * 2 : 256;
                struct manifest_item *ni = realloc(m->items, (size_t)nc * sizeof *ni);
                if (!ni) {
                    st = vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", name);
                    break;
                }
                m->items = ni, cap = nc;
            }
            memset(&m->items[m->n], 0, sizeof m->items[0]);
            st = parse_line(m, dir, s, lineno, &m->items[m->n]);
            m->n++; // freed with the rest on failure
        }
        s = next;
    }
    free(text);
    if (!st && m->n == 0) st = vtc_set_error(VTC_ERR_FORMAT, "%s: no inputs", name);
    if (!st) st = check_unique(m);
    if (st) manifest_free(m);
    return st;
}

void manifest_free(struct manifest *m) {
    for (int i = 0; i < m->n; i++) {
        free(m->items[i].path);
        free(m->items[i].given);
        free(m->items[i].id);
        free(m->items[i].method);
        free(m->items[i].keep);
    }
    free(m->items);
    free(m->name);
    memset(m, 0, sizeof *m);
}
