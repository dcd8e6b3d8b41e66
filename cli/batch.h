// Batch mode of `vtc compress` / `vtc encode` (--manifest LIST --out-dir DIR) and
// --shard "I/N" with 0 <= I < N: 0, or -1 when malformed.
int cli_parse_shard(const char *s, int *i, int *n);
// `vtc report DIR`: docs/batch.md.
#ifndef VTC_CLI_BATCH_H
#define VTC_CLI_BATCH_H

struct pipeline_opts;

// Every input of o->manifest into o->out_dir (this shard's share). The exit code.
int batch_run(const struct pipeline_opts *o);
// --shard "I/N" with 0 <= I < N: 0, or -1 when malformed.
int cli_parse_shard(const char *s, int *i, int *n);
// `vtc report DIR`: the merged totals of a batch's report files.
int cmd_report(int argc, char **argv);

#endif
