// A batch manifest (docs/batch.md#manifests): the inputs of `vtc compress/encode
// --manifest LIST`, each with the id its output is named after.
//
// Text: one media path a line; blank lines and lines whose first non-blank
// character is '#' are skipped. A line whose first non-blank character is '{' is
// a JSON object: "path" (required), "id", "keep" (a number or --keep's string
// forms), "method"; other keys are ignored. Relative paths resolve against the
// manifest's folder (the current directory for "-", standard input).
//
// An item's id is its "id", else its path relative to the manifest's folder,
// normalised ("./a//b" -> "a/b"; a leading ".." becomes "_up", an absolute path
// outside the folder "_root/..."). Ids are unique in a manifest.
#ifndef VTC_CLI_MANIFEST_H
#define VTC_CLI_MANIFEST_H

#include <stddef.h>

struct manifest_item {
    char *path;   // the file to open
    char *given;  // the path as the manifest gives it
    char *id;     // names the output: DIR/<id><suffix>
    char *method; // JSONL "method", or NULL
    char *keep;   // JSONL "keep" in --keep's forms, or NULL
    int line;     // 1-based line in the manifest
};

struct manifest {
    char *name;   // the path given ("-": standard input)
    struct manifest_item *items;
    int n;
};

// Reads and checks a whole manifest: syntax, ids (well-formed, unique). A vtc
// status (VTC_ERR_IO, VTC_ERR_FORMAT naming "LIST:LINE", VTC_ERR_NOMEM), the
// reason in vtc_last_error(); on failure *m is empty.
int manifest_read(const char *name, struct manifest *m);
void manifest_free(struct manifest *m);

// The whole of a file, or standard input for "-", with a NUL after its len
// bytes (caller frees). A vtc status.
int cli_read_all(const char *name, char **out, size_t *len);

#endif
