// Whole-file input (mmap or read) and atomic output (temporary file + rename).
#include "mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static const uint8_t EMPTY[1];

int vtc_file_open(const char *path, int use_mmap, vtc_file *f) {
    memset(f, 0, sizeof *f);
    if (!path) return vtc_set_error(VTC_ERR_ARG, "vtc_file_open: NULL path");
    // O_NONBLOCK so that opening a FIFO does not hang before we can refuse it.
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return vtc_set_error(VTC_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return vtc_set_error(VTC_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return vtc_set_error(VTC_ERR_IO, "%s: %s", path,
                             S_ISDIR(sb.st_mode) ? strerror(EISDIR) : "not a regular file");
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > (uint64_t)(SIZE_MAX / 2)) {
        close(fd);
        return vtc_set_error(VTC_ERR_IO, "%s: file too large to map", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size == 0) {
        close(fd);
        f->data = EMPTY;
        return VTC_OK;
    }
    if (use_mmap) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            close(fd);
            f->map = p;
            f->mapped = 1;
            f->data = p;
            f->size = size;
            return VTC_OK;
        }
        // fall through: some file systems cannot map; reading still works
    }
    uint8_t *buf = vtc_alloc(size, 1);
    if (!buf) {
        close(fd);
        return vtc_wrap_error(VTC_ERR_NOMEM, "%s", path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            free(buf);
            return vtc_set_error(VTC_ERR_IO, "%s: %s", path, e ? strerror(e) : "file shrank while being read");
        }
        got += (size_t)r;
    }
    close(fd);
    f->map = buf;
    f->data = buf;
    f->size = size;
    return VTC_OK;
}

void vtc_file_close(vtc_file *f) {
    if (!f) return;
    if (f->mapped)
        munmap(f->map, f->size);
    else
        free(f->map);
    memset(f, 0, sizeof *f);
}

// ---------------------------------------------------------------- model-file readers

// path NULL: over data[size], named "<memory>".
static int reader_open(const vtc_reader_kind *kind, const char *path, int use_mmap, const void *data, size_t size,
                       void **out) {
    char *r = vtc_zalloc(1, kind->size);
    if (!r) return VTC_ERR_NOMEM;
    char **name = (char **)(r + kind->path_at);
    vtc_file *file = (vtc_file *)(r + kind->file_at);
    if (!(*name = vtc_strdup(path ? path : "<memory>"))) {
        free(r);
        return VTC_ERR_NOMEM;
    }
    int st = path ? vtc_file_open(path, use_mmap, file) : VTC_OK;
    if (!st) st = path ? kind->parse(r, file->data, file->size) : kind->parse(r, data, size);
    if (st) {
        kind->close(r);
        return st;
    }
    *out = r;
    return VTC_OK;
}

int vtc_reader_open(const vtc_reader_kind *kind, const char *path, int use_mmap, void **out) {
    if (!out || !path) return vtc_set_error(VTC_ERR_ARG, "%s_open: NULL argument", kind->api);
    *out = NULL;
    return reader_open(kind, path, use_mmap, NULL, 0, out);
}

int vtc_reader_open_memory(const vtc_reader_kind *kind, const void *data, size_t size, void **out) {
    if (!out) return vtc_set_error(VTC_ERR_ARG, "%s_open_memory: NULL argument", kind->api);
    *out = NULL;
    if (!data && size) return vtc_set_error(VTC_ERR_ARG, "%s_open_memory: NULL data", kind->api);
    return reader_open(kind, NULL, 0, data, size, out);
}

// ---------------------------------------------------------------- temporary-file registry
// Fixed static slots so the signal handler touches no heap and no locks.
// State: 0 free, 1 claimed (path being copied in or out), 2 live (handler may unlink).

#define TMP_SLOTS 16
#define TMP_PATH_MAX 4096
static char g_tmp_path[TMP_SLOTS][TMP_PATH_MAX];
static atomic_int g_tmp_state[TMP_SLOTS];

static int tmp_register(const char *path) {
    size_t len = strlen(path);
    if (len >= TMP_PATH_MAX) return -1;
    for (int i = 0; i < TMP_SLOTS; i++) {
        int expect = 0;
        if (atomic_compare_exchange_strong(&g_tmp_state[i], &expect, 1)) {
            memcpy(g_tmp_path[i], path, len + 1);
            atomic_store(&g_tmp_state[i], 2);
            return i;
        }
    }
    return -1;
}

static void tmp_unregister(int slot) {
    if (slot < 0) return;
    atomic_store(&g_tmp_state[slot], 1);
    g_tmp_path[slot][0] = '\0';
    atomic_store(&g_tmp_state[slot], 0);
}

void vtc_tmpfile_cleanup_signal_safe(void) {
    for (int i = 0; i < TMP_SLOTS; i++)
        if (atomic_load(&g_tmp_state[i]) == 2) unlink(g_tmp_path[i]);
}

// ---------------------------------------------------------------- atomic output

static atomic_uint g_tmp_counter;

static void release(vtc_atomic_file *af) {
    tmp_unregister(af->slot);
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->fd = -1;
    af->slot = -1;
}

int vtc_output_replaceable(const char *path) {
    // The rename that makes a write atomic would replace a device or FIFO
    // (-o /dev/null, as root) with a regular file: refuse anything but a file.
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return vtc_set_error(VTC_ERR_IO, "%s: not a regular file (%s)", path,
                             S_ISDIR(sb.st_mode) ? "a directory" : "a device, FIFO or socket");
    return VTC_OK;
}

int vtc_atomic_open(const char *path, vtc_atomic_file *af) {
    af->fd = -1;
    af->slot = -1;
    af->path = af->tmp_path = NULL;
    // Error returns are literals (not vtc_set_error's value) so that analyzers
    // see that a 0 return always comes with an open file.
    if (!path || !path[0]) {
        vtc_set_error(VTC_ERR_ARG, "output path is empty");
        return VTC_ERR_ARG;
    }
    if (vtc_output_replaceable(path)) return VTC_ERR_IO;
    size_t len = strlen(path), cap;
    if (vtc_add_size(len, 16, &cap)) {
        vtc_set_error(VTC_ERR_ARG, "output path too long");
        return VTC_ERR_ARG;
    }
    af->path = vtc_strdup(path);
    af->tmp_path = vtc_alloc(cap, 1);
    if (!af->path || !af->tmp_path) {
        release(af);
        vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", path);
        return VTC_ERR_NOMEM;
    }
    static const char ALNUM[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    int err = 0;
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^
                     ((uint64_t)atomic_fetch_add(&g_tmp_counter, 1) * 0x9E3779B97F4A7C15ull) ^ (uintptr_t)af;
        char suffix[7];
        for (int i = 0; i < 6; i++) {
            x ^= x >> 29;
            x *= 0xBF58476D1CE4E5B9ull;
            suffix[i] = ALNUM[(x >> 33) % (sizeof ALNUM - 1)];
        }
        suffix[6] = '\0';
        snprintf(af->tmp_path, cap, "%s.tmp.%s", path, suffix);
        af->fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (af->fd >= 0) break;
        err = errno;
        if (err != EEXIST) break;
    }
    if (af->fd < 0) {
        release(af);
        vtc_set_error(VTC_ERR_IO, "%s: cannot create: %s", path, strerror(err ? err : EEXIST));
        return VTC_ERR_IO;
    }
    af->slot = tmp_register(af->tmp_path);
    return VTC_OK;
}

// n bytes at `offset`, or appended when offset is -1; retries short writes and EINTR.
static int write_all(vtc_atomic_file *af, int64_t offset, const void *data, size_t n) {
    const uint8_t *p = data;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        ssize_t w = offset < 0 ? write(af->fd, p, chunk) : pwrite(af->fd, p, chunk, (off_t)offset);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return vtc_set_error(VTC_ERR_IO, "%s: %s", af->path, w < 0 ? strerror(errno) : "short write");
        p += w;
        n -= (size_t)w;
        if (offset >= 0) offset += w;
    }
    return VTC_OK;
}

int vtc_atomic_write(vtc_atomic_file *af, const void *data, size_t n) { return write_all(af, -1, data, n); }

int vtc_atomic_pwrite(vtc_atomic_file *af, uint64_t offset, const void *data, size_t n) {
    if (offset > INT64_MAX) return vtc_set_error(VTC_ERR_IO, "%s: offset %llu", af->path, (unsigned long long)offset);
    return write_all(af, (int64_t)offset, data, n);
}

void vtc_atomic_abort(vtc_atomic_file *af) {
    if (!af) return;
    if (af->fd >= 0) close(af->fd);
    if (af->tmp_path) unlink(af->tmp_path);
    release(af);
}

int vtc_atomic_commit(vtc_atomic_file *af) {
    // EINVAL/ENOTSUP: the file system cannot sync this file; the rename is still atomic.
    if (fsync(af->fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
        int st = vtc_set_error(VTC_ERR_IO, "%s: %s", af->path, strerror(errno));
        vtc_atomic_abort(af);
        return st;
    }
    int rc = close(af->fd);
    af->fd = -1;
    if (rc != 0) {
        int st = vtc_set_error(VTC_ERR_IO, "%s: %s", af->path, strerror(errno));
        vtc_atomic_abort(af);
        return st;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        int st = vtc_set_error(VTC_ERR_IO, "%s: %s", af->path, strerror(errno));
        vtc_atomic_abort(af);
        return st;
    }
    // Make the rename itself durable. Best effort: the data is already safe.
    char *slash = strrchr(af->path, '/');
    int dfd;
    if (!slash) {
        dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else if (slash == af->path) {
        dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        *slash = '\0';
        dfd = open(af->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *slash = '/';
    }
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    release(af);
    return VTC_OK;
}

int vtc_write_file_atomic(const char *path, const void *data, size_t len) {
    vtc_atomic_file af;
    int st = vtc_atomic_open(path, &af);
    if (st) return st;
    st = vtc_atomic_write(&af, data, len);
    if (st) {
        vtc_atomic_abort(&af);
        return st;
    }
    return vtc_atomic_commit(&af);
}
