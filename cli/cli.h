// Shared helpers of the vtc command-line tool. Exit codes (SPEC §7): 0 ok,
// 1 runtime or input error, 2 usage error; errors are one line
// "vtc: error: <what>: <why>" on stderr.
#ifndef VTC_CLI_H
#define VTC_CLI_H

#include "vtc.h"

#define CLI_OK 0
#define CLI_RUNTIME 1
#define CLI_USAGE 2

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

// Print "vtc: error: <message>" and return the matching exit code.
int cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);
int cli_runtime_error(const char *fmt, ...) CLI_PRINTF(1, 2);
// Maps a library status to an exit code (VTC_ERR_ARG -> 2, other errors -> 1)
// and prints "vtc: error: <what>: <vtc_last_error()>".
int cli_status_error(int status, const char *what);

// Strict number parsing: the whole string must be a number in range. 0 on success.
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);

// --keep: "64" (a count), "25%" (a percentage) or "0.25" (a fraction) into the
// vtc_prune_params.keep convention (>= 1 count, (0, 1) fraction; "100%" = 0 = all).
int cli_parse_keep(const char *s, double *out);

// --positions: "compact" -> 0, "original" -> 1 (decode_run.h). 0 on success, -1 else.
int cli_parse_positions(const char *s, int *original);

// Joins --param values with commas, the form vtc_prune_params.params takes.
// 0, or -1 when they do not fit in cap bytes.
int cli_join_params(const char *const *list, int n, char *buf, size_t cap);

// Text from the command line (a path, --param) as a token-file metadata value,
// which must be UTF-8: copied into dst (cap bytes, NUL included) with each byte
// that is not part of a well-formed sequence written as \xNN, cut short at a
// character's end when it does not fit.
void cli_meta_text(char *dst, size_t cap, const char *src);

// The whole tool: argv as main() gets it; returns the exit code. main() adds
// only the signal handlers (fuzz/fuzz_cli.c calls this directly).
int vtc_cli_main(int argc, char **argv);

// Subcommands: each parses its own argv (argv[0] is the subcommand name).
int cmd_compress(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_flops(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_methods(int argc, char **argv);
int cmd_eval(int argc, char **argv);

// Language-model files for `vtc info` (cmd_generate.c): 0 or a negative status.
int vtc_lm_probe(const char *path);
int info_lm(const char *path);

#endif
