// Batch mode of `vtc compress` / `vtc encode` (docs/batch.md): one model load,
// the inputs of a manifest decoded one ahead of the encoder by a producer thread
// (a bounded queue), each item's token file under DIR, one report line per item,
// failures isolated, shards, and resumption from the token files already written.
#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "api/encode.h"
#include "base/common.h"
#include "base/safetensors.h"
#include "json_out.h"
#include "manifest.h"
#include "pipeline.h"
#include "report.h"

#define PATH_CAP 6144

enum { SLOT_MEDIA, SLOT_FAILED, SLOT_SKIPPED };

// One item on its way from the producer to a worker.
struct slot {
    int item;             // index in the manifest
    int state;            // SLOT_*
    struct cli_input in;  // SLOT_MEDIA: an image decoded, a video opened (its frames are read while encoded)
    char error[1400];     // SLOT_FAILED: "reading input: why"
    char method[64];      // SLOT_SKIPPED: what its token file says
    int64_t n_input, n_kept;
};

struct batch {
    const struct pipeline_opts *o;
    struct manifest m;
    int *mine, n_mine;    // this shard's items, in manifest order
    int shard_i, shard_n; // shard_n 0: every item
    char shard_how[160];  // where the shard came from
    vtc_model *model;
    struct vtc_model_info mi;
    struct vtc_model_params mp;
    struct vtc_sample_params sp;
    struct vtc_lm_shape lm;
    const char *lm_name, *suffix;
    char dir[PATH_CAP - 1024]; // --out-dir without trailing slashes (shorter than PATH_CAP - 1100)
    int threads_per_worker;
    char report_path[PATH_CAP];
    int report_fd;
    double ms_load, t_start;
    int progress;         // stderr is a terminal
    // the queue, and everything below, under mu
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_get;
    struct slot *q;
    int q_cap, q_head, q_len, produced_all;
    int stop;             // --max-failures reached, or a report line could not be written
    int n_ok, n_failed, n_skipped, n_finished;
    int64_t tok_in, tok_out;
    char fatal[1500];     // why the run stopped on its own error
};

int cli_parse_shard(const char *s, int *i, int *n) {
    const char *slash = s ? strchr(s, '/') : NULL;
    char head[32];
    long long a, b;
    if (!slash || slash - s >= (long)sizeof head) return -1;
    snprintf(head, sizeof head, "%.*s", (int)(slash - s), s);
    if (cli_parse_int(head, 0, 1 << 30, &a) || cli_parse_int(slash + 1, 1, 1 << 30, &b) || a >= b) return -1;
    *i = (int)a, *n = (int)b;
    return 0;
}

// Without --shard, a Slurm job array's task picks its shard: task ID minus the
// array's first ID (over its step) of the array's task count. -1 when not in an
// array; CLI_USAGE (printed) when the variables make no shard.
static int shard_from_slurm(struct batch *b) {
    const char *id = getenv("SLURM_ARRAY_TASK_ID"), *count = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *min = getenv("SLURM_ARRAY_TASK_MIN"), *step = getenv("SLURM_ARRAY_TASK_STEP");
    if (!id || !count) return -1;
    long long vi, vn, vmin = 0, vstep = 1;
    if (cli_parse_int(id, 0, 1 << 30, &vi) || cli_parse_int(count, 1, 1 << 30, &vn) ||
        (min && cli_parse_int(min, 0, 1 << 30, &vmin)) || (step && cli_parse_int(step, 1, 1 << 30, &vstep)) ||
        vi < vmin || (vi - vmin) % vstep || (vi - vmin) / vstep >= vn)
        return cli_usage_error("SLURM_ARRAY_TASK_ID=%s of SLURM_ARRAY_TASK_COUNT=%s makes no shard (use --array=0-N "
                               "or give --shard I/N)",
                               id, count);
    b->shard_i = (int)((vi - vmin) / vstep), b->shard_n = (int)vn;
    snprintf(b->shard_how, sizeof b->shard_how, "from SLURM_ARRAY_TASK_ID=%s, SLURM_ARRAY_TASK_COUNT=%s", id, count);
    return 0;
}

static void item_output(const struct batch *b, const struct manifest_item *it, char *out) {
    // fits: --out-dir is checked shorter than PATH_CAP - 1100, an id shorter than 1024
    if (snprintf(out, PATH_CAP, "%s/%s%s", b->dir, it->id, b->suffix) >= PATH_CAP) out[0] = '\0';
}

// The pruning an item gets: what `vtc compress INPUT` with the run's options
// and the item's "method" / "keep" would run (--param applies to --method's items).
static int item_params(const struct batch *b, const struct manifest_item *it, int is_video,
                       struct vtc_prune_params *pp, int *default_method) {
    struct cli_prune_opts po = b->o->prune; // a copy: the run's budget before the default was applied
    if (!po.have_keep) po.budget.n_keep = 0, po.budget.keep_ratio = 0;
    if (it->method) {
        if (!po.method || strcmp(po.method, it->method)) po.n_params = 0;
        po.method = it->method;
    }
    if (it->keep && !cli_parse_keep(it->keep, &po.budget)) po.have_keep = 1;
    *default_method = !po.method;
    int st = pipeline_prune_params(&po, po.method ? po.method : pipeline_default_method(is_video), pp);
    pp->params = po.n_params ? b->o->prune.joined : NULL; // the same text, in storage that outlives po
    return st;
}

// Every item's "method" and "keep" are checked before any work.
static int check_items(const struct batch *b) {
    for (int k = 0; k < b->m.n; k++) {
        const struct manifest_item *it = &b->m.items[k];
        if (!it->method && !it->keep) continue;
        if (!b->o->is_compress)
            return vtc_set_error(VTC_ERR_FORMAT, "%s:%d: \"method\" and \"keep\" are options of compress", b->m.name,
                                 it->line);
        struct vtc_prune_params pp;
        int dflt, st = item_params(b, it, 0, &pp, &dflt);
        if (!st && dflt) st = item_params(b, it, 1, &pp, &dflt);
        if (st) {
            char why[1400];
            cli_status_text(st, "compress", why, sizeof why);
            return vtc_set_error(VTC_ERR_FORMAT, "%s:%d: %s", b->m.name, it->line, why);
        }
    }
    return VTC_OK;
}

// 1 for a video, 0 for an image (PNG or JPEG by content, as vtc_media_load
// decides), -1 when unreadable.
static int input_is_video(const char *path) {
    int kind = vtc_sniff_image(path);
    return kind < 0 ? -1 : kind == 0;
}

static int meta_is(const vtc_st *st, const char *key, const char *want) {
    const char *v = vtc_st_meta(st, key);
    return v && !strcmp(v, want);
}

// Resumption: 1 when the item's output is a complete token file (a final name
// holds only whole files) written with this run's model, method, parameters and
// budget; s gets its method and counts.
static int already_done(const struct batch *b, const struct manifest_item *it, struct slot *s) {
    char out[PATH_CAP], keep[64], layer[16];
    item_output(b, it, out);
    if (access(out, F_OK)) return 0;
    vtc_st *st = NULL;
    if (vtc_st_open(out, 1, &st)) return 0;
    snprintf(layer, sizeof layer, "%d", b->mi.feature_layer);
    int done = meta_is(st, "format", b->o->is_compress ? "vtc-tokens-1" : "vtc-features-1") &&
               meta_is(st, "model", b->mi.name) && meta_is(st, "model_format", b->mi.format) &&
               meta_is(st, "feature_layer", layer);
    if (done && b->o->is_compress) {
        struct vtc_prune_params pp;
        int dflt, video = input_is_video(it->path);
        done = video >= 0 && !item_params(b, it, video, &pp, &dflt);
        if (pp.n_keep) snprintf(keep, sizeof keep, "%d", pp.n_keep); // as vtc_tokens_save writes it
        else if (pp.keep_ratio) snprintf(keep, sizeof keep, "%.17g", pp.keep_ratio);
        else snprintf(keep, sizeof keep, "all");
        done = done && meta_is(st, "method", pp.method) && meta_is(st, "parameters", pp.params ? pp.params : "") &&
               meta_is(st, "keep", keep);
    }
    long long n_in = 0, n_kept = 0;
    const char *vi = vtc_st_meta(st, "n_input"), *vk = vtc_st_meta(st, b->o->is_compress ? "n_kept" : "n_input");
    done = done && vi && vk && !cli_parse_int(vi, 1, INT64_MAX, &n_in) && !cli_parse_int(vk, 0, INT64_MAX, &n_kept);
    if (done) {
        const char *m = vtc_st_meta(st, "method");
        snprintf(s->method, sizeof s->method, "%s", m ? m : "");
        s->n_input = n_in, s->n_kept = n_kept;
    }
    vtc_st_close(st);
    return done;
}

// ---------------------------------------------------------------- the queue

// 0, or -1 when the run has stopped (the slot is not taken).
static int queue_put(struct batch *b, const struct slot *s) {
    pthread_mutex_lock(&b->mu);
    while (b->q_len == b->q_cap && !b->stop) pthread_cond_wait(&b->can_put, &b->mu);
    int stopped = b->stop;
    if (!stopped) {
        b->q[(b->q_head + b->q_len) % b->q_cap] = *s;
        b->q_len++;
        pthread_cond_signal(&b->can_get);
    }
    pthread_mutex_unlock(&b->mu);
    return stopped ? -1 : 0;
}

// 0 with the next slot, or -1 when there is none left (or the run has stopped).
static int queue_get(struct batch *b, struct slot *s) {
    pthread_mutex_lock(&b->mu);
    while (b->q_len == 0 && !b->produced_all && !b->stop) pthread_cond_wait(&b->can_get, &b->mu);
    int got = b->q_len > 0 && !b->stop;
    if (got) {
        *s = b->q[b->q_head];
        b->q_head = (b->q_head + 1) % b->q_cap;
        b->q_len--;
        pthread_cond_signal(&b->can_put);
    }
    pthread_mutex_unlock(&b->mu);
    return got ? 0 : -1;
}

static int stopped(struct batch *b) {
    pthread_mutex_lock(&b->mu);
    int s = b->stop;
    pthread_mutex_unlock(&b->mu);
    return s;
}

// The producer: each item of the shard in order, skipped when done, else decoded.
static void *produce(void *arg) {
    struct batch *b = arg;
    static struct slot s; // one producer; large (error text), so not on its stack
    for (int k = 0; k < b->n_mine && !stopped(b); k++) {
        memset(&s, 0, sizeof s);
        s.item = b->mine[k];
        const struct manifest_item *it = &b->m.items[s.item];
        if (!b->o->force && already_done(b, it, &s)) {
            s.state = SLOT_SKIPPED;
        } else {
            int st = cli_input_open(it->path, vtc_sample_for_model(b->model, b->sp), &b->mp.limits, b->threads_per_worker, &s.in);
            s.state = st ? SLOT_FAILED : SLOT_MEDIA;
            if (st) cli_status_text(st, "reading input", s.error, sizeof s.error);
        }
        if (queue_put(b, &s)) {
            cli_input_close(&s.in);
            break;
        }
    }
    pthread_mutex_lock(&b->mu);
    b->produced_all = 1;
    pthread_cond_broadcast(&b->can_get);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

// ---------------------------------------------------------------- the workers

struct worker {
    struct batch *b;
    vtc_ctx *ctx[2]; // without and with embeddings for every token (pipeline_ctx_params)
    pthread_t thread;
};

static vtc_ctx *worker_ctx(struct worker *w, const char *method) {
    struct vtc_ctx_params cp = pipeline_ctx_params(w->b->o, method, w->b->model);
    cp.n_threads = w->b->threads_per_worker;
    vtc_ctx **c = &w->ctx[cp.want_embeds != 0];
    if (!*c) *c = vtc_ctx_new(w->b->model, cp);
    return *c;
}

// mkdir -p of the folder a file goes in.
static int make_parent(const char *file) {
    char d[PATH_CAP];
    snprintf(d, sizeof d, "%s", file);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d) return VTC_OK;
    *slash = '\0';
    struct stat sb;
    if (!stat(d, &sb) && S_ISDIR(sb.st_mode)) return VTC_OK;
    for (char *p = d + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = '\0';
        if (mkdir(d, 0777) && errno != EEXIST) return vtc_set_error(VTC_ERR_IO, "%s: %s", d, strerror(errno));
        if (!c) break;
        *p = c;
    }
    return VTC_OK;
}

static void progress_bar(struct batch *b) {
    int done = b->n_finished, total = b->n_mine, width = 24, fill = total ? (int)((int64_t)done * width / total) : width;
    double s = (vtc_now_ms() - b->t_start) / 1000.0, rate = s > 0 ? done / s : 0;
    int eta = rate > 0 ? (int)((total - done) / rate + 0.5) : 0;
    fprintf(stderr, "\rbatch [%.*s%*s] %d/%d items, %.1f items/s, ETA %d:%02d\033[K", fill,
            "########################", width - fill, "", done, total, rate, eta / 60, eta % 60);
    fflush(stderr);
}

// An item's report line (O_APPEND, one write: a kill loses at most this line),
// its counts, and --max-failures.
static void finish_item(struct batch *b, const struct report *r, int64_t n_in, int64_t n_kept) {
    char *line = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&line, &len);
    int st = mem ? report_write_json(r, mem, 0) : vtc_set_error(VTC_ERR_NOMEM, "out of memory");
    if (mem && fputc('\n', mem) == EOF && !st) st = vtc_set_error(VTC_ERR_NOMEM, "out of memory");
    if (mem) fclose(mem);
    pthread_mutex_lock(&b->mu);
    if (!st) {
        ssize_t w = write(b->report_fd, line, len);
        if (w != (ssize_t)len) st = vtc_set_error(VTC_ERR_IO, "%s: %s", b->report_path, w < 0 ? strerror(errno) : "short write");
    }
    if (st && !b->fatal[0]) {
        cli_status_text(st, "writing report", b->fatal, sizeof b->fatal);
        b->stop = 1;
    }
    int failed = !strcmp(r->status, "failed");
    b->n_finished++;
    if (failed) b->n_failed++;
    else if (!strcmp(r->status, "skipped")) b->n_skipped++;
    else b->n_ok++, b->tok_in += n_in, b->tok_out += n_kept;
    if (failed && b->o->max_failures && b->n_failed >= b->o->max_failures) b->stop = 1;
    if (b->stop) pthread_cond_broadcast(&b->can_put), pthread_cond_broadcast(&b->can_get);
    if (b->progress) progress_bar(b);
    pthread_mutex_unlock(&b->mu);
    free(line);
}

static void process(struct worker *w, struct slot *s) {
    struct batch *b = w->b;
    const struct pipeline_opts *o = b->o;
    const struct manifest_item *it = &b->m.items[s->item];
    char out[PATH_CAP], err[1400];
    item_output(b, it, out);
    struct report r;
    report_init(&r, it->path, o->is_compress ? "compress" : "encode");
    r.output = out, r.id = it->id, r.path = it->given, r.model = b->model;
    r.lm = b->lm, r.lm_name = b->lm_name, r.n_text = o->text, r.n_gen = o->gen;
    vtc_features *f = NULL;
    vtc_tokens *tok = NULL;
    int64_t n_in = 0, n_kept = 0;
    if (s->state == SLOT_SKIPPED) {
        r.status = "skipped";
        r.file_method = o->is_compress ? s->method : NULL;
        r.file_n_input = s->n_input, r.file_n_kept = s->n_kept;
    } else if (s->state == SLOT_FAILED) {
        r.status = "failed", r.error = s->error;
    } else {
        r.in = &s->in, r.ms_decode = s->in.ms_open;
        struct vtc_prune_params pp = vtc_prune_params_default();
        const char *what = "compress";
        vtc_ctx *ctx = NULL;
        int st = o->is_compress ? item_params(b, it, s->in.video != NULL, &pp, &r.default_method) : VTC_OK;
        if (!st && !(ctx = worker_ctx(w, pp.method))) st = vtc_last_status(), what = "creating context";
        r.ctx = ctx;
        if (!st && (st = make_parent(out))) what = "writing";
        if (!st) st = pipeline_encode(ctx, o, &s->in, pp, &r, &f, &tok, &what, out);
        if (!st) {
            what = "writing";
            st = pipeline_save(o, &r, f, tok, out);
        }
        if (st) {
            cli_status_text(st, what, err, sizeof err);
            r.status = "failed", r.error = err, r.f = NULL, r.tokens = NULL;
        } else {
            r.status = "ok";
            n_in = f->n, n_kept = tok ? tok->n : f->n;
        }
    }
    finish_item(b, &r, n_in, n_kept);
    vtc_tokens_free(tok);
    vtc_features_free(f);
}

static void *work(void *arg) {
    struct worker *w = arg;
    struct slot *s = malloc(sizeof *s);
    while (s && !queue_get(w->b, s)) {
        process(w, s);
        cli_input_close(&s->in);
    }
    free(s);
    return NULL;
}

// ---------------------------------------------------------------- the run

// DIR/batch.json records the options a token file does not (model path, frame
// sampling, pooling, preprocessing, layer, seed): a rerun must give the same ones
// (or --force) to reuse what DIR holds. Created once, atomically, by whichever
// shard comes first. 0, or the exit code (printed).
static int check_options(const struct batch *b) {
    const struct pipeline_opts *o = b->o;
    struct vtc_json j;
    vtc_json_init_buffer(&j, 0);
    vtc_json_begin_object(&j);
    vtc_json_kv_string(&j, "command", o->is_compress ? "compress" : "encode");
    vtc_json_kv_string(&j, "model", o->model); // null: the embedded model
    vtc_json_kv_int(&j, "frames", o->frames);
    vtc_json_kv_double(&j, "fps", o->fps);
    vtc_json_kv_int(&j, "pool", o->pool);
    vtc_json_kv_int(&j, "aspect", o->aspect);
    vtc_json_kv_int(&j, "layer", o->layer);
    vtc_json_kv_int(&j, "seed", (int64_t)o->prune.seed);
    vtc_json_end_object(&j);
    int st = vtc_json_finish(&j);
    size_t len = 0;
    char *want = st ? NULL : vtc_json_take_buffer(&j, &len);
    vtc_json_free(&j);
    if (!want) return cli_status_error(st ? st : VTC_ERR_NOMEM, "writing options");
    char path[PATH_CAP], tmp[PATH_CAP + 16], have[4096];
    snprintf(path, sizeof path, "%s/batch.json", b->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int rc = CLI_OK;
    for (int attempt = 0; attempt < 2 && rc == CLI_OK; attempt++) {
        FILE *fp = o->force ? NULL : fopen(path, "rb");
        if (fp) {
            size_t n = fread(have, 1, sizeof have - 1, fp);
            fclose(fp);
            have[n] = '\0';
            if (strcmp(have, want))
                rc = cli_usage_error("--out-dir: %s holds a batch with other options (%s: %s); give the same ones, "
                                     "--force to redo every item, or another --out-dir",
                                     b->dir, path, have);
            break;
        }
        int fd = mkstemp(tmp);
        if (fd < 0 || write(fd, want, len) != (ssize_t)len || fsync(fd) || close(fd)) {
            rc = cli_runtime_error("writing %s: %s", path, strerror(errno));
            if (fd >= 0) unlink(tmp);
            break;
        }
        // first writer wins (link does not replace); --force replaces
        int put = o->force ? rename(tmp, path) : link(tmp, path);
        int e = errno;
        if (!o->force) unlink(tmp);
        if (!put) break;
        if (e != EEXIST) rc = cli_runtime_error("writing %s: %s", path, strerror(e));
        snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    }
    free(want);
    return rc;
}

static void summary_json(const struct batch *b, double seconds, int not_attempted) {
    struct vtc_json j;
    vtc_json_init_file(&j, stdout, 1);
    vtc_json_begin_object(&j);
    vtc_json_kv_string(&j, "command", b->o->is_compress ? "compress" : "encode");
    vtc_json_kv_string(&j, "manifest", b->m.name);
    vtc_json_kv_string(&j, "out_dir", b->dir);
    vtc_json_kv_string(&j, "report", b->report_path);
    vtc_json_kv_int(&j, "items", b->m.n);
    vtc_json_key(&j, "shard");
    if (b->shard_n) {
        vtc_json_begin_object(&j);
        vtc_json_kv_int(&j, "index", b->shard_i);
        vtc_json_kv_int(&j, "count", b->shard_n);
        vtc_json_kv_string(&j, "from", b->shard_how);
        vtc_json_end_object(&j);
    } else {
        vtc_json_null(&j);
    }
    vtc_json_kv_int(&j, "shard_items", b->n_mine);
    vtc_json_kv_int(&j, "ok", b->n_ok);
    vtc_json_kv_int(&j, "failed", b->n_failed);
    vtc_json_kv_int(&j, "skipped", b->n_skipped);
    vtc_json_kv_int(&j, "not_attempted", not_attempted);
    vtc_json_kv_int(&j, "n_input", b->tok_in);
    vtc_json_kv_int(&j, "n_kept", b->tok_out);
    vtc_json_kv_double(&j, "load_ms", b->ms_load);
    vtc_json_kv_double(&j, "seconds", seconds);
    vtc_json_kv_double(&j, "items_per_second", seconds > 0 ? b->n_finished / seconds : 0);
    vtc_json_end_object(&j);
    vtc_json_finish(&j);
}

static void summary(const struct batch *b, double seconds, int not_attempted) {
    if (b->o->json) {
        summary_json(b, seconds, not_attempted);
        return;
    }
    printf("batch     %s: %d item%s in %s", b->o->is_compress ? "compress" : "encode", b->m.n, b->m.n == 1 ? "" : "s",
           b->m.name);
    if (b->shard_n) printf("; shard %d/%d (%s): %d items", b->shard_i, b->shard_n, b->shard_how, b->n_mine);
    printf("\nitems     %d ok, %d failed, %d skipped (done before)\n", b->n_ok, b->n_failed, b->n_skipped);
    if (not_attempted)
        printf("stopped   %s; %d item%s not attempted\n", b->fatal[0] ? b->fatal : "--max-failures reached",
               not_attempted, not_attempted == 1 ? "" : "s");
    printf("tokens    %lld -> %lld (the items written)\n", (long long)b->tok_in, (long long)b->tok_out);
    printf("time      %.2f s, %.2f items/s (model load %.1f ms)\n", seconds,
           seconds > 0 ? b->n_finished / seconds : 0.0, b->ms_load);
    printf("report    %s\n", b->report_path);
}

int batch_run(const struct pipeline_opts *o) {
    static struct batch b; // one run per process; its queue and texts are large
    memset(&b, 0, sizeof b);
    b.o = o;
    b.suffix = o->is_compress ? ".tokens.safetensors" : ".features.safetensors";
    b.report_fd = -1;
    b.lm_name = o->lm ? o->lm : "llava-1.5-7b";
    if (!o->out_dir[0] || strlen(o->out_dir) >= PATH_CAP - 1100) return cli_usage_error("--out-dir: empty or too long");
    snprintf(b.dir, sizeof b.dir, "%s", o->out_dir);
    for (size_t n = strlen(b.dir); n > 1 && b.dir[n - 1] == '/'; n--) b.dir[n - 1] = '\0';
    if (o->shard_n) {
        b.shard_i = o->shard_i, b.shard_n = o->shard_n;
        snprintf(b.shard_how, sizeof b.shard_how, "--shard");
    } else {
        int r = shard_from_slurm(&b);
        if (r > 0) return r;
    }
    vtc_lm_preset(b.lm_name, &b.lm); // checked by the caller
    int st = manifest_read(o->manifest, &b.m);
    if (st) return cli_status_error(st, "reading manifest");
    // workers: --workers, else up to 4 that share --threads (default every CPU), one thread
    // at least each. Small encoders keep a core busier single-threaded than split over
    // several, and a worker's context and decoded input are what memory grows by.
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = o->threads ? o->threads : (int)(cpus > 0 ? cpus : 1);
    int rc = CLI_OK, n_workers = o->workers ? o->workers : threads < 4 ? threads : 4, n_started = 0;
    struct worker *workers = calloc((size_t)n_workers, sizeof *workers);
    b.mine = malloc((size_t)b.m.n * sizeof *b.mine);
    b.q_cap = n_workers + 1; // decoded items waiting: the bound on memory
    b.q = calloc((size_t)b.q_cap, sizeof *b.q);
    pthread_t producer;
    int producer_started = 0;
    if (!workers || !b.mine || !b.q) {
        rc = cli_runtime_error("batch: out of memory");
        goto done;
    }
    for (int k = 0; k < b.m.n; k++)
        if (!b.shard_n || k % b.shard_n == b.shard_i) b.mine[b.n_mine++] = k;
    if ((st = check_items(&b))) {
        rc = cli_status_error(st, "reading manifest");
        goto done;
    }
    char dir_probe[PATH_CAP];
    snprintf(dir_probe, sizeof dir_probe, "%s/.", b.dir);
    if ((st = make_parent(dir_probe))) {
        rc = cli_status_error(st, "--out-dir");
        goto done;
    }
    if ((rc = check_options(&b))) goto done;
    if (b.shard_n) snprintf(b.report_path, sizeof b.report_path, "%s/report.%d-of-%d.jsonl", b.dir, b.shard_i, b.shard_n);
    else snprintf(b.report_path, sizeof b.report_path, "%s/report.jsonl", b.dir);
    b.report_fd = open(b.report_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (b.report_fd < 0) {
        rc = cli_runtime_error("writing report: %s: %s", b.report_path, strerror(errno));
        goto done;
    }

    b.mp = pipeline_model_params(o);
    b.sp = pipeline_sample_params(o);
    double t0 = vtc_now_ms();
    b.model = o->model ? vtc_model_load(o->model, b.mp) : vtc_model_default(b.mp);
    b.ms_load = vtc_now_ms() - t0;
    if (!b.model) {
        rc = cli_status_error(vtc_last_status(), "loading model");
        goto done;
    }
    vtc_model_get_info(b.model, &b.mi);
    b.threads_per_worker = threads / n_workers > 0 ? threads / n_workers : 1;
    b.progress = isatty(STDERR_FILENO) && b.n_mine > 1;
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.can_put, NULL);
    pthread_cond_init(&b.can_get, NULL);
    b.t_start = vtc_now_ms();
    if (pthread_create(&producer, NULL, produce, &b)) {
        rc = cli_runtime_error("batch: cannot start a thread");
        goto done;
    }
    producer_started = 1;
    for (int i = 0; i < n_workers; i++) {
        workers[i].b = &b;
        if (i > 0 && pthread_create(&workers[i].thread, NULL, work, &workers[i])) break;
        n_started++;
    }
    work(&workers[0]); // the first worker is this thread
    for (int i = 1; i < n_started; i++) pthread_join(workers[i].thread, NULL);

done:
    if (producer_started) {
        pthread_mutex_lock(&b.mu);
        b.stop = 1; // wakes a producer waiting for room
        pthread_cond_broadcast(&b.can_put);
        pthread_mutex_unlock(&b.mu);
        pthread_join(producer, NULL);
        for (; b.q_len > 0; b.q_len--, b.q_head = (b.q_head + 1) % b.q_cap) cli_input_close(&b.q[b.q_head].in);
        if (b.progress) fputs("\r\033[K", stderr);
        double seconds = (vtc_now_ms() - b.t_start) / 1000.0;
        int not_attempted = b.n_mine - b.n_finished;
        summary(&b, seconds, not_attempted);
        if (b.fatal[0]) rc = cli_runtime_error("%s", b.fatal);
        else if (b.n_failed)
            rc = cli_runtime_error("batch: %d of %d item%s failed (errors in %s)", b.n_failed, b.n_mine,
                                   b.n_mine == 1 ? "" : "s", b.report_path);
        pthread_mutex_destroy(&b.mu);
        pthread_cond_destroy(&b.can_put);
        pthread_cond_destroy(&b.can_get);
    }
    for (int i = 0; workers && i < n_workers; i++) {
        vtc_ctx_free(workers[i].ctx[0]);
        vtc_ctx_free(workers[i].ctx[1]);
    }
    if (b.report_fd >= 0) close(b.report_fd);
    vtc_model_free(b.model);
    manifest_free(&b.m);
    free(workers);
    free(b.mine);
    free(b.q);
    return rc;
}
