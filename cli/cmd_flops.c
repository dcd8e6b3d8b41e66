// `vtc flops`: language-model FLOPs before and after visual-token compression
// (docs/flops.md). Pure arithmetic: no model file is read, so the vision encoder and
// projector are not part of this report ("vision_encoder": null in --json;
// `vtc compress --report` has them as executed).
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "base/flops.h"
#include "json_out.h"

static const char *USAGE =
    "usage: vtc flops --lm PRESET --visual N --kept K [--text T] [--gen G] [--json]\n"
    "                 [--prune-layer L] [--layers N] [--hidden D] [--ffn M] [--heads H]\n"
    "                 [--kv-heads H] [--vocab V]\n"
    "\n"
    "Language-model FLOPs of a prompt with N visual tokens (before) and K kept (after),\n"
    "plus T text tokens, generating G tokens with a KV cache.\n"
    "\n"
    "  --lm PRESET      llava-1.5-7b, llava-1.5-13b, qwen2-7b, llava-onevision-7b, qwen2-0.5b,\n"
    "                   qwen2-vl-7b, qwen2.5-vl-3b, qwen2.5-vl-7b (the Qwen VLMs' language models)\n"
    "  --visual N       visual tokens the unpruned model gets (>= 1)\n"
    "  --kept K         visual tokens kept (0..N)\n"
    "  --text T         text tokens in the prompt (default 0)\n"
    "  --gen G          generated tokens (default 0)\n"
    "  --prune-layer L  prune inside the LM after layer L, FastV-style: layers 1..L see all N\n"
    "                   visual tokens, the rest K (default 0: pruning before the LM)\n"
    "  --layers/--hidden/--ffn/--heads/--kv-heads/--vocab\n"
    "                   override the preset's shape, or without --lm define one (layers,\n"
    "                   hidden, ffn and heads required; kv-heads defaults to heads, vocab to 32000)\n"
    "  --json           machine-readable report on stdout\n"
    "\n"
    "FLOPs = 2 x multiply-accumulates over every matmul: q, k, v, o (grouped-query widths),\n"
    "causal attention (query i attends to i keys), the three SwiGLU matrices, and the LM\n"
    "head once per generated token (the prefill's last position gives the first; G-1\n"
    "decode steps follow). \"paper\" is the published per-layer 4nd^2 + 2n^2d + 2ndm, summed\n"
    "over layers as written (in effect multiply-accumulates: about half the count above).\n";

// One --name value option bound to an integer.
struct int_opt {
    const char *name;
    long long lo, hi;
    long long value;
    int given;
};

enum { O_VISUAL, O_KEPT, O_TEXT, O_GEN, O_PRUNE_LAYER, O_LAYERS, O_HIDDEN, O_FFN, O_HEADS,
       O_KV_HEADS, O_VOCAB, N_INT_OPTS };

// "1.234 TFLOPs"; values below 1000 as integers.
static void fmt_flops(double v, char *out, size_t size) {
    static const char *const prefix[] = { "k", "M", "G", "T", "P", "E", "Z" };
    if (v < 999.5) {
        snprintf(out, size, "%.0f FLOPs", v);
        return;
    }
    int i = -1;
    while (i < 6 && v >= 999.5) {
        v /= 1000.0;
        i++;
    }
    snprintf(out, size, "%.3f %sFLOPs", v, prefix[i]);
}

static void fmt_ratio(double after, double before, char *out, size_t size) {
    if (before > 0) snprintf(out, size, "%.4f", after / before);
    else snprintf(out, size, "-");
}

static void print_row(const char *label, double before, double after) {
    char b[32], a[32], r[32];
    fmt_flops(before, b, sizeof b);
    fmt_flops(after, a, sizeof a);
    fmt_ratio(after, before, r, sizeof r);
    printf("%-22s %16s %16s %12s\n", label, b, a, r);
}

static int kv_ratio(struct vtc_json *j, const char *key, double after, double before) {
    return before > 0 ? vtc_json_kv_double(j, key, after / before) : vtc_json_kv_null(j, key);
}

static int print_json(const char *name, int custom, const struct vtc_lm_shape *lm,
                      const struct int_opt *o, const struct vtc_flops *fb, const struct vtc_flops *fa) {
    const double n_vis = (double)o[O_VISUAL].value, n_kept = (double)o[O_KEPT].value;
    struct vtc_json j;
    vtc_json_init_file(&j, stdout, 1);
    vtc_json_begin_object(&j);
    vtc_json_key(&j, "lm");
    vtc_json_begin_object(&j);
    vtc_json_kv_string(&j, "name", name);
    vtc_json_kv_bool(&j, "custom", custom);
    vtc_json_kv_int(&j, "layers", lm->layers);
    vtc_json_kv_int(&j, "hidden", lm->hidden);
    vtc_json_kv_int(&j, "ffn", lm->ffn);
    vtc_json_kv_int(&j, "heads", lm->heads);
    vtc_json_kv_int(&j, "kv_heads", lm->kv_heads);
    vtc_json_kv_int(&j, "vocab", lm->vocab);
    vtc_json_end_object(&j);
    vtc_json_kv_int(&j, "visual", o[O_VISUAL].value);
    vtc_json_kv_int(&j, "kept", o[O_KEPT].value);
    vtc_json_kv_int(&j, "text", o[O_TEXT].value);
    vtc_json_kv_int(&j, "gen", o[O_GEN].value);
    vtc_json_kv_int(&j, "prune_layer", o[O_PRUNE_LAYER].value);
    vtc_json_kv_double(&j, "retained_ratio", n_kept / n_vis);
    vtc_json_kv_double(&j, "equivalent_visual_tokens",
                       vtc_flops_equiv_tokens(o[O_VISUAL].value, o[O_KEPT].value,
                                              (int)o[O_PRUNE_LAYER].value, lm->layers));
    vtc_json_key(&j, "prefill");
    vtc_json_begin_object(&j);
    vtc_json_kv_double(&j, "before", fb->prefill);
    vtc_json_kv_double(&j, "after", fa->prefill);
    kv_ratio(&j, "ratio", fa->prefill, fb->prefill);
    vtc_json_kv_double(&j, "paper_before", fb->paper_prefill);
    vtc_json_kv_double(&j, "paper_after", fa->paper_prefill);
    kv_ratio(&j, "paper_ratio", fa->paper_prefill, fb->paper_prefill);
    vtc_json_end_object(&j);
    vtc_json_key(&j, "decode");
    vtc_json_begin_object(&j);
    vtc_json_kv_double(&j, "before", fb->decode);
    vtc_json_kv_double(&j, "after", fa->decode);
    kv_ratio(&j, "ratio", fa->decode, fb->decode);
    vtc_json_kv_double(&j, "per_token_before", fb->decode_per_token);
    vtc_json_kv_double(&j, "per_token_after", fa->decode_per_token);
    kv_ratio(&j, "per_token_ratio", fa->decode_per_token, fb->decode_per_token);
    vtc_json_end_object(&j);
    vtc_json_key(&j, "total");
    vtc_json_begin_object(&j);
    vtc_json_kv_double(&j, "before", fb->prefill + fb->decode);
    vtc_json_kv_double(&j, "after", fa->prefill + fa->decode);
    kv_ratio(&j, "ratio", fa->prefill + fa->decode, fb->prefill + fb->decode);
    vtc_json_end_object(&j);
    vtc_json_kv_null(&j, "vision_encoder"); // not known without a model: see `vtc compress --report`
    vtc_json_kv_null(&j, "projector");
    vtc_json_kv_string(&j, "units", "FLOPs = 2 x multiply-accumulates, causal attention, LM head once "
                                    "per generated token; paper_* = per-layer 4nd^2 + 2n^2d + 2ndm as published");
    vtc_json_end_object(&j);
    int st = vtc_json_finish(&j);
    return st == VTC_OK ? CLI_OK : cli_status_error(st, "flops: writing the report");
}

static void print_human(const char *name, const struct vtc_lm_shape *lm, const struct int_opt *o,
                        const struct vtc_flops *fb, const struct vtc_flops *fa) {
    const long long nv = o[O_VISUAL].value, nk = o[O_KEPT].value, pl = o[O_PRUNE_LAYER].value;
    printf("lm: %s (%d layers, hidden %d, ffn %d, %d heads, %d kv heads, vocab %d)\n", name,
           (int)lm->layers, (int)lm->hidden, (int)lm->ffn, (int)lm->heads, (int)lm->kv_heads,
           (int)lm->vocab);
    printf("tokens: %lld visual -> %lld kept, retained ratio %.4f (%.2f%%); %lld text, %lld generated\n",
           nv, nk, (double)nk / nv, 100.0 * nk / nv, o[O_TEXT].value, o[O_GEN].value);
    if (pl > 0)
        printf("in-decoder pruning after layer %lld: layer-averaged equivalent visual tokens %.2f\n", pl,
               vtc_flops_equiv_tokens(nv, nk, (int)pl, lm->layers));
    char before[32], after[32];
    snprintf(before, sizeof before, "before (%lld)", nv);
    snprintf(after, sizeof after, "after (%lld)", nk);
    printf("\n%-22s %16s %16s %12s\n", "", before, after, "after/before");
    print_row("LLM prefill", fb->prefill, fa->prefill);
    print_row("LLM decode per token", fb->decode_per_token, fa->decode_per_token);
    print_row("LLM decode total", fb->decode, fa->decode);
    print_row("LLM prefill + decode", fb->prefill + fb->decode, fa->prefill + fa->decode);
    print_row("paper prefill", fb->paper_prefill, fa->paper_prefill);
    printf("\nFLOPs = 2 x multiply-accumulates (causal attention; LM head once per generated token).\n"
           "paper prefill = sum over layers of 4nd^2 + 2n^2d + 2ndm, as published.\n");
}

int cmd_flops(int argc, char **argv) {
    struct int_opt o[N_INT_OPTS] = {
        [O_VISUAL] = { "visual", 1, VTC_FLOPS_MAX_TOKENS, 0, 0 },
        [O_KEPT] = { "kept", 0, VTC_FLOPS_MAX_TOKENS, 0, 0 },
        [O_TEXT] = { "text", 0, VTC_FLOPS_MAX_TOKENS, 0, 0 },
        [O_GEN] = { "gen", 0, VTC_FLOPS_MAX_TOKENS, 0, 0 },
        [O_PRUNE_LAYER] = { "prune-layer", 0, INT32_MAX, 0, 0 },
        [O_LAYERS] = { "layers", 1, INT32_MAX, 0, 0 },
        [O_HIDDEN] = { "hidden", 1, INT32_MAX, 0, 0 },
        [O_FFN] = { "ffn", 1, INT32_MAX, 0, 0 },
        [O_HEADS] = { "heads", 1, INT32_MAX, 0, 0 },
        [O_KV_HEADS] = { "kv-heads", 1, INT32_MAX, 0, 0 },
        [O_VOCAB] = { "vocab", 1, INT32_MAX, 0, 0 },
    };
    const char *preset = NULL;
    int json = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(USAGE, stdout);
            return CLI_OK;
        }
        if (!strcmp(arg, "--json")) {
            json = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return cli_usage_error("flops: unexpected argument '%s' (see `vtc flops --help`)", arg);
        // --name value or --name=value
        char name[32];
        const char *eq = strchr(arg + 2, '='), *value;
        size_t name_len = eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);
        if (name_len >= sizeof name)
            return cli_usage_error("flops: unknown option '%s' (see `vtc flops --help`)", arg);
        memcpy(name, arg + 2, name_len);
        name[name_len] = '\0';
        int which = -1;
        for (int k = 0; k < N_INT_OPTS; k++)
            if (!strcmp(name, o[k].name)) which = k;
        if (which < 0 && strcmp(name, "lm") != 0)
            return cli_usage_error("flops: unknown option '%s' (see `vtc flops --help`)", arg);
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return cli_usage_error("flops: --%s needs a value", name);
        }
        if (which < 0) {
            preset = value;
            continue;
        }
        int r = cli_parse_int(value, o[which].lo, o[which].hi, &o[which].value);
        if (r == -1) return cli_usage_error("flops: --%s: '%s' is not an integer", name, value);
        if (r != 0)
            return cli_usage_error("flops: --%s: %s is out of range [%lld, %lld]", name, value, o[which].lo,
                                   o[which].hi);
        o[which].given = 1;
    }

    struct vtc_lm_shape lm = { 0, 0, 0, 0, 0, 32000 };
    if (preset) {
        if (vtc_lm_preset(preset, &lm) != VTC_OK)
            return cli_usage_error("flops: --lm: %s", vtc_last_error());
    } else {
        static const int required[] = { O_LAYERS, O_HIDDEN, O_FFN, O_HEADS };
        for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
            if (!o[required[k]].given)
                return cli_usage_error("flops: --lm PRESET or a custom shape (--layers, --hidden, --ffn, "
                                       "--heads) is required; --%s missing", o[required[k]].name);
    }
    int custom = 0;
    int32_t *field[N_INT_OPTS] = { [O_LAYERS] = &lm.layers, [O_HIDDEN] = &lm.hidden, [O_FFN] = &lm.ffn,
                                   [O_HEADS] = &lm.heads, [O_KV_HEADS] = &lm.kv_heads, [O_VOCAB] = &lm.vocab };
    for (int k = O_LAYERS; k <= O_VOCAB; k++)
        if (o[k].given) {
            *field[k] = (int32_t)o[k].value;
            custom = 1;
        }
    if (!preset && !o[O_KV_HEADS].given) lm.kv_heads = lm.heads; // a preset keeps its own
    if (vtc_lm_shape_check(&lm) != VTC_OK) return cli_usage_error("flops: %s", vtc_last_error());

    if (!o[O_VISUAL].given) return cli_usage_error("flops: --visual N is required");
    if (!o[O_KEPT].given) return cli_usage_error("flops: --kept K is required");
    if (o[O_KEPT].value > o[O_VISUAL].value)
        return cli_usage_error("flops: --kept %lld is more than --visual %lld", o[O_KEPT].value,
                               o[O_VISUAL].value);
    if (o[O_PRUNE_LAYER].value > lm.layers)
        return cli_usage_error("flops: --prune-layer %lld is past the last layer (%d)", o[O_PRUNE_LAYER].value,
                               (int)lm.layers);

    struct vtc_flops fb, fa;
    int st = vtc_lm_flops(&lm, o[O_VISUAL].value, o[O_TEXT].value, o[O_GEN].value, &fb);
    if (st == VTC_OK)
        st = vtc_lm_flops_split(&lm, o[O_VISUAL].value, o[O_KEPT].value, (int32_t)o[O_PRUNE_LAYER].value,
                                o[O_TEXT].value, o[O_GEN].value, &fa);
    if (st != VTC_OK) return cli_status_error(st, "flops");

    const char *name = preset ? preset : "custom";
    if (json) return print_json(name, custom, &lm, o, &fb, &fa);
    print_human(name, &lm, o, &fb, &fa);
    if (fflush(stdout) != 0) return cli_runtime_error("flops: writing to stdout failed");
    return CLI_OK;
}
