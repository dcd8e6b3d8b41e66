// libFuzzer target: the command line. The input is argv, one argument per line
// (at most 24 arguments of at most 200 bytes); vtc_cli_main runs it as the tool
// would, every subcommand included, so an argument combination that crashes,
// hangs, leaks or trips a sanitizer anywhere past the parser is found too.
//
// It runs in a scratch directory holding copies of small inputs, named without
// a directory so that generated commands can reach them:
//   photo.jpg  clip224 (a model directory)  mmproj.gguf  feat.safetensors
//   clip.avi   and, when ../shared is there, stories.bin tok.bin
// Arguments containing '/' are rejected (nothing outside the scratch directory
// can be read or written), files a command writes are removed after it, and
// inputs a command overwrote are restored. Exit codes are not checked here
// (tests/cli_*.sh do that); the point is that every run returns one.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_ARGS = 24, MAX_ARG = 200, MAX_INPUTS = 16 };

static struct input {
    char name[64];
    unsigned char *bytes;
    size_t size;
    int in_dir; // a file of the model directory clip224
} g_in[MAX_INPUTS];
static int g_n_in;
static char g_scratch[256];

static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n == cap) {
            unsigned char *nb = realloc(b, cap = cap ? 2 * cap : 65536);
            if (!nb) { free(b); fclose(f); return NULL; }
            b = nb;
        }
        r = fread(b + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    *size = n;
    return b;
}

static void put(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) { perror(path); abort(); }
    fclose(f);
}

static void add(const char *src, const char *name, int in_dir) {
    struct input *in = &g_in[g_n_in];
    if (!(in->bytes = slurp(src, &in->size))) return; // optional inputs may be absent
    snprintf(in->name, sizeof in->name, "%s%s", in_dir ? "clip224/" : "", name);
    in->in_dir = in_dir;
    g_n_in++;
}

// Puts every input back as it was (a command may have replaced one by renaming
// its output over it).
static void restore(void) {
    mkdir("clip224", 0755);
    for (int i = 0; i < g_n_in; i++) {
        struct stat st;
        if (stat(g_in[i].name, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != g_in[i].size) {
            if (stat(g_in[i].name, &st) == 0 && S_ISDIR(st.st_mode)) rmdir(g_in[i].name);
            put(g_in[i].name, g_in[i].bytes, g_in[i].size);
        }
    }
}

static int is_input(const char *name) {
    for (int i = 0; i < g_n_in; i++)
        if (!g_in[i].in_dir && !strcmp(g_in[i].name, name)) return 1;
    return !strcmp(name, "clip224");
}

// Removes whatever a command wrote into the scratch directory.
static void sweep(void) {
    DIR *d = opendir(".");
    if (!d) abort();
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !is_input(e->d_name)) unlink(e->d_name);
    closedir(d);
    restore();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *root = getenv("VTC_ROOT") ? getenv("VTC_ROOT") : ".";
    char p[512];
#define ADD(rel, name, dir) (snprintf(p, sizeof p, "%s/%s", root, rel), add(p, name, dir))
    ADD("tests/fixtures/ref_images/photo.jpg", "photo.jpg", 0);
    ADD("tests/fixtures/models/mmproj-legacy.gguf", "mmproj.gguf", 0);
    ADD("tests/fixtures/models/mmproj-llava16.gguf", "next.gguf", 0); // LLaVA-NeXT: anyres tiles
    ADD("tests/fixtures/expected/clip224__photo__crop__-1.safetensors", "feat.safetensors", 0);
    ADD("tests/fixtures/video/cam17.avi", "clip.avi", 0);
    ADD("../shared/models/stories260K.bin", "stories.bin", 0);
    ADD("../shared/models/tok512.bin", "tok.bin", 0);
    ADD("tests/fixtures/models/clip224/config.json", "config.json", 1);
    ADD("tests/fixtures/models/clip224/preprocessor_config.json", "preprocessor_config.json", 1);
    ADD("tests/fixtures/models/clip224/model.safetensors", "model.safetensors", 1);
#undef ADD
    if (g_n_in < 4) {
        fprintf(stderr, "fuzz_cli: run from the repository root (or set VTC_ROOT): its fixtures are missing\n");
        abort();
    }
    snprintf(g_scratch, sizeof g_scratch, "%s/vtc-fuzz-cli-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_scratch) || chdir(g_scratch) != 0) { perror("fuzz_cli scratch"); abort(); }
    restore();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char buf[MAX_ARGS * (MAX_ARG + 1)];
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "vtc";
    size_t at = 0, i = 0;
    while (i <= size) {
        size_t j = i;
        while (j < size && data[j] != '\n') j++;
        if (j - i > MAX_ARG || argc > MAX_ARGS) return -1; // too long: not a command line this target explores
        if (memchr(data + i, '/', j - i) || memchr(data + i, 0, j - i)) return -1;
        memcpy(buf + at, data + i, j - i);
        buf[at + (j - i)] = 0;
        argv[argc++] = buf + at;
        at += j - i + 1;
        i = j + 1;
    }
    argv[argc] = NULL;
    vtc_cli_main(argc, argv);
    fflush(stdout);
    sweep();
    return 0;
}
