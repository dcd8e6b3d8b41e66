// vtc — the command-line tool. Dispatches to one function per subcommand.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "batch.h"
#include "base/mapfile.h"
#include "base/safetensors.h"

static const char *USAGE =
    "usage: vtc <command> [options]\n"
    "\n"
    "commands:\n"
    "  compress [--model M] INPUT [--method NAME] [--keep K] [--frames N | --fps F]\n"
    "           [-o OUT.safetensors] [--report R.json] [--viz V.png] [--lm PRESET] [--threads N]\n"
    "           [--param NAME=VALUE ...] [--json]\n"
    "                        decode, encode, prune and write the kept visual tokens\n"
    "  encode   [--model M] INPUT -o OUT.safetensors [--frames N | --fps F] [--json]\n"
    "                        write the full token grid with attention statistics\n"
    "  prune    FEATURES.safetensors --method NAME --keep K [--param NAME=VALUE ...] -o OUT\n"
    "                        prune a token file written by `vtc encode` (or a host)\n"
    "  flops    --lm PRESET --visual N --kept K [--text T] [--gen G] [--json]\n"
    "                        language-model FLOPs before and after compression\n"
    "  generate --lm FILE [--tokenizer FILE] --prompt TEXT [-n STEPS] [--temp T]\n"
    "                        run the reference decoder\n"
    "  eval     --decoder FILE --questions Q.tsv [--model M] [--methods LIST] [--keep LIST]\n"
    "                        accuracy against kept tokens, per pruning method and budget\n"
    "  export-lm IN.bin -o OUT.gguf [--tokenizer FILE] [--type f32|f16]\n"
    "                        a llama2.c checkpoint as a GGUF file for llama.cpp\n"
    "  info     FILE         what a model, token or media file is\n"
    "  frames   INPUT [--frames N | --fps F] [--out DIR]\n"
    "                        the frames vtc samples from a video, listed or written as PPM\n"
    "  methods               the pruning methods, their parameters and defaults\n"
    "  report   DIR [--manifest LIST] [--json]\n"
    "                        totals of a batch (compress/encode --manifest LIST --out-dir DIR)\n"
    "\n"
    "`vtc <command> --help` shows a command's options. Exit status: 0 ok, 1 runtime or\n"
    "input error, 2 usage error.\n";

// SIGINT/SIGTERM: remove an output file being written, then die by the signal.
#ifndef VTC_CLI_NO_MAIN
static void on_signal(int sig) {
    vtc_tmpfile_cleanup_signal_safe();
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

int vtc_cli_main(int argc, char **argv) {
    if (argc < 2) return cli_usage_error("no command given (see `vtc --help`)");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("vtc %s\n", VTC_VERSION);
        return CLI_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        { "compress", cmd_compress }, { "encode", cmd_encode }, { "prune", cmd_prune },
        { "flops", cmd_flops },       { "generate", cmd_generate }, { "info", cmd_info },
        { "methods", cmd_methods },   { "eval", cmd_eval },         { "export-lm", cmd_export_lm },
        { "report", cmd_report },     { "frames", cmd_frames },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s' (see `vtc --help`)", cmd);
}

#ifndef VTC_CLI_NO_MAIN // fuzz/fuzz_cli.c calls vtc_cli_main itself
int main(int argc, char **argv) {
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int rc = vtc_cli_main(argc, argv);
    // what went to stdout (a summary, --json) must have arrived: `vtc ... > /dev/full` fails
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == CLI_OK) rc = cli_runtime_error("writing standard output: %s", strerror(errno ? errno : EIO));
    }
    return rc;
}
#endif
