// vtc.h — libvtc, visual token compression for vision-language models.
//
// The one public header. A host loads a vision model once (vtc_model_load),
// creates one context per thread (vtc_ctx_new), encodes images or video frames
// into visual tokens (vtc_encode_*), reduces them with a pruning method
// (vtc_prune) and hands the kept tokens — embeddings, source index, (t, y, x)
// positions and weights — to its language model.
//
// Conventions
// - Every fallible call returns an int status: VTC_OK (0) or a negative
//   enum vtc_status. Constructors return NULL on failure. The reason is in
//   vtc_last_error() (thread-local) and, for calls taking a ctx, vtc_ctx_error().
// - The library never prints, never exits and never aborts on bad input.
// - Ownership is stated at each declaration. Thread-safety likewise: a loaded
//   vtc_model is immutable and may be shared by any number of threads; a
//   vtc_ctx and a vtc_tokens belong to one thread at a time.
#ifndef VTC_H
#define VTC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VTC_VERSION_MAJOR 0
#define VTC_VERSION_MINOR 1
#define VTC_VERSION_PATCH 0
#define VTC_VERSION "0.1.0"

// ---------------------------------------------------------------- errors

enum vtc_status {
    VTC_OK              =  0,
    VTC_ERR_ARG         = -1, // invalid argument or impossible parameter (usage error)
    VTC_ERR_IO          = -2, // a file could not be opened, read or written
    VTC_ERR_FORMAT      = -3, // malformed, truncated or inconsistent input
    VTC_ERR_UNSUPPORTED = -4, // valid input that vtc does not handle
    VTC_ERR_NOMEM       = -5, // an allocation failed
    VTC_ERR_LIMIT       = -6, // input exceeds a configured limit (pixels, frames, tokens, memory)
    VTC_ERR_INTERNAL    = -7, // a bug in vtc
};

// Short name of a status ("ok", "invalid argument", ...). Static storage; thread-safe.
const char *vtc_status_str(int status);
// "what: why" for the most recent failure on the calling thread ("" if none).
// Valid until the next failing vtc call on this thread. Thread-safe (thread-local).
const char *vtc_last_error(void);
// The status that goes with vtc_last_error() (VTC_OK if none). For constructors
// that return NULL. Thread-safe (thread-local).
int vtc_last_status(void);

// ---------------------------------------------------------------- limits

// Bounds on what a file or caller may make vtc allocate or compute.
struct vtc_limits {
    uint64_t max_pixels;  // largest decoded image or frame, width*height  (default 64 Mpx)
    int32_t  max_frames;  // most frames sampled from one video             (default 4096)
    int64_t  max_tokens;  // most visual tokens in one encode                (default 1 << 20)
    uint64_t max_memory;  // largest single buffer vtc allocates, bytes      (default 8 GiB)
};
struct vtc_limits vtc_limits_default(void);

// ---------------------------------------------------------------- images

// An 8-bit RGB image, rows packed (stride = 3*width). Caller frees with vtc_image_free.
typedef struct vtc_image {
    int32_t  width;
    int32_t  height;
    uint8_t *rgb;
} vtc_image;

// Decodes a PNG or JPEG file (detected by content, not name) to RGB as Pillow's
// Image.open(path).convert('RGB') does. NULL on failure. Thread-safe.
vtc_image *vtc_image_load(const char *path, const struct vtc_limits *limits);
// Same from a memory buffer. NULL on failure. Thread-safe.
vtc_image *vtc_image_load_memory(const void *data, size_t size, const struct vtc_limits *limits);
// Wraps a copy of caller pixels (RGB, stride 3*width). NULL on failure. Thread-safe.
vtc_image *vtc_image_from_rgb(const uint8_t *rgb, int32_t width, int32_t height);
void vtc_image_free(vtc_image *img);

// ---------------------------------------------------------------- models

typedef struct vtc_model vtc_model;

enum vtc_aspect {
    VTC_ASPECT_DEFAULT = 0, // what the model's config says
    VTC_ASPECT_CROP    = 1, // resize shortest side, centre crop (CLIP image processor)
    VTC_ASPECT_PAD     = 2, // pad to square with the mean colour, then resize (LLaVA-1.5)
    VTC_ASPECT_RESIZE  = 3, // resize to square ignoring aspect (SigLIP)
};

struct vtc_model_params {
    int32_t feature_layer; // hidden-states index the features come from, as transformers'
                           // vision_feature_layer: -2 = penultimate block's output, -1 = last,
                           // k > 0 = output of block k. 0 = from the model file (default 0)
    int32_t aspect;        // enum vtc_aspect (default VTC_ASPECT_DEFAULT)
    int32_t use_mmap;      // map the file rather than read it (default 1)
    struct vtc_limits limits; // (default vtc_limits_default())
};
struct vtc_model_params vtc_model_params_default(void);

// Loads a vision model: a Hugging Face directory (config.json + *.safetensors,
// sharded or not), a single .safetensors file, or a llama.cpp mmproj .gguf.
// NULL on failure (see vtc_last_error). Caller frees with vtc_model_free.
// Thread-safe; the returned model is immutable and shareable across threads.
vtc_model *vtc_model_load(const char *path, struct vtc_model_params params);
// The embedded default model (CLIP ViT at LLaVA geometry, 336 px, patch 14,
// 576 tokens, projector to 256). Its weights are seeded random ("demo").
// Caller frees with vtc_model_free. Thread-safe.
vtc_model *vtc_model_default(struct vtc_model_params params);
void vtc_model_free(vtc_model *model);

struct vtc_model_info {
    char     name[128];     // e.g. "clip-vit (safetensors)"
    char     arch[16];      // "clip" or "siglip"
    char     format[16];    // "safetensors", "gguf" or "builtin"
    int32_t  image_size;    // input side in pixels
    int32_t  patch_size;
    int32_t  grid;          // patches per side (image_size / patch_size)
    int32_t  hidden;        // encoder width D
    int32_t  heads;
    int32_t  head_dim;
    int32_t  ffn;
    int32_t  n_layers;      // blocks present in the file
    int32_t  feature_layer; // resolved: features are the output of this block (1-based)
    int32_t  has_cls;       // 1 for CLIP-style class token
    int32_t  has_projector; // 1 if a LLaVA MLP projector is present
    int32_t  lm_dim;        // projector output width (0 without projector)
    int32_t  aspect;        // resolved default enum vtc_aspect
    int32_t  random_weights;// 1 for the built-in demo model
    float    image_mean[3];
    float    image_std[3];
};
// Fills *info. Thread-safe.
int vtc_model_get_info(const vtc_model *model, struct vtc_model_info *info);

// ---------------------------------------------------------------- contexts

typedef struct vtc_ctx vtc_ctx;

// Called after each frame an encode call finishes (done of total). Runs on the
// calling thread; must not call back into the same ctx.
typedef void (*vtc_progress_fn)(void *user, int32_t done, int32_t total);

struct vtc_ctx_params {
    int32_t n_threads;     // worker threads for the encoder and methods; 0 = all CPUs (default 0)
    int32_t want_embeds;   // run the projector on every token (needed by divprune/todre) (default 1)
    int32_t want_last_attn;// compute CLS attention of the last layer even past the feature layer (default 1)
    vtc_progress_fn progress; // (default NULL)
    void   *progress_user;    // passed to progress (default NULL)
};
struct vtc_ctx_params vtc_ctx_params_default(void);

// A context holds scratch buffers and the last error for one thread's work on
// one model. The model must outlive it. NULL on failure. Caller frees with
// vtc_ctx_free. Thread-safe to create; use each context from one thread at a time.
vtc_ctx *vtc_ctx_new(const vtc_model *model, struct vtc_ctx_params params);
void vtc_ctx_free(vtc_ctx *ctx);
// The last error recorded by a call on this context ("" if none). Owned by ctx.
const char *vtc_ctx_error(const vtc_ctx *ctx);

// ---------------------------------------------------------------- encoder outputs

// The full visual-token grid of one image or clip: everything a pruning method
// may need. Frames are stacked: token i is frame i / (H*W). Arrays are owned by
// the struct; fields a model cannot provide are NULL.
typedef struct vtc_features {
    int32_t T, H, W;        // grid: frames, rows, columns of patches
    int32_t n;              // T*H*W patch tokens (CLS not included)
    int32_t dim;            // feature width D (encoder hidden size)
    int32_t head_dim;       // width of `keys`
    int32_t lm_dim;         // width of `embeds` (0 if none)
    int32_t cls_is_received;// 1 when cls_attn holds mean received attention (no CLS token, SigLIP)
    float  *features;       // [n, dim]   the feature layer's output (no post-LN)
    float  *cls;            // [T, dim]   the CLS token's feature-layer output, or NULL
    float  *cls_attn;       // [n]        head-mean CLS->patch softmax attention of the feature layer
    float  *cls_attn_last;  // [n]        the same for the last block present, or NULL
    float  *keys;           // [n, head_dim] head-mean keys of the feature layer
    float  *embeds;         // [n, lm_dim] post-projector embeddings, or NULL
    float  *cls_embed;      // [T, lm_dim] projected CLS, or NULL
    double *timestamps;     // [T] seconds of each frame in its source, or NULL
    double  flops_encoder;  // FLOPs executed by the vision encoder (2 per MAC)
    double  flops_projector;// FLOPs executed by the projector
    double  ms_preprocess;  // wall time spent in each stage by the call that made this
    double  ms_encode;
    double  ms_project;
} vtc_features;

// Allocates an empty features struct with the given geometry and the arrays
// named by `fields` (VTC_F_* bits) zero-filled. NULL on failure. Caller frees
// with vtc_features_free. Hosts use this to hand their own features to vtc_prune.
enum {
    VTC_F_FEATURES = 1 << 0, VTC_F_CLS = 1 << 1, VTC_F_CLS_ATTN = 1 << 2,
    VTC_F_CLS_ATTN_LAST = 1 << 3, VTC_F_KEYS = 1 << 4, VTC_F_EMBEDS = 1 << 5,
    VTC_F_CLS_EMBED = 1 << 6, VTC_F_TIMESTAMPS = 1 << 7,
};
vtc_features *vtc_features_new(int32_t T, int32_t H, int32_t W, int32_t dim, int32_t head_dim,
                               int32_t lm_dim, unsigned fields);
void vtc_features_free(vtc_features *f);

// s x s average pooling of every per-token array over each frame's grid (LLaVA-
// OneVision's video pooling, applied after the projector; windows at the right
// and bottom edges average the tokens they have, so H' = ceil(H / s)). CLS
// attention sums over the window (a window receives its tokens' attention).
// The result's grid is the pooled grid. NULL on failure; caller frees with
// vtc_features_free. Thread-safe.
vtc_features *vtc_features_pool(const vtc_features *f, int32_t size);

// Encodes one image: preprocess (as the model's image processor), ViT forward,
// attention statistics, projector. *out receives a new features struct (T = 1);
// caller frees with vtc_features_free. Use the ctx from one thread at a time.
int vtc_encode_image(vtc_ctx *ctx, const vtc_image *img, vtc_features **out);
// Encodes already-decoded frames of one clip (T = n_frames); timestamps may be NULL.
int vtc_encode_frames(vtc_ctx *ctx, const vtc_image *const *frames, int32_t n_frames,
                      const double *timestamps, vtc_features **out);

// ---------------------------------------------------------------- media

// Decoded input: one image, or frames sampled from a video. Caller frees with vtc_media_free.
typedef struct vtc_media {
    int32_t     n_frames;     // 1 for an image
    vtc_image **frames;       // [n_frames]
    double     *timestamps;   // [n_frames] seconds in the source (0 for an image)
    int32_t    *frame_index;  // [n_frames] decoded-frame index in the source (0 for an image)
    int32_t     is_video;
    int64_t     total_frames; // frames in the source (1 for an image)
    double      fps;          // source frame rate (0 for an image)
    char        codec[32];    // "png", "jpeg", "h264", ...
} vtc_media;

struct vtc_sample_params {
    int32_t n_frames; // frames sampled as floor(linspace(0, total-1, n)); 0 = use fps  (default 8)
    double  fps;      // or frames per second of video time, when n_frames is 0       (default 0)
};
struct vtc_sample_params vtc_sample_params_default(void);

// Loads an image (PNG/JPEG, by content) or samples frames from a video (anything
// FFmpeg demuxes). NULL on failure. Caller frees with vtc_media_free. Thread-safe.
vtc_media *vtc_media_load(const char *path, struct vtc_sample_params sample, const struct vtc_limits *limits);
void vtc_media_free(vtc_media *media);

// Writes the model's preprocessed input for `img` into pixels, CHW float
// [3, image_size, image_size] (normalised). For testing and hosts that batch.
int vtc_preprocess(const vtc_model *model, const vtc_image *img, int32_t aspect, float *pixels);

// ---------------------------------------------------------------- pruning

// Kept tokens as handed to the language model. Caller frees with vtc_tokens_free.
typedef struct vtc_tokens {
    int32_t  n;          // tokens kept
    int32_t  dim;        // embedding width
    int32_t  n_input;    // tokens the unpruned model would have handed on
    int32_t  space;      // enum vtc_space: where `data` lives
    float   *data;       // [n, dim] embeddings
    int32_t *index;      // [n] flattened source position t*H*W + y*W + x, or -1 (synthetic/CLS)
    int32_t *pos;        // [n, 3] (t, y, x) of the token or of its representative
    float   *weight;     // [n] how many source tokens this one stands for
    int32_t *codes;      // [n_input] codebook methods (vq): code id of each source token
                         // in t*H*W + y*W + x order; NULL for other methods
    int32_t  grid[3];    // T, H, W of the source grid
    char     method[32]; // the method that made these tokens
    char     note[256];  // how it ran, e.g. "no CLS token: used mean received attention"
    double   flops_projector; // FLOPs vtc_prune spent projecting kept tokens to the LM's space
} vtc_tokens;

enum vtc_space {
    VTC_SPACE_FEATURES = 0, // encoder feature space (before the projector)
    VTC_SPACE_EMBEDS   = 1, // language-model space (after the projector)
};
void vtc_tokens_free(vtc_tokens *t);

struct vtc_prune_params {
    const char *method;    // registry name: none random uniform pool cls visionzip divprune todre tome dycoke vq (default "none")
    double      keep;      // tokens kept: >= 1 a count, in (0, 1) a fraction of n (default 0 = all)
    const char *params;    // method knobs "name=value,name=value", see vtc_method_*  (default NULL)
    uint64_t    seed;      // for seeded methods (default 0)
};
struct vtc_prune_params vtc_prune_params_default(void);

// Runs a pruning method on encoder outputs. Tokens come out in language-model
// space when the model has a projector (projecting kept tokens as needed), else in
// feature space. `model` may be NULL for features a host computed itself: then
// tokens stay in whatever space the method works in (see out->space).
// *out receives new tokens; caller frees with vtc_tokens_free. Thread-safe for
// distinct ctx/outputs; model may be shared.
int vtc_prune(vtc_ctx *ctx, const vtc_model *model, const vtc_features *f,
              struct vtc_prune_params params, vtc_tokens **out);

// The method registry, for listing: count, then per method its name, one-line
// summary and parameter table. Strings are static. Thread-safe.
int32_t     vtc_method_count(void);
const char *vtc_method_name(int32_t i);
const char *vtc_method_summary(int32_t i);
int32_t     vtc_method_param_count(int32_t i);
// Parameter j of method i: name, default value as text, and description.
int vtc_method_param(int32_t i, int32_t j, const char **name, const char **def, const char **help);

// Checks a method name and its parameter string without running anything
// (keep is checked against n only when pruning). Thread-safe.
int vtc_prune_validate(struct vtc_prune_params params);
// The VTC_F_* fields method `name` reads from vtc_features. Thread-safe.
int vtc_method_needs(const char *name, unsigned *fields);

// Resolves a --keep value against n tokens: a count >= 1 (integral), a fraction
// in (0, 1), or 0 meaning all. Returns the count in [1, n] or a negative status.
int64_t vtc_keep_count(double keep, int64_t n);

// ---------------------------------------------------------------- files

// Writes features as a safetensors token file (SPEC §3 names), atomically
// (temporary file + rename). `metadata` is a NULL-terminated key, value list or NULL.
int vtc_features_save(const vtc_features *f, const char *path, const char *const *metadata);
// Reads a token file written by vtc_features_save (or a host with the same names).
int vtc_features_load(const char *path, vtc_features **out);
// Writes kept tokens (tokens, index, positions, weight) atomically.
int vtc_tokens_save(const vtc_tokens *t, const char *path, const char *const *metadata);

// ---------------------------------------------------------------- FLOPs

// A decoder-only language model's shape for FLOPs accounting.
struct vtc_lm_shape {
    int32_t layers, hidden, ffn, heads, kv_heads, vocab;
};
// Preset by name: llava-1.5-7b, llava-1.5-13b, qwen2-7b, llava-onevision-7b, qwen2-0.5b.
int vtc_lm_preset(const char *name, struct vtc_lm_shape *out);

struct vtc_flops {
    double prefill;        // every matmul, 2 FLOPs per MAC, prompt of n_visual + n_text
    double decode_per_token;// average per generated token with KV cache (incl. LM head)
    double decode;         // total over n_gen tokens
    double paper_prefill;  // the literature's per-layer 4nd^2 + 2n^2d + 2ndm convention
};
// FLOPs of a prompt with n_visual visual + n_text text tokens and n_gen generated ones.
int vtc_lm_flops(const struct vtc_lm_shape *lm, int64_t n_visual, int64_t n_text, int64_t n_gen,
                 struct vtc_flops *out);

#ifdef __cplusplus
}
#endif
#endif // VTC_H
