// `vtc report DIR [--manifest LIST] [--json]`: the totals of a batch's report
// files, every shard's merged (docs/batch.md#reports).
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "base/common.h"
#include "json_out.h"
#include "manifest.h"

// One report line.
struct line {
    char *id, *path, *error;
    int order;  // position over all files read
    int status; // 0 ok or skipped (the token file is written), 1 failed
    int64_t n_input, n_kept;
};

// One item: its lines folded.
struct item {
    const struct line *last;      // the last line
    const struct line *last_done; // the last ok/skipped line, or NULL
};

struct totals {
    int files, lines, unreadable, items, ok, failed, missing;
    int64_t n_input, n_kept;
    double compute_ms;
};

static int report_name(const char *name) {
    int i, n, end = 0;
    if (!strcmp(name, "report.jsonl")) return 1;
    return sscanf(name, "report.%d-of-%d.jsonl%n", &i, &n, &end) == 2 && end > 0 && name[end] == '\0';
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int by_id(const void *a, const void *b) {
    const struct line *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static char *str_of(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static int64_t int_of(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static int grow(struct line **lines, int *cap) {
    int nc = *cap ? *cap * 2 : 1024;
    struct line *nl = realloc(*lines, (size_t)nc * sizeof *nl);
    if (!nl) return -1;
    *lines = nl, *cap = nc;
    return 0;
}

// Reads one report file's lines into *lines (a torn or foreign line counts as unreadable).
static int read_report(const char *path, struct line **lines, int *n, int *cap, struct totals *t) {
    char *text = NULL;
    size_t len = 0;
    int st = cli_read_all(path, &text, &len);
    if (st) return st;
    t->files++;
    for (size_t at = 0; at < len && !st;) {
        const char *s = text + at, *e = memchr(s, '\n', len - at);
        size_t n_line = e ? (size_t)(e - s) : len - at;
        at += n_line + 1;
        if (n_line == 0) continue;
        t->lines++;
        cJSON *o = cJSON_ParseWithLength(s, n_line);
        const cJSON *status = o ? cJSON_GetObjectItemCaseSensitive(o, "status") : NULL;
        const char *sv = cJSON_IsString(status) ? status->valuestring : "";
        struct line l = { 0 };
        l.id = str_of(o, "id");
        l.status = !strcmp(sv, "failed");
        if (!l.id || (strcmp(sv, "ok") && strcmp(sv, "skipped") && strcmp(sv, "failed"))) {
            t->unreadable++;
            free(l.id);
        } else if (*n == *cap && grow(lines, cap)) {
            free(l.id);
            st = vtc_set_error(VTC_ERR_NOMEM, "out of memory");
        } else {
            l.path = str_of(o, "path");
            l.error = str_of(o, "error");
            l.n_input = int_of(o, "n_input");
            l.n_kept = int_of(o, "n_kept");
            l.order = *n;
            const cJSON *tm = cJSON_GetObjectItemCaseSensitive(o, "timings_ms"), *v;
            cJSON_ArrayForEach(v, tm) if (cJSON_IsNumber(v)) t->compute_ms += v->valuedouble;
            (*lines)[(*n)++] = l;
        }
        cJSON_Delete(o);
    }
    free(text);
    return st;
}

static void print_totals(const char *dir, const struct totals *t, const struct item *items, int n_items,
                         const struct manifest *m, const char *const *missing, int json) {
    if (!json) {
        printf("reports   %d file%s in %s, %d lines%s\n", t->files, t->files == 1 ? "" : "s", dir, t->lines,
               t->unreadable ? " (some unreadable: a line lost to a kill is redone or skipped on a rerun)" : "");
        printf("items     %d: %d ok, %d failed", t->items, t->ok, t->failed);
        if (m) printf("; %d in %s, %d not in any report", m->n, m->name, t->missing);
        printf("\ntokens    %lld -> %lld\n", (long long)t->n_input, (long long)t->n_kept);
        printf("compute   %.2f s (the items' stage times, summed)\n", t->compute_ms / 1000.0);
        for (int i = 0; i < n_items; i++)
            if (!items[i].last_done)
                printf("failed    %s: %s\n", items[i].last->id, items[i].last->error ? items[i].last->error : "?");
        for (int i = 0; i < t->missing; i++) printf("missing   %s\n", missing[i]);
        return;
    }
    struct vtc_json j;
    vtc_json_init_file(&j, stdout, 1);
    vtc_json_begin_object(&j);
    vtc_json_kv_string(&j, "dir", dir);
    vtc_json_kv_int(&j, "reports", t->files);
    vtc_json_kv_int(&j, "lines", t->lines);
    vtc_json_kv_int(&j, "unreadable_lines", t->unreadable);
    vtc_json_kv_int(&j, "items", t->items);
    vtc_json_kv_int(&j, "ok", t->ok);
    vtc_json_kv_int(&j, "failed", t->failed);
    if (m) vtc_json_kv_int(&j, "manifest_items", m->n), vtc_json_kv_int(&j, "missing", t->missing);
    vtc_json_kv_int(&j, "n_input", t->n_input);
    vtc_json_kv_int(&j, "n_kept", t->n_kept);
    vtc_json_kv_double(&j, "compute_seconds", t->compute_ms / 1000.0);
    vtc_json_key(&j, "failures");
    vtc_json_begin_array(&j);
    for (int i = 0; i < n_items; i++) {
        if (items[i].last_done) continue;
        vtc_json_begin_object(&j);
        vtc_json_kv_string(&j, "id", items[i].last->id);
        vtc_json_kv_string(&j, "path", items[i].last->path);
        vtc_json_kv_string(&j, "error", items[i].last->error);
        vtc_json_end_object(&j);
    }
    vtc_json_end_array(&j);
    if (m) {
        vtc_json_key(&j, "missing_ids");
        vtc_json_begin_array(&j);
        for (int i = 0; i < t->missing; i++) vtc_json_string(&j, missing[i]);
        vtc_json_end_array(&j);
    }
    vtc_json_end_object(&j);
    vtc_json_finish(&j);
}

static int find_item(const struct item *items, int n, const char *id) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(items[mid].last->id, id);
        if (!c) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int cmd_report(int argc, char **argv) {
    const char *dir = NULL, *manifest = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs("usage: vtc report DIR [--manifest LIST] [--json]\n"
                  "\n"
                  "Merges DIR/report.jsonl and every shard's DIR/report.I-of-N.jsonl from\n"
                  "`vtc compress/encode --manifest LIST --out-dir DIR`: items ok and failed (an item\n"
                  "is ok once any run wrote or found its token file), tokens in and out, compute time,\n"
                  "each failure with its error. With --manifest, the items no report names too.\n"
                  "Exit status 1 when an item failed or is missing.\n",
                  stdout);
            return CLI_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--manifest")) {
            if (i + 1 >= argc) return cli_usage_error("--manifest needs a value");
            manifest = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("report: unknown option '%s' (see `vtc report --help`)", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return cli_usage_error("report: unexpected argument '%s'", argv[i]);
        }
    }
    if (!dir) return cli_usage_error("report: no DIR given (see `vtc report --help`)");

    struct manifest m = { 0 };
    int st = manifest ? manifest_read(manifest, &m) : VTC_OK;
    if (st) return cli_status_error(st, "reading manifest");
    DIR *d = opendir(dir);
    if (!d) {
        manifest_free(&m);
        return cli_runtime_error("report: %s: cannot open the folder", dir);
    }
    char **names = NULL;
    int n_names = 0, rc = CLI_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (!report_name(e->d_name)) continue;
        char **nn = realloc(names, (size_t)(n_names + 1) * sizeof *names);
        if (!nn || !(nn[n_names] = strdup(e->d_name))) {
            names = nn ? nn : names;
            st = vtc_set_error(VTC_ERR_NOMEM, "out of memory");
            break;
        }
        names = nn, n_names++;
    }
    closedir(d);
    if (names) qsort(names, (size_t)n_names, sizeof *names, by_name);

    struct totals t = { 0 };
    struct line *lines = NULL;
    struct item *items = NULL;
    const char **missing = NULL;
    int n_lines = 0, cap = 0, n_items = 0;
    for (int i = 0; i < n_names && !st; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        st = read_report(path, &lines, &n_lines, &cap, &t);
    }
    if (st) {
        rc = cli_status_error(st, "report");
        goto done;
    }
    if (n_names == 0) {
        rc = cli_runtime_error("report: %s holds no report.jsonl or report.I-of-N.jsonl", dir);
        goto done;
    }
    // an item is ok when any of its lines is; its counts are its last such line's
    if (n_lines) qsort(lines, (size_t)n_lines, sizeof *lines, by_id);
    items = calloc((size_t)n_lines + 1, sizeof *items);
    missing = calloc((size_t)m.n + 1, sizeof *missing);
    if (!items || !missing) {
        rc = cli_runtime_error("report: out of memory");
        goto done;
    }
    for (int i = 0; i < n_lines; i++) {
        if (!i || strcmp(lines[i].id, lines[i - 1].id)) items[n_items++] = (struct item){ 0 };
        struct item *it = &items[n_items - 1];
        it->last = &lines[i];
        if (!lines[i].status) it->last_done = &lines[i];
    }
    t.items = n_items;
    for (int i = 0; i < n_items; i++) {
        if (!items[i].last_done) {
            t.failed++;
            continue;
        }
        t.ok++;
        t.n_input += items[i].last_done->n_input;
        t.n_kept += items[i].last_done->n_kept;
    }
    for (int i = 0; i < m.n; i++)
        if (find_item(items, n_items, m.items[i].id) < 0) missing[t.missing++] = m.items[i].id;
    print_totals(dir, &t, items, n_items, manifest ? &m : NULL, missing, json);
    if (t.failed || t.missing)
        rc = cli_runtime_error("report: %d item%s failed, %d missing", t.failed, t.failed == 1 ? "" : "s", t.missing);

done:
    for (int i = 0; i < n_lines; i++) free(lines[i].id), free(lines[i].path), free(lines[i].error);
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(lines);
    free(items);
    free(missing);
    manifest_free(&m);
    return rc;
}
