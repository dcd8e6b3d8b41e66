// `vtc export-lm`: a llama2.c checkpoint and its tokenizer.bin as a GGUF
// "llama" file that llama.cpp loads (lm/export.c writes it, docs/formats.md
// describes it). vtc's own decoder reads the result too (vtc_lm_load), which is
// how the tests check the conversion: the same logits from both files.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lm/lm.h"

static const char *USAGE =
    "usage: vtc export-lm IN.bin -o OUT.gguf [--tokenizer FILE] [--type f32|f16] [--name NAME]\n"
    "\n"
    "Writes a llama2.c checkpoint (legacy v0) and its vocabulary as a GGUF \"llama\" file for\n"
    "llama.cpp: weights as stored (Meta's RoPE layout, which llama.cpp's llama architecture\n"
    "expects), the vocabulary as a SentencePiece one with token types and BOS/EOS/UNK ids.\n"
    "\n"
    "  -o OUT.gguf        the file to write (atomically)\n"
    "  --tokenizer FILE   llama2.c tokenizer.bin (default: tokenizer.bin beside IN)\n"
    "  --type f32|f16     storage of the matrices (default f32, exact); norms stay F32\n"
    "  --name NAME        general.name (default: IN's file name without its extension)\n";

int cmd_export_lm(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *tok_path = NULL, *name = NULL;
    int f16 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--tokenizer") || !strcmp(a, "--type") ||
                    !strcmp(a, "--name");
        if (takes && !val) return cli_usage_error("export-lm: %s needs a value", a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return CLI_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out = val, i++;
        } else if (!strcmp(a, "--tokenizer")) {
            tok_path = val, i++;
        } else if (!strcmp(a, "--name")) {
            name = val, i++;
        } else if (!strcmp(a, "--type")) {
            if (strcmp(val, "f32") && strcmp(val, "f16"))
                return cli_usage_error("--type: '%s' is neither f32 nor f16", val);
            f16 = !strcmp(val, "f16"), i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("export-lm: unknown option '%s' (see `vtc export-lm --help`)", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error("export-lm: unexpected argument '%s'", a);
        }
    }
    if (!in) return cli_usage_error("export-lm: no input checkpoint given");
    if (!out) return cli_usage_error("export-lm: -o OUT.gguf is required");

    char beside[4096], base[256];
    if (!tok_path) {
        if (cli_tokenizer_beside(in, beside, sizeof beside))
            return cli_runtime_error("loading tokenizer: %s: path too long", in);
        tok_path = beside;
    }
    if (!name) { // IN's file name without its extension
        const char *slash = strrchr(in, '/'), *file = slash ? slash + 1 : in, *dot = strrchr(file, '.');
        snprintf(base, sizeof base, "%.*s", dot && dot > file ? (int)(dot - file) : (int)strlen(file), file);
        name = base;
    }
    vtc_lm *lm = vtc_lm_load(in, vtc_lm_params_default());
    if (!lm) return cli_status_error(vtc_last_status(), "loading checkpoint");
    const struct vtc_lm_config *c = vtc_lm_get_config(lm);
    vtc_tokenizer *tok = NULL;
    int rc = CLI_OK;
    if (!strcmp(c->format, "gguf")) {
        rc = cli_runtime_error("export-lm: %s is a GGUF file already (export-lm converts llama2.c checkpoints)", in);
        goto done;
    }
    if (!(tok = vtc_tokenizer_load(tok_path, c->vocab_size))) {
        rc = cli_status_error(vtc_last_status(), "loading tokenizer");
        goto done;
    }
    int st = vtc_lm_export_gguf(lm, tok, out, f16, name);
    if (st) {
        rc = cli_status_error(st, "export-lm");
        goto done;
    }
    printf("wrote %s: llama, %d layers, width %d, SwiGLU %d, heads %d (kv %d), vocab %d, context %d, %s%s\n", out,
           c->n_layers, c->dim, c->hidden_dim, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len,
           f16 ? "F16 matrices" : "F32", c->shared_classifier ? ", tied classifier" : "");
done:
    vtc_tokenizer_free(tok);
    vtc_lm_free(lm);
    return rc;
}
