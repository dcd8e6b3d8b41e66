// The llama2.c BPE tokenizer: tokenizer.bin (or a GGUF vocabulary), encode()
// and decode() exactly as llama2.c's run.c does them.
//
// run.c treats every vocabulary entry as a C string (strcmp, sprintf, printf),
// so an entry is its bytes up to the first NUL here too. Where run.c is
// undefined we are defined: duplicate entries resolve to the lowest id, and a
// text needing a vocabulary entry that does not exist (no " " token for the
// dummy prefix, a byte-fallback id past the vocabulary) is an error.
#include "lm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/common.h"
#include "base/gguf.h"

#define TOK_MAX_VOCAB (1 << 24)

struct sorted_entry {
    const char *str;
    int32_t id;
};

struct vtc_tokenizer {
    int32_t vocab_size;
    size_t max_len;           // longest entry (strlen)
    char **vocab;             // [vocab_size] NUL-terminated, pointing into blob
    float *scores;            // [vocab_size]
    struct sorted_entry *sorted; // by (string, id)
    char *blob;               // every entry's bytes + NUL
    unsigned char byte_pieces[512]; // "\xNN\0" for each byte, as run.c
};

static int cmp_entry(const void *a, const void *b) {
    const struct sorted_entry *x = a, *y = b;
    int c = strcmp(x->str, y->str);
    if (c) return c;
    return (x->id > y->id) - (x->id < y->id);
}

// The lowest id whose entry is exactly `str`, or -1.
static int32_t lookup(const vtc_tokenizer *t, const char *str) {
    int32_t lo = 0, hi = t->vocab_size; // first entry >= str
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->sorted[mid].str, str) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < t->vocab_size && strcmp(t->sorted[lo].str, str) == 0) return t->sorted[lo].id;
    return -1;
}

void vtc_tokenizer_free(vtc_tokenizer *t) {
    if (!t) return;
    free(t->vocab);
    free(t->scores);
    free(t->sorted);
    free(t->blob);
    free(t);
}

// Allocates the tables for n entries whose bytes total blob_bytes (NULs excluded).
static vtc_tokenizer *tokenizer_alloc(int32_t n, size_t blob_bytes) {
    vtc_tokenizer *t = vtc_zalloc(1, sizeof *t);
    if (!t) return NULL;
    t->vocab_size = n;
    t->vocab = vtc_alloc((size_t)n, sizeof *t->vocab);
    t->scores = vtc_alloc((size_t)n, sizeof *t->scores);
    t->sorted = vtc_alloc((size_t)n, sizeof *t->sorted);
    t->blob = vtc_alloc(blob_bytes + (size_t)n, 1);
    if (!t->vocab || !t->scores || !t->sorted || !t->blob) {
        vtc_tokenizer_free(t);
        return NULL;
    }
    for (int i = 0; i < 256; i++) {
        t->byte_pieces[i * 2] = (unsigned char)i;
        t->byte_pieces[i * 2 + 1] = '\0';
    }
    return t;
}

// Sorts the lookup table once, so encode is read-only (and thread-safe).
static void tokenizer_finish(vtc_tokenizer *t) {
    for (int32_t i = 0; i < t->vocab_size; i++) {
        size_t len = strlen(t->vocab[i]);
        if (len > t->max_len) t->max_len = len;
        t->sorted[i].str = t->vocab[i];
        t->sorted[i].id = i;
    }
    qsort(t->sorted, (size_t)t->vocab_size, sizeof *t->sorted, cmp_entry);
}

static int read_file(const char *path, uint8_t **data, size_t *size) {
    *data = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return vtc_set_error(VTC_ERR_IO, "%s: cannot open", path);
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return vtc_set_error(VTC_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (1u << 30)) {
        fclose(fp);
        return vtc_set_error(VTC_ERR_LIMIT, "%s: %lld bytes is too large for a tokenizer", path,
                             (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = vtc_alloc(n ? n : 1, 1);
    if (!buf) {
        fclose(fp);
        return VTC_ERR_NOMEM;
    }
    if (fread(buf, 1, n, fp) != n) {
        free(buf);
        fclose(fp);
        return vtc_set_error(VTC_ERR_IO, "%s: read failed", path);
    }
    fclose(fp);
    *data = buf;
    *size = n;
    return 0;
}

vtc_tokenizer *vtc_tokenizer_load(const char *path, int32_t vocab_size) {
    if (!path) {
        vtc_set_error(VTC_ERR_ARG, "tokenizer: no path");
        return NULL;
    }
    if (vocab_size < 3 || vocab_size > TOK_MAX_VOCAB) { // ids 0-2 are <unk>, BOS and EOS
        vtc_set_error(VTC_ERR_ARG, "%s: vocabulary size %d out of range [3, %d]", path, (int)vocab_size,
                      TOK_MAX_VOCAB);
        return NULL;
    }
    uint8_t *data;
    size_t size = 0;
    if (read_file(path, &data, &size) != 0) return NULL;

    // First pass: validate every record against the file before allocating.
    size_t off = 4, total = 0;
    int status = 0;
    if (size < 4) status = vtc_set_error(VTC_ERR_FORMAT, "%s: truncated header", path);
    for (int32_t i = 0; status == 0 && i < vocab_size; i++) {
        int32_t len;
        if (size - off < 8) {
            status = vtc_set_error(VTC_ERR_FORMAT, "%s: truncated at token %d of %d", path, (int)i,
                                   (int)vocab_size);
            break;
        }
        memcpy(&len, data + off + 4, 4);
        off += 8;
        if (len < 0 || (size_t)len > size - off) {
            status = vtc_set_error(VTC_ERR_FORMAT, "%s: token %d: length %d outside the file", path, (int)i,
                                   (int)len);
            break;
        }
        off += (size_t)len;
        total += (size_t)len;
    }
    if (status != 0) {
        free(data);
        return NULL;
    }
    // Trailing bytes are tolerated (run.c reads only what it needs).
    vtc_tokenizer *t = tokenizer_alloc(vocab_size, total);
    if (!t) {
        free(data);
        return NULL;
    }
    off = 4;
    char *p = t->blob;
    for (int32_t i = 0; i < vocab_size; i++) {
        int32_t len;
        memcpy(&t->scores[i], data + off, 4);
        memcpy(&len, data + off + 4, 4);
        off += 8;
        memcpy(p, data + off, (size_t)len);
        p[len] = '\0';
        t->vocab[i] = p;
        p += len + 1;
        off += (size_t)len;
    }
    free(data);
    tokenizer_finish(t);
    return t;
}

vtc_tokenizer *vtc_tokenizer_load_gguf(const char *path) {
    vtc_gguf *g = NULL;
    vtc_tokenizer *t = NULL;
    float *scores = NULL;
    if (!path) {
        vtc_set_error(VTC_ERR_ARG, "tokenizer: no path");
        return NULL;
    }
    if (vtc_gguf_open(path, 1, &g) != 0) return NULL;
    const char *model;
    if (vtc_gguf_get_str(g, "tokenizer.ggml.model", &model) != 0) goto done;
    if (strcmp(model, "llama") != 0) {
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%s\": only \"llama\" (SentencePiece) is supported",
                      path, model);
        goto done;
    }
    int ti = vtc_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (ti < 0 || vtc_gguf_kv_arr_type(g, ti) != VTC_GGUF_STRING) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: tokenizer.ggml.tokens: missing or not an array of strings", path);
        goto done;
    }
    int64_t n = vtc_gguf_kv_arr_count(g, ti);
    if (n < 3 || n > TOK_MAX_VOCAB) { // ids 0-2 are <unk>, BOS and EOS
        vtc_set_error(VTC_ERR_FORMAT, "%s: tokenizer.ggml.tokens: %lld tokens out of range [3, %d]", path,
                      (long long)n, TOK_MAX_VOCAB);
        goto done;
    }
    int64_t bos = 1, eos = 2;
    if (vtc_gguf_find_key(g, "tokenizer.ggml.bos_token_id") >= 0 &&
        vtc_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &bos) != 0)
        goto done;
    if (vtc_gguf_find_key(g, "tokenizer.ggml.eos_token_id") >= 0 &&
        vtc_gguf_get_int(g, "tokenizer.ggml.eos_token_id", &eos) != 0)
        goto done;
    if (bos != 1 || eos != 2) {
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: BOS/EOS ids %lld/%lld: llama2.c's tokenizer needs 1/2", path,
                      (long long)bos, (long long)eos);
        goto done;
    }
    scores = vtc_alloc((size_t)n, sizeof *scores);
    if (!scores) goto done;
    int n_scores = 0;
    if (vtc_gguf_get_arr_f32(g, "tokenizer.ggml.scores", scores, (int)n, &n_scores) != 0) goto done;
    if (n_scores != n) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: %d scores for %lld tokens", path, n_scores, (long long)n);
        goto done;
    }
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *s;
        if (vtc_gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &s) != 0) goto done;
        total += strlen(s); // the GGUF reader bounded every string by the file
    }
    t = tokenizer_alloc((int32_t)n, total);
    if (!t) goto done;
    char *p = t->blob;
    for (int64_t i = 0; i < n; i++) {
        const char *s;
        vtc_gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &s);
        t->vocab[i] = p;
        t->scores[i] = scores[i];
        for (; *s; s++) { // U+2581 (e2 96 81) is SentencePiece's space
            if ((unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x96 && (unsigned char)s[2] == 0x81) {
                *p++ = ' ';
                s += 2;
            } else {
                *p++ = *s;
            }
        }
        *p++ = '\0';
    }
    tokenizer_finish(t);
done:
    free(scores);
    vtc_gguf_close(g);
    return t;
}

int32_t vtc_tokenizer_vocab_size(const vtc_tokenizer *t) { return t ? t->vocab_size : 0; }

int vtc_tokenizer_entry(const vtc_tokenizer *t, int32_t id, const char **text, float *score) {
    if (!t || !text || !score || id < 0 || id >= t->vocab_size)
        return vtc_set_error(VTC_ERR_ARG, "tokenizer: entry %d out of range", (int)id);
    *text = t->vocab[id];
    *score = t->scores[id];
    return 0;
}

const char *vtc_tokenizer_decode(const vtc_tokenizer *t, int32_t prev, int32_t token, size_t *len) {
    if (!t || token < 0 || token >= t->vocab_size) {
        vtc_set_error(VTC_ERR_ARG, "tokenizer: token %d out of range", (int)token);
        if (len) *len = 0;
        return NULL;
    }
    const char *piece = t->vocab[token];
    // After BOS, SentencePiece's decoder strips the leading space (llama2.c PR #89).
    if (prev == 1 && piece[0] == ' ') piece++;
    // Raw byte tokens look like "<0x0A>"; run.c parses them with this very format.
    unsigned char byte_val;
    if (sscanf(piece, "<0x%02hhX>", &byte_val) == 1) {
        if (len) *len = 1;
        return (const char *)t->byte_pieces + byte_val * 2;
    }
    if (len) *len = strlen(piece);
    return piece;
}

int vtc_tokenizer_encode(const vtc_tokenizer *t, const char *text, int bos, int eos, int32_t *tokens_out,
                         int32_t cap, int32_t *n_out) {
    if (!t || !text || !tokens_out || !n_out || cap < 0)
        return vtc_set_error(VTC_ERR_ARG, "tokenizer: encode: NULL argument or negative capacity");
    *n_out = 0;
    size_t text_len = strlen(text);
    // Before merging there is at most one token per byte, plus BOS, dummy prefix, EOS.
    if (text_len > (size_t)INT32_MAX - 3) return vtc_set_error(VTC_ERR_LIMIT, "tokenizer: encode: text too long");
    int32_t *tokens = vtc_alloc(text_len + 3, sizeof *tokens);
    // Merge candidates are two entries side by side; a codepoint is at most 4 bytes.
    char *buf = vtc_alloc(t->max_len * 2 + 1 + 4, 1);
    if (!tokens || !buf) {
        free(tokens);
        free(buf);
        return VTC_ERR_NOMEM;
    }
    int status = 0;
    int32_t n = 0;
    size_t str_len = 0;

    if (bos) tokens[n++] = 1;
    // add_dummy_prefix: a leading space, but only when the text is not empty.
    if (text[0] != '\0') {
        int32_t dummy = lookup(t, " ");
        if (dummy < 0) {
            status = vtc_set_error(VTC_ERR_UNSUPPORTED, "tokenizer: the vocabulary has no \" \" entry");
            goto done;
        }
        tokens[n++] = dummy;
    }

    // UTF-8: gather a leading byte and up to 3 continuation bytes, look the
    // codepoint up whole, else fall back to one <0xXX> token per byte (ids 3..258).
    for (const char *c = text; *c != '\0'; c++) {
        if ((*c & 0xC0) != 0x80) str_len = 0; // not a continuation byte: a new codepoint
        buf[str_len++] = *c;
        buf[str_len] = '\0';
        if ((*(c + 1) & 0xC0) == 0x80 && str_len < 4) continue;
        int32_t id = lookup(t, buf);
        if (id != -1) {
            tokens[n++] = id;
        } else {
            for (size_t i = 0; i < str_len; i++) {
                int32_t byte_id = (int32_t)(unsigned char)buf[i] + 3;
                if (byte_id >= t->vocab_size) {
                    status = vtc_set_error(VTC_ERR_UNSUPPORTED,
                                           "tokenizer: byte 0x%02x has no fallback token in a %d-entry vocabulary",
                                           (unsigned)(unsigned char)buf[i], (int)t->vocab_size);
                    goto done;
                }
                tokens[n++] = byte_id;
            }
        }
        str_len = 0; // a run of stray continuation bytes restarts here
    }

    // Repeatedly merge the adjacent pair whose concatenation is the best-scoring entry
    // (the first such pair on ties, as run.c's strict '>').
    for (;;) {
        float best_score = -1e10f;
        int32_t best_id = -1, best_idx = -1;
        for (int32_t i = 0; i + 1 < n; i++) {
            size_t la = strlen(t->vocab[tokens[i]]), lb = strlen(t->vocab[tokens[i + 1]]);
            memcpy(buf, t->vocab[tokens[i]], la);
            memcpy(buf + la, t->vocab[tokens[i + 1]], lb + 1);
            int32_t id = lookup(t, buf);
            if (id != -1 && t->scores[id] > best_score) {
                best_score = t->scores[id];
                best_id = id;
                best_idx = i;
            }
        }
        if (best_idx == -1) break;
        tokens[best_idx] = best_id;
        memmove(tokens + best_idx + 1, tokens + best_idx + 2, (size_t)(n - best_idx - 2) * sizeof *tokens);
        n--;
    }
    if (eos) tokens[n++] = 2;
    if (n > cap) {
        status = vtc_set_error(VTC_ERR_LIMIT, "tokenizer: encode: %d tokens do not fit in %d", (int)n, (int)cap);
        goto done;
    }
    memcpy(tokens_out, tokens, (size_t)n * sizeof *tokens);
    *n_out = n;
done:
    free(buf);
    free(tokens);
    return status;
}
