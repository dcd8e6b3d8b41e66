// The report of one encode/compress run: human summary and JSON.
#ifndef VTC_CLI_REPORT_H
#define VTC_CLI_REPORT_H

#include <stdio.h>

#include "vtc.h"

struct cli_decode_result;
struct cli_input;

struct report {
    const char *input, *command, *output;
    const vtc_model *model;
    const vtc_ctx *ctx;        // the context that encoded (its precision), or NULL
    const struct cli_input *in;    // the input read (cli.h), or NULL
    const vtc_features *f;
    const vtc_tokens *tokens;  // NULL for encode
    struct vtc_prune_params prune;
    int default_method;        // 1 when compress picked the method (no --method)
    struct vtc_lm_shape lm;
    const char *lm_name;
    int n_text, n_gen;
    double ms_load, ms_decode, ms_prune, ms_write;
    int streamed;          // the features file was written frame by frame during the encode
    const struct cli_decode_result *decode; // compress --decoder: its run (decode_run.h), or NULL
    // a batch's report line (batch.c): the item's id and manifest path, its status
    // ("ok", "failed", "skipped") and a failed one's error. Failed and skipped items
    // have no features (f NULL): a skipped one gives its token file's method and counts.
    const char *id, *path, *status, *error, *file_method;
    int64_t file_n_input, file_n_kept;
};

void report_init(struct report *r, const char *input, const char *command);
// The JSON report (docs/cli.md#json-reports); with r->status, a batch's line.
int report_write_json(const struct report *r, FILE *fp, int pretty);
// Writes the JSON report atomically to path.
int report_write_file(const struct report *r, const char *path);
void report_print_summary(const struct report *r, FILE *fp);

#endif
