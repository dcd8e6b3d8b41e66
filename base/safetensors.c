// Safetensors reader (one file or buffer), model-directory set, and atomic writer.
#include "safetensors.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

// JSON numbers reach us as doubles; integers are exact only up to 2^53.
#define JSON_INT_MAX 9007199254740992.0

struct vtc_st {
    vtc_file file;            // the mapping when opened from a path
    char *path;
    int n;
    vtc_tensor_view *t;       // [n]
    char *strings;            // tensor names, metadata keys and values, NUL-terminated
    int n_meta;
    const char **meta;        // [2 * n_meta]: key, value, key, value, ...
    vtc_name_index ix;
};

static int is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// An integral JSON number in [0, 2^53].
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= JSON_INT_MAX) || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

// Validates one tensor entry against the data area and fills the view (name set by caller).
static int parse_entry(const char *path, const cJSON *e, const uint8_t *data, size_t dsize, vtc_tensor_view *v,
                       uint64_t *begin_out) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: \"dtype\" missing or not a string", path, name);
    v->dtype = vtc_dtype_from_name(dt->valuestring, strlen(dt->valuestring));
    if (v->dtype < 0)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: %s: unknown dtype \"%.32s\"", path, name, dt->valuestring);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(shape))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: \"shape\" missing or not an array", path, name);
    int nd = 0, has_zero = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) {
        if (nd == VTC_TENSOR_MAX_DIMS)
            return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: %s: more than %d dimensions", path, name,
                                 VTC_TENSOR_MAX_DIMS);
        uint64_t dim;
        if (json_uint(d, &dim))
            return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: shape[%d] is not a non-negative integer", path, name, nd);
        v->shape[nd++] = (int64_t)dim;
        has_zero |= dim == 0;
    }
    v->n_dims = nd;
    size_t nbytes = vtc_dtype_size(v->dtype);
    for (int i = 0; i < nd && !has_zero; i++)
        if (vtc_mul_size(nbytes, (size_t)v->shape[i], &nbytes))
            return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: shape's byte size overflows", path, name);
    if (has_zero) nbytes = 0;

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    uint64_t b, end;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || json_uint(off->child, &b) ||
        json_uint(off->child->next, &end))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: \"data_offsets\" must be [begin, end] non-negative integers",
                             path, name);
    if (b > end)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: data_offsets [%llu, %llu] are reversed", path, name,
                             (unsigned long long)b, (unsigned long long)end);
    if (end > dsize)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: data_offsets [%llu, %llu] run past the data area (%zu bytes)",
                             path, name, (unsigned long long)b, (unsigned long long)end, dsize);
    if (end - b != nbytes)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: shape needs %zu bytes of %s but data_offsets span %llu", path,
                             name, nbytes, vtc_dtype_name(v->dtype), (unsigned long long)(end - b));
    v->data = data + b;
    v->nbytes = nbytes;
    *begin_out = b;
    return VTC_OK;
}

static char *put_string(char **cursor, const char *s) {
    size_t len = strlen(s) + 1;
    char *at = *cursor;
    memcpy(at, s, len);
    *cursor += len;
    return at;
}

// Parses and validates the header of buf[size] into st (st->path set, rest zero).
static int st_parse(void *reader, const uint8_t *buf, size_t size) {
    vtc_st *st = reader;
    const char *path = st->path;
    if (size < 8)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %zu bytes is too short for a safetensors file", path, size);
    uint64_t hlen;
    memcpy(&hlen, buf, 8);
    if (hlen > size - 8)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                             (unsigned long long)hlen, size);
    if (hlen > VTC_ST_MAX_HEADER)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: header of %llu bytes exceeds the %u byte cap", path,
                             (unsigned long long)hlen, VTC_ST_MAX_HEADER);
    if (hlen < 2) return vtc_set_error(VTC_ERR_FORMAT, "%s: header of %llu bytes", path, (unsigned long long)hlen);
    const uint8_t *data = buf + 8 + hlen;
    size_t dsize = size - 8 - (size_t)hlen;

    // cJSON gets a NUL-terminated copy: it may look one byte past a malformed string.
    char *text = vtc_alloc((size_t)hlen + 1, 1);
    if (!text) return VTC_ERR_NOMEM;
    memcpy(text, buf + 8, (size_t)hlen);
    text[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, 0);
    int status = VTC_OK;
    if (!root) {
        status = vtc_set_error(VTC_ERR_FORMAT, "%s: header is not valid JSON (at byte %td)", path,
                               end ? end - text : (ptrdiff_t)0);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        status = vtc_set_error(VTC_ERR_FORMAT, "%s: header JSON is not an object", path);
        goto done;
    }
    for (const char *p = end; p < text + hlen; p++)
        if (!is_json_space(*p)) {
            status = vtc_set_error(VTC_ERR_FORMAT, "%s: bytes after the header JSON (at byte %td)", path, p - text);
            goto done;
        }

    // Pass 1: count entries and string bytes; check __metadata__.
    size_t n = 0, n_meta = 0, bytes = 0;
    const cJSON *meta = NULL, *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (meta) {
                status = vtc_set_error(VTC_ERR_FORMAT, "%s: __metadata__ appears twice", path);
                goto done;
            }
            meta = e;
            if (!cJSON_IsObject(e)) {
                status = vtc_set_error(VTC_ERR_FORMAT, "%s: __metadata__ is not an object", path);
                goto done;
            }
            const cJSON *m;
            cJSON_ArrayForEach(m, e) {
                if (!cJSON_IsString(m)) {
                    status = vtc_set_error(VTC_ERR_FORMAT, "%s: __metadata__: value of \"%.64s\" is not a string",
                                           path, m->string);
                    goto done;
                }
                bytes += strlen(m->string) + strlen(m->valuestring) + 2;
                n_meta++;
            }
        } else {
            bytes += strlen(e->string) + 1;
            n++;
        }
    }
    if (n > INT_MAX / 2 || n_meta > INT_MAX / 2) {
        status = vtc_set_error(VTC_ERR_LIMIT, "%s: too many header entries", path);
        goto done;
    }

    // Pass 2: validate and fill.
    st->t = vtc_zalloc(n, sizeof *st->t);
    st->strings = vtc_alloc(bytes, 1);
    st->meta = vtc_zalloc(2 * n_meta, sizeof *st->meta);
    uint64_t *begins = vtc_alloc(n, sizeof *begins);
    if (!st->t || !st->strings || !st->meta || !begins || vtc_name_index_init(&st->ix, n)) {
        free(begins);
        status = VTC_ERR_NOMEM;
        goto done;
    }
    char *cursor = st->strings;
    if (meta) {
        const cJSON *m;
        cJSON_ArrayForEach(m, meta) {
            st->meta[2 * st->n_meta] = put_string(&cursor, m->string);
            st->meta[2 * st->n_meta + 1] = put_string(&cursor, m->valuestring);
            st->n_meta++;
        }
    }
    cJSON_ArrayForEach(e, root) {
        if (e == meta) continue;
        vtc_tensor_view *v = &st->t[st->n];
        status = parse_entry(path, e, data, dsize, v, &begins[st->n]);
        if (status) break;
        v->name = put_string(&cursor, e->string);
        if (vtc_name_index_add(&st->ix, v->name, st->n) != -1) {
            status = vtc_set_error(VTC_ERR_FORMAT, "%s: %s: duplicate tensor name", path, v->name);
            break;
        }
        st->n++;
    }
    if (!status) status = vtc_views_check_disjoint(path, st->t, begins, st->n);
    free(begins);
done:
    cJSON_Delete(root);
    free(text);
    return status;
}

static void st_close(void *st) { vtc_st_close(st); }

static const vtc_reader_kind ST_READER = {
    "vtc_st", sizeof(vtc_st), offsetof(vtc_st, file), offsetof(vtc_st, path), st_parse, st_close,
};

int vtc_st_open_memory(const void *data, size_t size, vtc_st **out) {
    return vtc_reader_open_memory(&ST_READER, data, size, (void **)out);
}

int vtc_st_open(const char *path, int use_mmap, vtc_st **out) {
    return vtc_reader_open(&ST_READER, path, use_mmap, (void **)out);
}

void vtc_st_close(vtc_st *st) {
    if (!st) return;
    vtc_name_index_free(&st->ix);
    vtc_file_close(&st->file);
    free(st->t);
    free(st->strings);
    free(st->meta);
    free(st->path);
    free(st);
}

int vtc_st_count(const vtc_st *st) { return st ? st->n : 0; }

const vtc_tensor_view *vtc_st_tensor(const vtc_st *st, int i) {
    return st && i >= 0 && i < st->n ? &st->t[i] : NULL;
}

const vtc_tensor_view *vtc_st_find(const vtc_st *st, const char *name) {
    if (!st || !name) return NULL;
    int i = vtc_name_index_find(&st->ix, name);
    return i >= 0 ? &st->t[i] : NULL;
}

const char *vtc_st_meta(const vtc_st *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i], key) == 0) return st->meta[2 * i + 1];
    return NULL;
}

int vtc_st_meta_count(const vtc_st *st) { return st ? st->n_meta : 0; }

int vtc_st_meta_at(const vtc_st *st, int i, const char **key, const char **value) {
    if (!st || i < 0 || i >= st->n_meta) return vtc_set_error(VTC_ERR_ARG, "metadata index %d out of range", i);
    if (key) *key = st->meta[2 * i];
    if (value) *value = st->meta[2 * i + 1];
    return VTC_OK;
}

const char *vtc_st_path(const vtc_st *st) { return st ? st->path : NULL; }

// ---------------------------------------------------------------- model directory

#define INDEX_NAME "model.safetensors.index.json"
#define MAX_INDEX_BYTES (64u << 20)

struct vtc_stset {
    int n_shards;
    vtc_st **shards;          // [n_shards]
    int n;
    const vtc_tensor_view **views; // [n], into the shards
    int *shard_of;            // [n]
    vtc_name_index ix;
};

static char *join_path(const char *dir, const char *name) {
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = vtc_alloc(dl + nl + 2, 1);
    if (!p) {
        vtc_set_error(VTC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(p, dir, dl);
    if (slash) p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Opens the named shards (file names in dir, sorted, unique) and indexes their tensors.
// The name index over the shards already open.
static int stset_index(vtc_stset *set) {
    size_t total = 0;
    for (int s = 0; s < set->n_shards; s++) total += (size_t)set->shards[s]->n;
    if (total > INT_MAX / 2) return vtc_set_error(VTC_ERR_LIMIT, "%s: too many tensors", set->shards[0]->path);
    set->views = vtc_alloc(total, sizeof *set->views);
    set->shard_of = vtc_alloc(total, sizeof *set->shard_of);
    if (!set->views || !set->shard_of || vtc_name_index_init(&set->ix, total)) return VTC_ERR_NOMEM;
    for (int s = 0; s < set->n_shards; s++)
        for (int i = 0; i < set->shards[s]->n; i++) {
            const vtc_tensor_view *v = &set->shards[s]->t[i];
            int prev = vtc_name_index_add(&set->ix, v->name, set->n);
            if (prev != -1)
                return vtc_set_error(VTC_ERR_FORMAT, "%s: %s: tensor also in %s", set->shards[s]->path, v->name,
                                     set->shards[set->shard_of[prev]]->path);
            set->views[set->n] = v;
            set->shard_of[set->n] = s;
            set->n++;
        }
    return VTC_OK;
}

static int stset_load(vtc_stset *set, const char *dir, char **names, int n_names, int use_mmap) {
    set->shards = vtc_zalloc((size_t)n_names, sizeof *set->shards);
    if (!set->shards) return VTC_ERR_NOMEM;
    for (int i = 0; i < n_names; i++) {
        char *p = dir ? join_path(dir, names[i]) : vtc_strdup(names[i]);
        if (!p) return vtc_set_error(VTC_ERR_NOMEM, "out of memory");
        int status = vtc_st_open(p, use_mmap, &set->shards[i]);
        free(p);
        if (status) return status;
        set->n_shards++;
    }
    return stset_index(set);
}

int vtc_stset_open_memory(const void *data, size_t size, vtc_stset **out) {
    if (!out || !data) return vtc_set_error(VTC_ERR_ARG, "vtc_stset_open_memory: NULL argument");
    *out = NULL;
    vtc_stset *set = vtc_zalloc(1, sizeof *set);
    int status = set ? 0 : VTC_ERR_NOMEM;
    if (!status && !(set->shards = vtc_zalloc(1, sizeof *set->shards))) status = VTC_ERR_NOMEM;
    if (!status && !(status = vtc_st_open_memory(data, size, &set->shards[0]))) set->n_shards = 1;
    if (!status) status = stset_index(set);
    if (status) {
        vtc_stset_close(set);
        return status;
    }
    *out = set;
    return VTC_OK;
}

static int valid_shard_name(const char *s) {
    return s[0] && !strchr(s, '/') && !strchr(s, '\\') && !strstr(s, "..");
}

static int stset_from_index(vtc_stset *set, const char *dir, const char *index_path, int use_mmap) {
    vtc_file f;
    int status = vtc_file_open(index_path, 0, &f);
    if (status) return status;
    if (f.size > MAX_INDEX_BYTES) {
        vtc_file_close(&f);
        return vtc_set_error(VTC_ERR_LIMIT, "%s: index larger than %u bytes", index_path, MAX_INDEX_BYTES);
    }
    char *text = vtc_alloc(f.size + 1, 1);
    if (!text) {
        vtc_file_close(&f);
        return VTC_ERR_NOMEM;
    }
    memcpy(text, f.data, f.size);
    text[f.size] = '\0';
    cJSON *root = cJSON_ParseWithLength(text, f.size);
    vtc_file_close(&f);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    char **names = NULL;
    int n_names = 0;
    if (!cJSON_IsObject(root)) {
        status = vtc_set_error(VTC_ERR_FORMAT, "%s: not a JSON object", index_path);
    } else if (!cJSON_IsObject(map) || !map->child) {
        status = vtc_set_error(VTC_ERR_FORMAT, "%s: \"weight_map\" missing, empty or not an object", index_path);
    } else {
        int count = cJSON_GetArraySize(map);
        names = vtc_alloc((size_t)count, sizeof *names);
        if (!names) status = VTC_ERR_NOMEM;
        const cJSON *e;
        cJSON_ArrayForEach(e, map) {
            if (status) break;
            if (!cJSON_IsString(e) || !valid_shard_name(e->valuestring))
                status = vtc_set_error(VTC_ERR_FORMAT, "%s: weight_map: %s: shard must be a file name in %s",
                                       index_path, e->string, dir);
            else
                names[n_names++] = e->valuestring;
        }
    }
    if (!status) {
        qsort(names, (size_t)n_names, sizeof *names, cmp_str);
        int u = 0;
        for (int i = 0; i < n_names; i++)
            if (u == 0 || strcmp(names[u - 1], names[i])) names[u++] = names[i];
        status = stset_load(set, dir, names, u, use_mmap);
    }
    // Every tensor the map lists must be where it says.
    const cJSON *e;
    if (!status) cJSON_ArrayForEach(e, map) {
        int i = vtc_name_index_find(&set->ix, e->string);
        const char *shard = i < 0 ? NULL : strrchr(set->shards[set->shard_of[i]]->path, '/');
        if (i < 0 || strcmp(shard ? shard + 1 : set->shards[set->shard_of[i]]->path, e->valuestring)) {
            status = vtc_set_error(VTC_ERR_FORMAT, "%s: %s: not found in %s", index_path, e->string, e->valuestring);
            break;
        }
    }
    free(names);
    cJSON_Delete(root);
    return status;
}

static int stset_from_dir(vtc_stset *set, const char *dir, int use_mmap) {
    DIR *d = opendir(dir);
    if (!d) return vtc_set_error(VTC_ERR_IO, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0, status = VTC_OK;
    struct dirent *de;
    while (!status && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".safetensors")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            char **grown = vtc_realloc(names, (size_t)cap, sizeof *names);
            if (!grown) {
                status = vtc_set_error(VTC_ERR_NOMEM, "out of memory");
                break;
            }
            names = grown;
        }
        if (!(names[n] = vtc_strdup(de->d_name)))
            status = vtc_set_error(VTC_ERR_NOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (!status && n == 0)
        status = vtc_set_error(VTC_ERR_IO, "%s: no " INDEX_NAME " and no *.safetensors file", dir);
    if (!status) {
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        status = stset_load(set, dir, names, n, use_mmap);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return status;
}

int vtc_stset_open(const char *path, int use_mmap, vtc_stset **out) {
    if (!out || !path) return vtc_set_error(VTC_ERR_ARG, "vtc_stset_open: NULL argument");
    *out = NULL;
    vtc_stset *set = vtc_zalloc(1, sizeof *set);
    if (!set) return VTC_ERR_NOMEM;
    struct stat sb;
    int status;
    if (stat(path, &sb) != 0) {
        status = vtc_set_error(VTC_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        char *index = join_path(path, INDEX_NAME);
        if (!index)
            status = VTC_ERR_NOMEM;
        else if (access(index, F_OK) == 0)
            status = stset_from_index(set, path, index, use_mmap);
        else
            status = stset_from_dir(set, path, use_mmap);
        free(index);
    } else if (ends_with(path, ".index.json")) {
        char *dir = vtc_strdup(path);
        if (!dir) {
            status = vtc_set_error(VTC_ERR_NOMEM, "out of memory");
        } else {
            char *slash = strrchr(dir, '/');
            if (slash)
                slash[1] = '\0';
            else
                strcpy(dir, ".");
            status = stset_from_index(set, dir, path, use_mmap);
            free(dir);
        }
    } else {
        char *one = (char *)path;
        status = stset_load(set, NULL, &one, 1, use_mmap);
    }
    if (status) {
        vtc_stset_close(set);
        return status;
    }
    *out = set;
    return VTC_OK;
}

void vtc_stset_close(vtc_stset *set) {
    if (!set) return;
    for (int i = 0; i < set->n_shards; i++) vtc_st_close(set->shards[i]);
    free(set->shards);
    free(set->views);
    free(set->shard_of);
    vtc_name_index_free(&set->ix);
    free(set);
}

int vtc_stset_count(const vtc_stset *set) { return set ? set->n : 0; }

const vtc_tensor_view *vtc_stset_tensor(const vtc_stset *set, int i) {
    return set && i >= 0 && i < set->n ? set->views[i] : NULL;
}

const vtc_tensor_view *vtc_stset_find(const vtc_stset *set, const char *name) {
    if (!set || !name) return NULL;
    int i = vtc_name_index_find(&set->ix, name);
    return i >= 0 ? set->views[i] : NULL;
}

int vtc_stset_shard_count(const vtc_stset *set) { return set ? set->n_shards : 0; }

const vtc_st *vtc_stset_shard(const vtc_stset *set, int i) {
    return set && i >= 0 && i < set->n_shards ? set->shards[i] : NULL;
}

// ---------------------------------------------------------------- writer

struct wtensor {
    char *name;
    int dtype, n_dims;
    int64_t shape[VTC_TENSOR_MAX_DIMS];
    const void *data;
    size_t nbytes;
};

struct vtc_st_writer {
    int n, cap;
    struct wtensor *t;
    int n_meta, meta_cap;
    char **meta; // [2 * meta_cap]: key, value, ...
};

vtc_st_writer *vtc_st_writer_new(void) { return vtc_zalloc(1, sizeof(vtc_st_writer)); }

void vtc_st_writer_free(vtc_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    for (int i = 0; i < 2 * w->n_meta; i++) free(w->meta[i]);
    free(w->t);
    free(w->meta);
    free(w);
}

// Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF): JSON readers insist.
static int valid_utf8(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t n = strlen(str), len; n; s += len, n -= len)
        if (!(len = vtc_utf8_len(s, n))) return 0;
    return 1;
}

int vtc_st_writer_add(vtc_st_writer *w, const char *name, int dtype, int n_dims, const int64_t *shape,
                      const void *data) {
    if (!w || !name) return vtc_set_error(VTC_ERR_ARG, "vtc_st_writer_add: NULL argument");
    if (!valid_utf8(name) || strcmp(name, "__metadata__") == 0)
        return vtc_set_error(VTC_ERR_ARG, "tensor name \"%.64s\" is not allowed", name);
    if (dtype < 0 || dtype >= VTC_DT_COUNT || dtype == VTC_DT_GGML_QUANT)
        return vtc_set_error(VTC_ERR_ARG, "%s: dtype %d cannot be written", name, dtype);
    if (n_dims < 0 || n_dims > VTC_TENSOR_MAX_DIMS || (n_dims && !shape))
        return vtc_set_error(VTC_ERR_ARG, "%s: %d dimensions", name, n_dims);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0) return vtc_set_error(VTC_ERR_ARG, "%s: tensor added twice", name);
    struct wtensor t = { .dtype = dtype, .n_dims = n_dims, .data = data };
    size_t nbytes = vtc_dtype_size(dtype);
    int has_zero = 0;
    for (int i = 0; i < n_dims; i++) {
        if (shape[i] < 0 || (double)shape[i] > JSON_INT_MAX)
            return vtc_set_error(VTC_ERR_ARG, "%s: shape[%d] = %lld", name, i, (long long)shape[i]);
        t.shape[i] = shape[i];
        has_zero |= shape[i] == 0;
    }
    for (int i = 0; i < n_dims && !has_zero; i++)
        if (vtc_mul_size(nbytes, (size_t)shape[i], &nbytes))
            return vtc_set_error(VTC_ERR_ARG, "%s: byte size overflows", name);
    t.nbytes = has_zero ? 0 : nbytes;
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 8;
        struct wtensor *grown = vtc_realloc(w->t, (size_t)cap, sizeof *grown);
        if (!grown) return vtc_set_error(VTC_ERR_NOMEM, "out of memory");
        w->t = grown;
        w->cap = cap;
    }
    if (!(t.name = vtc_strdup(name))) return vtc_set_error(VTC_ERR_NOMEM, "out of memory");
    w->t[w->n++] = t;
    return VTC_OK;
}

int vtc_st_writer_meta(vtc_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value) return vtc_set_error(VTC_ERR_ARG, "vtc_st_writer_meta: NULL argument");
    if (!valid_utf8(key) || !valid_utf8(value))
        return vtc_set_error(VTC_ERR_ARG, "metadata \"%.64s\": not valid UTF-8", key);
    char *v = vtc_strdup(value);
    if (!v) return vtc_set_error(VTC_ERR_NOMEM, "out of memory");
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[2 * i], key) == 0) {
            free(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = v;
            return VTC_OK;
        }
    if (w->n_meta == w->meta_cap) {
        int cap = w->meta_cap ? 2 * w->meta_cap : 8;
        char **grown = vtc_realloc(w->meta, (size_t)cap * 2, sizeof *grown);
        if (!grown) {
            free(v);
            return vtc_set_error(VTC_ERR_NOMEM, "out of memory");
        }
        w->meta = grown;
        w->meta_cap = cap;
    }
    char *k = vtc_strdup(key);
    if (!k) {
        free(v);
        return vtc_set_error(VTC_ERR_NOMEM, "out of memory");
    }
    w->meta[2 * w->n_meta] = k;
    w->meta[2 * w->n_meta + 1] = v;
    w->n_meta++;
    return VTC_OK;
}

struct strbuf {
    char *p;
    size_t len, cap;
    int failed;
};

static void sb_put(struct strbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *grown = vtc_realloc(b->p, cap, 1);
        if (!grown) {
            b->failed = 2; // out of memory (1: too large)
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(struct strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static void sb_u64(struct strbuf *b, uint64_t v) {
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    sb_str(b, num);
}

// The header of w (padded so the data area starts 8-byte aligned) into *h; its
// tensors' data offsets in off[] when off is not NULL.
static int st_header(const vtc_st_writer *w, const char *path, struct strbuf *h_out, uint64_t *off) {
    struct strbuf h = { 0 };
    sb_str(&h, "{");
    if (w->n_meta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < w->n_meta; i++) {
            if (i) sb_str(&h, ",");
            sb_json_string(&h, w->meta[2 * i]);
            sb_str(&h, ":");
            sb_json_string(&h, w->meta[2 * i + 1]);
        }
        sb_str(&h, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < w->n; i++) {
        const struct wtensor *t = &w->t[i];
        if (i || w->n_meta) sb_str(&h, ",");
        sb_json_string(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, vtc_dtype_name(t->dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t->n_dims; d++) {
            if (d) sb_str(&h, ",");
            sb_u64(&h, (uint64_t)t->shape[d]);
        }
        sb_str(&h, "],\"data_offsets\":[");
        if (off) off[i] = offset;
        sb_u64(&h, offset);
        sb_str(&h, ",");
        offset += t->nbytes;
        sb_u64(&h, offset);
        sb_str(&h, "]}");
        if ((double)offset > JSON_INT_MAX) h.failed = 1;
    }
    sb_str(&h, "}");
    while (!h.failed && (8 + h.len) % 8) sb_str(&h, " ");
    if (h.failed || h.len > VTC_ST_MAX_HEADER) {
        free(h.p);
        if (h.failed == 2) return vtc_wrap_error(VTC_ERR_NOMEM, "%s: header", path);
        return vtc_set_error(VTC_ERR_LIMIT, "%s: header too large", path);
    }
    *h_out = h;
    return VTC_OK;
}

// Opens the temporary file of path and writes the length and the header.
static int st_start(const struct strbuf *h, const char *path, vtc_atomic_file *af) {
    int status = vtc_atomic_open(path, af);
    if (status) return status;
    uint8_t len_le[8];
    uint64_t hlen = h->len;
    memcpy(len_le, &hlen, 8);
    status = vtc_atomic_write(af, len_le, 8);
    if (!status) status = vtc_atomic_write(af, h->p, h->len);
    if (status) vtc_atomic_abort(af);
    return status;
}

int vtc_st_writer_write(const vtc_st_writer *w, const char *path) {
    if (!w || !path) return vtc_set_error(VTC_ERR_ARG, "vtc_st_writer_write: NULL argument");
    for (int i = 0; i < w->n; i++)
        if (w->t[i].nbytes && !w->t[i].data) return vtc_set_error(VTC_ERR_ARG, "%s: NULL data", w->t[i].name);
    struct strbuf h = { 0 };
    int status = st_header(w, path, &h, NULL);
    vtc_atomic_file af;
    if (!status) status = st_start(&h, path, &af);
    free(h.p);
    if (status) return status;
    for (int i = 0; i < w->n && !status; i++) status = vtc_atomic_write(&af, w->t[i].data, w->t[i].nbytes);
    if (status) {
        vtc_atomic_abort(&af);
        return status;
    }
    return vtc_atomic_commit(&af);
}

int vtc_st_stream_begin(const vtc_st_writer *w, const char *path, vtc_st_stream *out) {
    if (!w || !path || !out) return vtc_set_error(VTC_ERR_ARG, "vtc_st_stream_begin: NULL argument");
    memset(out, 0, sizeof *out);
    out->af.fd = -1;
    uint64_t *off = vtc_alloc(w->n ? (size_t)w->n : 1, sizeof(uint64_t));
    if (!off) return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", path);
    struct strbuf h = { 0 };
    int status = st_header(w, path, &h, off);
    if (!status) status = st_start(&h, path, &out->af);
    if (status) {
        free(off);
        free(h.p);
        return status;
    }
    uint64_t end = 8 + h.len;
    for (int i = 0; i < w->n; i++) off[i] += 8 + h.len, end = off[i] + w->t[i].nbytes;
    free(h.p);
    // the file's final size now: a full disk fails here rather than half-way
    if (ftruncate(out->af.fd, (off_t)end) != 0) {
        status = vtc_set_error(VTC_ERR_IO, "%s: %s", path, strerror(errno));
        vtc_atomic_abort(&out->af);
        free(off);
        return status;
    }
    for (int i = 0; i < w->n; i++) // what the writer holds already
        if (w->t[i].data && w->t[i].nbytes &&
            (status = vtc_atomic_pwrite(&out->af, off[i], w->t[i].data, w->t[i].nbytes))) {
            vtc_atomic_abort(&out->af);
            free(off);
            return status;
        }
    out->w = w;
    out->offsets = off;
    return VTC_OK;
}

int vtc_st_stream_put(vtc_st_stream *s, int tensor, uint64_t at, const void *data, size_t n) {
    if (!s || !s->w || tensor < 0 || tensor >= s->w->n || (n && !data) || at > s->w->t[tensor].nbytes ||
        n > s->w->t[tensor].nbytes - at)
        return vtc_set_error(VTC_ERR_ARG, "vtc_st_stream_put: bytes outside the tensor");
    return n ? vtc_atomic_pwrite(&s->af, s->offsets[tensor] + at, data, n) : VTC_OK;
}

int vtc_st_stream_commit(vtc_st_stream *s) {
    free(s->offsets);
    s->offsets = NULL;
    s->w = NULL;
    return vtc_atomic_commit(&s->af);
}

void vtc_st_stream_abort(vtc_st_stream *s) {
    if (!s) return;
    free(s->offsets);
    s->offsets = NULL;
    s->w = NULL;
    vtc_atomic_abort(&s->af);
}
