// A loaded model and its llama2.c vocabulary as a GGUF "llama" file that
// llama.cpp loads (lm.h, vtc_lm_export_gguf). The file is what llama.cpp's own
// examples/convert-llama2c-to-ggml writes, key for key:
//
// - weights as stored: llama2.c keeps Meta's adjacent-pair RoPE layout, which
//   is what llama.cpp's rope type 0 (LLAMA_ROPE_TYPE_NORM, arch "llama")
//   rotates, so q and k need no permutation; a shared classifier is left out
//   (llama.cpp then reads token_embd.weight as the output matrix);
// - the vocabulary as a SentencePiece ("llama") one: spaces back to U+2581,
//   ids 0/1/2 written as <unk>/<s>/</s> (llama2.c's exporter wrote "\n<s>\n"),
//   token types unknown (2), control (3: BOS, EOS, empty entries), byte (6:
//   "<0xXX>") and normal (1).
//
// What llama.cpp would reject or crash on is refused here with the reason: two
// entries that become the same token (llama.cpp asserts its text -> id map is
// one to one), an entry that is not UTF-8, a non-finite weight or score, a
// weight outside F16's range when writing F16. (A vocabulary without a newline
// token, <0x0A>, loads: llama.cpp warns and uses no newline id.)
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/gguf.h"

enum { TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_BYTE = 6 };

struct vocab {
    int32_t n;
    char **text;   // [n] GGUF token texts (owned)
    float *score;  // [n]
    int32_t *type; // [n]
};

static void vocab_free(struct vocab *v) {
    for (int32_t i = 0; v->text && i < v->n; i++) free(v->text[i]);
    free(v->text);
    free(v->score);
    free(v->type);
}

static int is_byte_token(const char *s) {
    unsigned char b;
    char end;
    return strlen(s) == 6 && sscanf(s, "<0x%2hhx%c", &b, &end) == 2 && end == '>';
}

// llama2.c text -> SentencePiece text: ' ' -> U+2581 (e2 96 81).
static char *sp_text(const char *s) {
    size_t n = 0;
    for (const char *p = s; *p; p++) n += *p == ' ' ? 3 : 1;
    char *out = vtc_alloc(n + 1, 1), *o = out;
    if (!out) return NULL;
    for (const char *p = s; *p; p++) {
        if (*p == ' ') *o++ = (char)0xe2, *o++ = (char)0x96, *o++ = (char)0x81;
        else *o++ = *p;
    }
    *o = '\0';
    return out;
}

static int cmp_index(const void *a, const void *b, void *texts) {
    char **t = texts;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    int c = strcmp(t[x], t[y]);
    return c ? c : (x > y) - (x < y);
}

static int build_vocab(const vtc_tokenizer *tok, struct vocab *v) {
    int32_t n = vtc_tokenizer_vocab_size(tok);
    memset(v, 0, sizeof *v);
    v->text = vtc_zalloc((size_t)n, sizeof *v->text);
    v->score = vtc_alloc((size_t)n, sizeof *v->score);
    v->type = vtc_alloc((size_t)n, sizeof *v->type);
    if (!v->text || !v->score || !v->type) return VTC_ERR_NOMEM;
    v->n = n;
    static const char *const special[3] = { "<unk>", "<s>", "</s>" };
    for (int32_t i = 0; i < n; i++) {
        const char *s;
        if (vtc_tokenizer_entry(tok, i, &s, &v->score[i])) return vtc_last_status();
        size_t len = strlen(s);
        for (size_t k = 0, m; k < len; k += m)
            if (!(m = vtc_utf8_len((const unsigned char *)s + k, len - k)))
                return vtc_set_error(VTC_ERR_UNSUPPORTED, "token %d is not UTF-8 text (GGUF strings are)", (int)i);
        if (!isfinite(v->score[i]))
            return vtc_set_error(VTC_ERR_FORMAT, "token %d: score %g is not finite", (int)i, (double)v->score[i]);
        v->text[i] = sp_text(i < 3 ? special[i] : s);
        if (!v->text[i]) return VTC_ERR_NOMEM;
        v->type[i] = i == 0 ? TOKEN_UNKNOWN : i < 3 || !s[0] ? TOKEN_CONTROL : is_byte_token(s) ? TOKEN_BYTE : TOKEN_NORMAL;
    }
    // llama.cpp maps text -> id and asserts the map is one to one (empty
    // entries excepted: it renames them)
    int32_t *idx = vtc_alloc((size_t)n, sizeof *idx);
    if (!idx) return VTC_ERR_NOMEM;
    for (int32_t i = 0; i < n; i++) idx[i] = i;
    qsort_r(idx, (size_t)n, sizeof *idx, cmp_index, v->text);
    int st = 0;
    for (int32_t i = 1; i < n && !st; i++)
        if (v->text[idx[i]][0] && !strcmp(v->text[idx[i]], v->text[idx[i - 1]]))
            st = vtc_set_error(VTC_ERR_UNSUPPORTED, "tokens %d and %d are both \"%s\"; llama.cpp needs distinct tokens",
                               (int)idx[i - 1], (int)idx[i], v->text[idx[i]]);
    free(idx);
    return st;
}

static int check_finite(const struct vtc_lm_weight *w) {
    size_t n = (size_t)w->shape[0] * (size_t)(w->n_dims == 2 ? w->shape[1] : 1);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(w->data[i]))
            return vtc_set_error(VTC_ERR_FORMAT, "weight %s: element %zu is %g", w->name, i, (double)w->data[i]);
    return 0;
}

int vtc_lm_export_gguf(const vtc_lm *lm, const vtc_tokenizer *tok, const char *path, int f16, const char *name) {
    if (!lm || !tok || !path) return vtc_set_error(VTC_ERR_ARG, "export: NULL argument");
    const struct vtc_lm_config *c = vtc_lm_get_config(lm);
    if (vtc_tokenizer_vocab_size(tok) != c->vocab_size)
        return vtc_set_error(VTC_ERR_FORMAT, "export: the vocabulary has %d entries, the model %d",
                             (int)vtc_tokenizer_vocab_size(tok), (int)c->vocab_size);
    struct vocab v;
    int st = build_vocab(tok, &v);
    vtc_gguf_writer *w = st ? NULL : vtc_gguf_writer_new();
    if (!st && !w) st = VTC_ERR_NOMEM;
#define KV(call) \
    if (!st) st = (call)
    KV(vtc_gguf_writer_str(w, "general.architecture", "llama"));
    KV(vtc_gguf_writer_str(w, "general.name", name && name[0] ? name : "llama"));
    KV(vtc_gguf_writer_u32(w, "general.file_type", f16 ? 1 : 0)); // LLAMA_FTYPE_ALL_F32 / _MOSTLY_F16
    KV(vtc_gguf_writer_u32(w, "llama.context_length", (uint32_t)c->seq_len));
    KV(vtc_gguf_writer_u32(w, "llama.embedding_length", (uint32_t)c->dim));
    KV(vtc_gguf_writer_u32(w, "llama.block_count", (uint32_t)c->n_layers));
    KV(vtc_gguf_writer_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden_dim));
    KV(vtc_gguf_writer_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim));
    KV(vtc_gguf_writer_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads));
    KV(vtc_gguf_writer_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads));
    KV(vtc_gguf_writer_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps));
    KV(vtc_gguf_writer_f32(w, "llama.rope.freq_base", c->rope_theta));
    KV(vtc_gguf_writer_str(w, "tokenizer.ggml.model", "llama"));
    KV(vtc_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v.text, v.n));
    KV(vtc_gguf_writer_arr_f32(w, "tokenizer.ggml.scores", v.score, v.n));
    KV(vtc_gguf_writer_arr_i32(w, "tokenizer.ggml.token_type", v.type, v.n));
    KV(vtc_gguf_writer_u32(w, "tokenizer.ggml.unknown_token_id", 0));
    KV(vtc_gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", 1));
    KV(vtc_gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", 2));
    KV(vtc_gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", 1));
    KV(vtc_gguf_writer_bool(w, "tokenizer.ggml.add_eos_token", 0));
    KV(vtc_gguf_writer_bool(w, "tokenizer.ggml.add_space_prefix", 1)); // run.c's dummy prefix
#undef KV
    for (int32_t i = 0; i < vtc_lm_weight_count(lm) && !st; i++) {
        struct vtc_lm_weight t;
        st = vtc_lm_weight_get(lm, i, &t);
        if (!st) st = check_finite(&t);
        // matrices in F16 when asked, vectors (the norms) in F32 as llama.cpp's converters keep them
        if (!st) st = vtc_gguf_writer_tensor(w, t.name, f16 && t.n_dims == 2, t.n_dims, t.shape, t.data);
    }
    if (!st) st = vtc_gguf_writer_write(w, path);
    vtc_gguf_writer_free(w);
    vocab_free(&v);
    return st;
}
