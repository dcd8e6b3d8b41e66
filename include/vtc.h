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

// Marks the functions libvtc exports; everything else in the library is hidden.
#if defined(_WIN32) && defined(VTC_BUILD_DLL)
#define VTC_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define VTC_API __attribute__((visibility("default")))
#else
#define VTC_API
#endif

#define VTC_VERSION_MAJOR 0
#define VTC_VERSION_MINOR 1
#define VTC_VERSION_PATCH 0
#define VTC_VERSION "0.1.0"

// VTC_VERSION as the library was built ("0.1.0"), for hosts and bindings that
// load libvtc at run time. Static storage; thread-safe.
VTC_API const char *vtc_version(void);

// ---------------------------------------------------------------- errors

enum vtc_status {
    VTC_OK              =  0,
    VTC_ERR_ARG         = -1, // invalid argument or impossible parameter
    VTC_ERR_IO          = -2, // a file could not be opened, read or written
    VTC_ERR_FORMAT      = -3, // malformed, truncated or inconsistent input
    VTC_ERR_UNSUPPORTED = -4, // valid input that vtc does not handle
    VTC_ERR_NOMEM       = -5, // an allocation failed
    VTC_ERR_LIMIT       = -6, // input exceeds a configured limit (pixels, frames, tokens, memory)
    VTC_ERR_INTERNAL    = -7, // a bug in vtc
    VTC_ERR_NEEDS       = -8, // the input lacks what the method needs: a tensor it reads, enough
                              // frames or tokens for the budget asked (a property of the input,
                              // not a bad argument; the registry's check is the only one)
};

// Short name of a status ("ok", "invalid argument", ...). Static storage; thread-safe.
VTC_API const char *vtc_status_str(int status);
// "what: why" for the most recent failure on the calling thread ("" if none).
// Valid until the next failing vtc call on this thread. Thread-safe (thread-local).
VTC_API const char *vtc_last_error(void);
// The status that goes with vtc_last_error() (VTC_OK if none). For constructors
// that return NULL. Thread-safe (thread-local).
VTC_API int vtc_last_status(void);

// ---------------------------------------------------------------- limits

// Bounds on what a file or caller may make vtc allocate or compute.
struct vtc_limits {
    uint64_t max_pixels;  // largest decoded image or frame, width*height  (default 64 Mpx)
    int32_t  max_frames;  // most frames sampled from one video             (default 4096)
    int64_t  max_tokens;  // most visual tokens in one encode                (default 1 << 20)
    uint64_t max_memory;  // most bytes one encode's data may take: its tokens, the frames in
                          // flight and the encoder's buffers (docs/library.md#memory); also
                          // the largest single buffer vtc allocates       (default 8 GiB)
};
VTC_API struct vtc_limits vtc_limits_default(void);

// ---------------------------------------------------------------- images

// An 8-bit RGB image, rows packed (stride = 3*width). Caller frees with vtc_image_free.
typedef struct vtc_image {
    int32_t  width;
    int32_t  height;
    uint8_t *rgb;
} vtc_image;

// Decodes a PNG or JPEG file (detected by content, not name) to RGB as Pillow's
// Image.open(path).convert('RGB') does. NULL on failure. Thread-safe.
VTC_API vtc_image *vtc_image_load(const char *path, const struct vtc_limits *limits);
// Same from a memory buffer. NULL on failure. Thread-safe.
VTC_API vtc_image *vtc_image_load_memory(const void *data, size_t size, const struct vtc_limits *limits);
// Wraps a copy of caller pixels (RGB, stride 3*width). NULL on failure. Thread-safe.
VTC_API vtc_image *vtc_image_from_rgb(const uint8_t *rgb, int32_t width, int32_t height);
VTC_API void vtc_image_free(vtc_image *img);

// How the frames of a features struct become the language model's sequence.
// An anyres image (LLaVA-NeXT, LLaVA-OneVision) is encoded as tiles stacked
// like frames: frame 0 the base image (the whole image resized to one tile),
// frames 1.. the sub-images of the best pinpoint, row-major. The model sees
// the base tile's tokens, then the sub-images' grids stitched into one
// (tiles_h*H) x (tiles_w*W) grid, cut to the image's aspect (transformers'
// unpad_image), for OneVision shrunk bilinearly when larger than its tile
// budget, with image_newline after each row (docs/library.md#tiled-images).
enum vtc_tiling_kind { VTC_TILING_NONE = 0, VTC_TILING_ANYRES = 1 };
enum vtc_newline {
    VTC_NEWLINE_NONE = 0, // no newline tokens
    VTC_NEWLINE_ROW  = 1, // image_newline after each row of the stitched grid (anyres images)
    VTC_NEWLINE_END  = 2, // one image_newline after all tokens (LLaVA-OneVision video)
};
typedef struct vtc_tiling {
    int32_t kind;               // enum vtc_tiling_kind
    int32_t newline;            // enum vtc_newline
    int32_t image_w, image_h;   // the original image (anyres)
    int32_t tiles_h, tiles_w;   // sub-images: T = 1 + tiles_h * tiles_w
    int32_t unpad_y0, unpad_x0; // unpad_image's window in the stitched grid
    int32_t unpad_h, unpad_w;
    int32_t out_h, out_w;       // the grid the language model sees: the window, or its shrink
} vtc_tiling;

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
    int32_t heads;         // attention heads, for a tower whose files do not say (no config.json);
                           // 0 = from the files, else it must agree with them (default 0)
    int32_t image_size;    // input side in pixels, likewise (default 0)
    int32_t min_pixels;    // native-resolution models (Qwen2-VL): smart_resize's bounds on an
    int32_t max_pixels;    // image's pixel count; 0 = the preprocessor config's, a GGUF's
                           // llama.cpp's 8..4096 tokens (default 0, 0)
};
VTC_API struct vtc_model_params vtc_model_params_default(void);

// Loads a vision model: a Hugging Face directory (config.json + *.safetensors,
// sharded or not), a single .safetensors file, or a llama.cpp mmproj .gguf.
// The tower's family (CLIP, SigLIP, Qwen2-VL, Qwen2.5-VL) and the VLM wrapper
// (LLaVA, LLaVA-NeXT, LLaVA-OneVision) come from config.json's model_type, else
// from the tensor names; what the files do not determine (a tower without
// config.json has no head count) is refused unless given in params, and a model
// vtc recognises but does not run (Pixtral, ...) is refused by name
// (docs/library.md#models). NULL on failure (see vtc_last_error). Caller frees with vtc_model_free.
// Thread-safe; the returned model is immutable and shareable across threads.
VTC_API vtc_model *vtc_model_load(const char *path, struct vtc_model_params params);
// The embedded default model: vtc's small trained VLM's vision side (CLIP ViT at
// LLaVA geometry, 336 px, patch 14, 576 tokens, hidden 128, projector to 128;
// the files in samples/vlm, trained by tools/quality_train.py). Caller frees
// with vtc_model_free. Thread-safe.
VTC_API vtc_model *vtc_model_default(struct vtc_model_params params);
VTC_API void vtc_model_free(vtc_model *model);

struct vtc_model_info {
    char     name[128];     // e.g. "clip-vit (safetensors)"
    char     arch[16];      // the encoder family: "clip", "siglip", "qwen2vl" or "qwen2.5vl"
    char     format[16];    // "safetensors", "gguf" or "builtin"
    int32_t  image_size;    // input side of one tile in pixels
    int32_t  patch_size;
    int32_t  grid;          // patches per side of one tile: floor(image_size / patch_size)
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
    int32_t  random_weights;// 1 for a seeded random model (benchmarks), 0 for trained weights
    float    image_mean[3];
    float    image_std[3];
    char     layout[16];    // how an image becomes tiles: "single", "anyres" (LLaVA-NeXT),
                            // "anyres_max" (LLaVA-OneVision), "native" (Qwen2-VL: one grid at
                            // the image's own aspect)
    int32_t  grid_h, grid_w;// patches per tile, rows and columns
    int32_t  post_layernorm;// 1 when the features pass through the tower's post_layernorm
                            // (a plain SigLIP tower's last_hidden_state)
    int32_t  n_feature_layers; // layers whose outputs the features concatenate (1, or a
                            // LLaVA-NeXT vision_feature_layer list); feature_layer is the last
    int32_t  feature_dim;   // width of the features: hidden * n_feature_layers; a native-resolution
                            // tower's: merge_size^2 * hidden (its merger's input)
    // Layout "native" (Qwen2-VL, Qwen2.5-VL), else 0: an image is resized to
    // multiples of patch_size * merge_size with min_pixels..max_pixels pixels and
    // cut into patches of temporal_patch frames (an image repeated, video frames
    // paired); each merge_size x merge_size patches make one token. image_size
    // and the grid are 0 (they depend on the image: vtc_model_image_tokens).
    int32_t  merge_size;
    int32_t  temporal_patch;
    int32_t  window_size;   // windowed attention's window in pixels (Qwen2.5-VL), 0 = none
    int32_t  min_pixels, max_pixels;
};
// Fills *info. Thread-safe.
VTC_API int vtc_model_get_info(const vtc_model *model, struct vtc_model_info *info);
// What the model hands its language model for a w x h image, unpruned: *n_tokens
// (a one-tile model: its grid; LLaVA-NeXT / OneVision: the base tile, the
// stitched window and one newline per row, as transformers' processor counts
// them) and, when tiling is not NULL, the layout (vtc_features.tiling). Sides
// outside 1 .. 2^24: VTC_ERR_ARG. Thread-safe.
VTC_API int vtc_model_image_tokens(const vtc_model *model, int32_t w, int32_t h, vtc_tiling *tiling, int64_t *n_tokens);

// ---------------------------------------------------------------- contexts

typedef struct vtc_ctx vtc_ctx;

// Called after each frame an encode call finishes (done of total). Runs on the
// calling thread; must not call back into the same ctx.
typedef void (*vtc_progress_fn)(void *user, int32_t done, int32_t total);

// What the encoder and the projector compute in (docs/library.md#precision).
enum vtc_precision {
    VTC_PRECISION_AUTO = 0, // bf16 where the CPU has bf16 units (AMX-BF16, AVX512-BF16), else f32
    VTC_PRECISION_F32  = 1, // float32 throughout, matrix products on OpenBLAS
    VTC_PRECISION_BF16 = 2, // matrix products with bfloat16 inputs and float32 accumulation
                            // on oneDNN (emulated, slower than f32, on an AVX-512 CPU without bf16
                            // units; below AVX-512 vtc_ctx_new fails with VTC_ERR_UNSUPPORTED)
};

struct vtc_ctx_params {
    int32_t n_threads;     // worker threads for the encoder and methods; 0 = all CPUs (default 0)
    int32_t want_embeds;   // run the projector on every token (needed by divprune/todre) (default 1)
    int32_t want_last_attn;// compute CLS attention of the last layer even past the feature layer (default 1)
    vtc_progress_fn progress; // (default NULL)
    void   *progress_user;    // passed to progress (default NULL)
    int32_t precision;     // enum vtc_precision (default VTC_PRECISION_AUTO)
};
VTC_API struct vtc_ctx_params vtc_ctx_params_default(void);

// A context holds scratch buffers and the last error for one thread's work on
// one model. The model must outlive it. NULL on failure. Caller frees with
// vtc_ctx_free. Thread-safe to create; use each context from one thread at a time.
VTC_API vtc_ctx *vtc_ctx_new(const vtc_model *model, struct vtc_ctx_params params);
VTC_API void vtc_ctx_free(vtc_ctx *ctx);
// The last error recorded by a call on this context ("" if none). Owned by ctx.
VTC_API const char *vtc_ctx_error(const vtc_ctx *ctx);
// The precision the context's encoder and projector run in (VTC_PRECISION_F32
// or VTC_PRECISION_BF16: auto resolved), and in *engine (if not NULL) a line
// for reports saying where and why, e.g. "bf16 on oneDNN avx512_core_amx",
// "f32 on OpenBLAS (auto: oneDNN's ISA avx2 has no bf16 units)". Owned by ctx.
VTC_API int32_t vtc_ctx_precision(const vtc_ctx *ctx, const char **engine);

// ---------------------------------------------------------------- encoder outputs


// The full visual-token grid of one image or clip: everything a pruning method
// may need. Frames are stacked: token i is frame i / (H*W) (for an anyres image,
// tile i / (H*W), see vtc_tiling). Arrays are owned by the struct; fields a
// model cannot provide are NULL.
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
    char    model[128];     // the model that made these (vtc_model_info.name), "" when unknown
    char    model_format[16];// its vtc_model_info.format, "" when unknown
    int32_t feature_layer;  // its resolved feature layer (1-based block), 0 when unknown
    vtc_tiling tiling;      // how the frames become the LM's sequence (all 0: frames in order)
    float  *newline;        // [lm_dim] the model's image_newline embedding, or NULL
    float  *cls_attn_first; // [n] cls_attn's statistic in the first block (HiRED's budget split), or NULL
} vtc_features;

// Allocates an empty features struct with the given geometry and the arrays
// named by `fields` (VTC_F_* bits) zero-filled. NULL on failure. Caller frees
// with vtc_features_free. Hosts use this to hand their own features to vtc_prune.
enum {
    VTC_F_FEATURES = 1 << 0, VTC_F_CLS = 1 << 1, VTC_F_CLS_ATTN = 1 << 2,
    VTC_F_CLS_ATTN_LAST = 1 << 3, VTC_F_KEYS = 1 << 4, VTC_F_EMBEDS = 1 << 5,
    VTC_F_CLS_EMBED = 1 << 6, VTC_F_TIMESTAMPS = 1 << 7, VTC_F_NEWLINE = 1 << 8, VTC_F_CLS_ATTN_FIRST = 1 << 9,
};
VTC_API vtc_features *vtc_features_new(int32_t T, int32_t H, int32_t W, int32_t dim, int32_t head_dim,
                               int32_t lm_dim, unsigned fields);
VTC_API void vtc_features_free(vtc_features *f);

// Video pooling of every per-token array over each frame's grid, after the
// projector (LLaVA-OneVision, LLaVA-Video), the result's grid the pooled one:
//   VTC_POOL_AVG       s x s average; windows at the right and bottom edges
//                      average the tokens they have, so H' = ceil(H / s); CLS
//                      attention sums over the window (a window receives its
//                      tokens' attention);
//   VTC_POOL_BILINEAR  transformers' LlavaOnevision apply_pooling for s = 2:
//                      a bilinear resize (align_corners False) to ceil(H / s) x
//                      ceil(W / s); CLS attention resized alike and scaled by
//                      (H*W) / (H'*W'), so each frame's total stays.
// Anyres images cannot be pooled (VTC_ERR_ARG). NULL on failure; caller frees
// with vtc_features_free. Thread-safe.
enum vtc_pool_mode { VTC_POOL_AVG = 0, VTC_POOL_BILINEAR = 1 };
VTC_API vtc_features *vtc_features_pool(const vtc_features *f, int32_t size, int32_t mode);

// Encodes one image: preprocess (as the model's image processor), ViT forward,
// attention statistics, projector. *out receives a new features struct (T = 1);
// caller frees with vtc_features_free. Use the ctx from one thread at a time.
VTC_API int vtc_encode_image(vtc_ctx *ctx, const vtc_image *img, vtc_features **out);
// Encodes already-decoded frames of one clip (T = n_frames); timestamps may be NULL.
// The frames are the caller's: vtc reads each once, in order, as vtc_encode_source does.
VTC_API int vtc_encode_frames(vtc_ctx *ctx, const vtc_image *const *frames, int32_t n_frames,
                      const double *timestamps, vtc_features **out);

// Frames handed to the encoder one at a time, from the host's own decoder, camera
// or store, as stb_image's io callbacks hand it bytes. vtc_encode_source converts
// each frame to the model's input as soon as it arrives and never looks at it
// again, so an encode holds one or two frames (and the model's inputs made from
// them) however many the source gives (docs/library.md#streaming).
struct vtc_frame_source {
    // Puts the next frame in *frame (RGB, stride 3*width; the pixels stay the
    // source's and must stay valid and unchanged until the next call of next, or
    // until vtc_encode_source returns) and its time in seconds in *timestamp,
    // which is NaN on entry: left NaN for every frame, the features get no
    // timestamps. Returns 1 for a frame, 0 when there are no more, or a negative
    // enum vtc_status, which ends the encode with that status. Called one call at
    // a time, in order; when the ctx has more than one thread, on a thread vtc
    // starts for the call (decoding overlaps encoding), else on the calling thread.
    int (*next)(void *user, vtc_image *frame, double *timestamp);
    void    *user;     // passed to next
    int32_t  n_frames; // frames it will give when known, else 0: the features are then
                       // grown as frames come (more than n_frames is VTC_ERR_ARG)
    uint64_t bytes;    // memory the source holds while it gives frames (its decoder and
                       // frames), counted against limits.max_memory; 0 when none or unknown
};

// Encodes the frames a source gives (T = their number, >= 1) as one clip, as
// vtc_encode_frames does: each frame preprocessed, through the tower and the
// projector, then released. Before the first frame, the memory the encode will
// take is checked against the model's limits.max_memory (docs/library.md#memory);
// with n_frames 0 again whenever the features grow. *out: caller frees with
// vtc_features_free. Use the ctx from one thread at a time.
VTC_API int vtc_encode_source(vtc_ctx *ctx, const struct vtc_frame_source *src, vtc_features **out);

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

// Which frames of a video: vtc's rule (n_frames as floor(linspace(0, total-1, n)),
// or the first frame at or after each multiple of 1/fps), or Qwen2-VL's video
// processor's (counts rounded to its temporal patch of 2, fps clamped to 4..768
// frames, torch.arange indices: docs/formats.md#media). AUTO: the model's own
// where the call has a model (Qwen2-VL's for a native-resolution model), else vtc's.
enum vtc_sample_rule { VTC_SAMPLE_AUTO = 0, VTC_SAMPLE_UNIFORM = 1, VTC_SAMPLE_QWEN = 2 };
struct vtc_sample_params {
    int32_t n_frames; // frames sampled; 0 = use fps                                  (default 8)
    double  fps;      // or frames per second of video time, when n_frames is 0       (default 0)
    int32_t rule;     // enum vtc_sample_rule                                        (default AUTO)
};
VTC_API struct vtc_sample_params vtc_sample_params_default(void);

// Loads an image (PNG/JPEG, by content) or samples frames from a video (anything
// FFmpeg demuxes). NULL on failure. Caller frees with vtc_media_free. Thread-safe.
VTC_API vtc_media *vtc_media_load(const char *path, struct vtc_sample_params sample, const struct vtc_limits *limits);
VTC_API void vtc_media_free(vtc_media *media);

// Encodes a file as `vtc encode` reads it: an image (PNG or JPEG, by content) as
// vtc_encode_image does, or a video (anything FFmpeg demuxes), its frames sampled
// as vtc_media_load samples them and streamed through vtc_encode_source: decoded
// (on the ctx's threads), converted to the model's input and released one by one,
// so memory does not grow with the frames but for their tokens. No pooling (a
// LLaVA-OneVision host pools with vtc_features_pool). *out: caller frees with
// vtc_features_free. Use the ctx from one thread at a time.
VTC_API int vtc_encode_file(vtc_ctx *ctx, const char *path, struct vtc_sample_params sample, vtc_features **out);

// Encodes a file as vtc_encode_file does and writes its features file, as
// vtc_features_save would write it (docs/formats.md#features-file), to out_path;
// a video's frames are written as they are encoded, so memory holds one frame's
// tokens however many frames there are (docs/library.md#memory). The file
// appears whole or not at all. *info (may be NULL): the encode's grid, FLOPs,
// timings and timestamps, with no token arrays (they are in the file); caller
// frees with vtc_features_free. Use the ctx from one thread at a time.
VTC_API int vtc_encode_file_save(vtc_ctx *ctx, const char *path, struct vtc_sample_params sample,
                                 const char *out_path, const char *const *metadata, vtc_features **info);

// Writes the model's preprocessed input for `img` into pixels, CHW float
// [3, image_size, image_size] (normalised). For testing and hosts that batch.
// For an anyres model this is its base image and video frames (a plain resize).
VTC_API int vtc_preprocess(const vtc_model *model, const vtc_image *img, int32_t aspect, float *pixels);
// Tile k of the model's input for `img`, as vtc_encode_image encodes it: for a
// one-tile model tile 0 is vtc_preprocess's; for an anyres model tile 0 is the
// base image and tiles 1.. the sub-images of the best pinpoint, row-major.
// *n_tiles receives the count; pixels (CHW float [3, image_size, image_size])
// may be NULL to ask only that. k out of range: VTC_ERR_ARG. Thread-safe.
VTC_API int vtc_preprocess_tile(const vtc_model *model, const vtc_image *img, int32_t k, int32_t *n_tiles,
                                float *pixels);

// ---------------------------------------------------------------- pruning

// Kept tokens as handed to the language model. Caller frees with vtc_tokens_free.
typedef struct vtc_tokens {
    int32_t  n;          // tokens kept
    int32_t  dim;        // embedding width
    int32_t  n_input;    // tokens the unpruned model would have handed on
    int32_t  space;      // enum vtc_space: where `data` lives
    float   *data;       // [n, dim] embeddings
    int32_t *index;      // [n] flattened source position t*H*W + y*W + x, or -1 (synthetic/CLS)
    int32_t *pos;        // [n, 3] (t, y, x) of the token or of its representative; for an anyres
                         // image (0, y, x) in the base grid (tile 0) or in the stitched grid the
                         // LM sees (the others), and (0, y, -1) for the newline ending row y
    int32_t *tile;       // [n] anyres / newline layouts: the tile a token comes from (0 = base
                         // image), -1 for an image_newline row; NULL otherwise
    float   *weight;     // [n] how many source tokens this one stands for
    int32_t *codes;      // [n_input] codebook methods (vq): code id of each source token
                         // in t*H*W + y*W + x order; NULL for other methods
    int32_t  grid[3];    // T, H, W of the source grid
    char     method[32]; // the method that made these tokens
    char     note[256];  // how it ran, e.g. "no CLS token: used mean received attention"
    double   flops_projector; // FLOPs vtc_prune spent projecting kept tokens to the LM's space
    // What made them, as vtc_tokens_save records it (docs/formats.md):
    char    *params;     // the method's knobs as given, "name=value,..." ("" for none); owned
    int32_t  n_keep;     // the budget as given: vtc_prune_params.n_keep and .keep_ratio
    double   keep_ratio;
    double  *timestamps; // [grid[0]] seconds of each source frame, or NULL; owned
    char     model[128]; // the features' model, format and feature layer ("", 0 when unknown)
    char     model_format[16];
    int32_t  feature_layer;
    vtc_tiling tiling;   // the features' layout: how pos and tile map onto the image
    int32_t  pack;       // an anyres image's enum vtc_pack: the packing that laid the tokens out
} vtc_tokens;

enum vtc_space {
    VTC_SPACE_FEATURES = 0, // encoder feature space (before the projector)
    VTC_SPACE_EMBEDS   = 1, // language-model space (after the projector)
};
VTC_API void vtc_tokens_free(vtc_tokens *t);

// The budget is one of two fields, so it never means two things: a count
// (n_keep) or a fraction of the tokens (keep_ratio). Neither = keep every token,
// or, for the methods with a budget of their own (dycoke's k, pool's size, vq's
// adaptive codebook), theirs. Both = VTC_ERR_ARG.
struct vtc_prune_params {
    const char *method;    // registry name: none random uniform pool cls visionzip hired divprune todre tome dycoke vq
                           // (default "none")
    int32_t     n_keep;    // tokens kept, >= 1; 0 = not given (default 0)
    double      keep_ratio;// fraction of the tokens kept, in (0, 1]: round(keep_ratio * n) as Python
                           // rounds (halves to even), at least 1; 0 = not given (default 0)
    const char *params;    // method knobs "name=value,name=value", see vtc_method_*  (default NULL)
    uint64_t    seed;      // for seeded methods (default 0)
    int32_t     pack;      // anyres images: how kept tile tokens are laid out, enum vtc_pack
                           // (default VTC_PACK_NATIVE)
};
// How the tokens a method keeps of an anyres image are laid out (the official
// pruning codes differ; docs/methods.md#tiled-images):
enum vtc_pack {
    VTC_PACK_NATIVE  = 0, // as the model lays out its tokens: base first, then the stitched grid in
                          // raster order, tokens outside unpad_image's window dropped, image_newline
                          // after each row that keeps a token (every row when nothing is pruned)
    VTC_PACK_UNPAD   = 1, // the same without newline tokens (HiRED's official packing)
    VTC_PACK_SPATIAL = 2, // no unpadding, no newline tokens (FasterVLM's official packing)
};
VTC_API struct vtc_prune_params vtc_prune_params_default(void);

// Runs a pruning method on encoder outputs. With a ctx, its model's projector
// maps the kept tokens to the language model's space (projecting the tokens a
// method merged, taking the precomputed embedding of each unmodified one), and
// the ctx's threads run the method. ctx may be NULL for features a host computed
// itself: tokens then stay in whatever space the method works in (out->space),
// on all CPUs. VTC_ERR_NEEDS when f lacks what the method needs (a tensor, enough
// tokens or frames for the budget); VTC_ERR_ARG for a bad argument. *out receives
// new tokens; caller frees with vtc_tokens_free. Thread-safe for distinct ctx/outputs.
VTC_API int vtc_prune(vtc_ctx *ctx, const vtc_features *f, struct vtc_prune_params params, vtc_tokens **out);

// The method registry, for listing: count, then per method its name, one-line
// summary and parameter table. Strings are static. Thread-safe.
VTC_API int32_t     vtc_method_count(void);
VTC_API const char *vtc_method_name(int32_t i);
VTC_API const char *vtc_method_summary(int32_t i);
VTC_API int32_t     vtc_method_param_count(int32_t i);
// Parameter j of method i: name, default value as text, and description.
VTC_API int vtc_method_param(int32_t i, int32_t j, const char **name, const char **def, const char **help);

// Checks a method name, its parameter string and the budget's form without
// running anything (the budget is checked against n only when pruning). Thread-safe.
VTC_API int vtc_prune_validate(struct vtc_prune_params params);
// The VTC_F_* fields method `name` reads from vtc_features. Thread-safe.
VTC_API int vtc_method_needs(const char *name, unsigned *fields);

// The number of tokens params' budget keeps of n: in [1, n], or a negative
// status (VTC_ERR_ARG for a malformed budget, VTC_ERR_NEEDS for a count above n).
VTC_API int64_t vtc_prune_keep_count(struct vtc_prune_params params, int64_t n);

// ---------------------------------------------------------------- files

// Token files are safetensors with vtc's tensor and metadata names
// (docs/formats.md); each is written atomically (temporary file + rename).
// The library writes every metadata key of the format itself (grid, model,
// method, parameters, budget, counts, space, ...); `metadata` adds a host's own
// keys as a NULL-terminated key, value list (or NULL). A host key that is one of
// the format's is VTC_ERR_ARG.
//
// The full grid of encoder outputs (`vtc encode`).
VTC_API int vtc_features_save(const vtc_features *f, const char *path, const char *const *metadata);
// Reads a features file written by vtc_features_save (or a host with the same names).
VTC_API int vtc_features_load(const char *path, vtc_features **out);
// Kept tokens (`vtc prune`, `vtc compress`).
VTC_API int vtc_tokens_save(const vtc_tokens *t, const char *path, const char *const *metadata);

// ---------------------------------------------------------------- FLOPs

// A decoder-only language model's shape for FLOPs accounting.
struct vtc_lm_shape {
    int32_t layers, hidden, ffn, heads, kv_heads, vocab;
};
// Preset by name: llava-1.5-7b, llava-1.5-13b, qwen2-7b, llava-onevision-7b, qwen2-0.5b,
// qwen2-vl-7b, qwen2.5-vl-3b, qwen2.5-vl-7b (docs/flops.md#presets).
VTC_API int vtc_lm_preset(const char *name, struct vtc_lm_shape *out);

struct vtc_flops {
    double prefill;        // every matmul, 2 FLOPs per MAC, prompt of n_visual + n_text
    double decode_per_token;// average per generated token with KV cache (incl. LM head)
    double decode;         // total over n_gen tokens
    double paper_prefill;  // the literature's per-layer 4nd^2 + 2n^2d + 2ndm convention
};
// FLOPs of a prompt with n_visual visual + n_text text tokens and n_gen generated ones.
VTC_API int vtc_lm_flops(const struct vtc_lm_shape *lm, int64_t n_visual, int64_t n_text, int64_t n_gen,
                 struct vtc_flops *out);

// ================================================================ the language-model side
//
// The reference language-model decoder: a Llama-architecture transformer in f32
// (RMSNorm, RoPE, SwiGLU, grouped-query attention, KV cache) that computes
// exactly what llama2.c's run.c computes, with a batched prefill on OpenBLAS,
// visual tokens entering as embedding rows at caller-chosen position ids, and
// the hooks the in-decoder pruning methods (fastv, todre2, dycoke-kv) need.
//
// Objects
// - vtc_lm: the weights, loaded from a llama2.c checkpoint (legacy v0) or a
//   GGUF "llama" file. Immutable after load: share it across threads.
// - vtc_lm_ctx: one sequence being decoded: its KV cache, scratch buffers,
//   masks, hook and counters. One thread at a time.
// - vtc_tokenizer: llama2.c tokenizer.bin (or a GGUF file's vocabulary).
//   Immutable after load; thread-safe.
// - vtc_sampler: greedy or temperature + top-p with run.c's xorshift RNG.
//
// KV-cache slots and positions are separate: the batch's rows take the next
// free slots in order (slot order is the causal order), while RoPE uses each
// row's position id, which may have gaps (pruned visual tokens keep their
// original positions) and need not increase.
//
// Errors as everywhere in vtc: 0 or a negative enum vtc_status, the reason in
// vtc_last_error(); constructors return NULL.

typedef struct vtc_lm vtc_lm;
typedef struct vtc_lm_ctx vtc_lm_ctx;
typedef struct vtc_tokenizer vtc_tokenizer;
typedef struct vtc_sampler vtc_sampler;

// ---------------------------------------------------------------- the model

struct vtc_lm_config {
    int32_t dim;            // residual width d
    int32_t hidden_dim;     // SwiGLU inner width m
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;     // divides n_heads (grouped-query attention)
    int32_t head_dim;       // dim / n_heads (even)
    int32_t kv_dim;         // head_dim * n_kv_heads
    int32_t vocab_size;
    int32_t seq_len;        // the context length the model was trained for
    int32_t shared_classifier; // 1 when the LM head is the token embedding table
    float   norm_eps;       // RMSNorm epsilon (1e-5 for llama2.c files)
    float   rope_theta;     // RoPE base (10000 for llama2.c files)
    char    format[16];     // "llama2c" or "gguf"
};

struct vtc_lm_params {
    uint64_t max_memory; // refuse a model whose weights (as f32) exceed this many bytes
                         // (default 8 GiB, as vtc_limits_default(); 0 = that)
    float    rope_theta; // override the RoPE base; 0 = from the file (default 0)
};
VTC_API struct vtc_lm_params vtc_lm_params_default(void);

// Loads a llama2.c checkpoint (legacy v0: 7 int32 header, then f32 weights in
// run.c's order; negative vocab_size = separate classifier) or a GGUF file with
// general.architecture "llama" (F32/F16/BF16 tensors), detected by content.
// Every header value and the file size are validated before anything is
// allocated. NULL on failure. Caller frees with vtc_lm_free. Thread-safe.
VTC_API vtc_lm *vtc_lm_load(const char *path, struct vtc_lm_params params);
VTC_API void vtc_lm_free(vtc_lm *lm);
// The model's hyperparameters (owned by lm). Thread-safe.
VTC_API const struct vtc_lm_config *vtc_lm_get_config(const vtc_lm *lm);
// The shape for FLOPs accounting (vtc_lm_flops and base/flops.h). Thread-safe.
VTC_API void vtc_lm_get_shape(const vtc_lm *lm, struct vtc_lm_shape *shape);
// Copies the embedding row of `token` into out[dim]. Thread-safe.
VTC_API int vtc_lm_token_embedding(const vtc_lm *lm, int32_t token, float *out);

// ---------------------------------------------------------------- a sequence

struct vtc_lm_ctx_params {
    int32_t n_ctx;     // KV-cache slots; 0 = the model's seq_len, at most 4096 (default 0)
    int32_t n_threads; // worker threads; 0 = all CPUs (default 0)
};
VTC_API struct vtc_lm_ctx_params vtc_lm_ctx_params_default(void);

// A new, empty sequence on `lm`, which must outlive it. NULL on failure
// (VTC_ERR_LIMIT when the KV cache would exceed vtc_lm_params.max_memory).
// Caller frees with vtc_lm_ctx_free. Thread-safe to create; use from one thread.
VTC_API vtc_lm_ctx *vtc_lm_ctx_new(const vtc_lm *lm, struct vtc_lm_ctx_params params);
VTC_API void vtc_lm_ctx_free(vtc_lm_ctx *ctx);
// Empties the cache, clears masks and counters (the hook stays). A new request.
// No effect when called from inside a hook.
VTC_API void vtc_lm_ctx_reset(vtc_lm_ctx *ctx);
// Keeps the first n_cache slots and forgets the rest (their drops and masks
// too): a shared prefix (say BOS + visual tokens) prefilled once serves many
// continuations, each run after truncating back to it. next_pos becomes one
// past the largest position kept; counters keep counting. VTC_ERR_ARG for
// n_cache outside [0, slots in use] or from inside a hook.
VTC_API int vtc_lm_ctx_truncate(vtc_lm_ctx *ctx, int32_t n_cache);
// Slots in use, and the position id after the largest one used so far (the
// default position of the next row).
VTC_API int32_t vtc_lm_ctx_n_cache(const vtc_lm_ctx *ctx);
VTC_API int32_t vtc_lm_ctx_next_pos(const vtc_lm_ctx *ctx);
// KV-cache capacity in slots (n_ctx resolved), and the model.
VTC_API int32_t vtc_lm_ctx_capacity(const vtc_lm_ctx *ctx);
VTC_API const vtc_lm *vtc_lm_ctx_model(const vtc_lm_ctx *ctx);

// Marks a batch row that comes from `embeds` rather than the embedding table.
#define VTC_LM_EMBED (-1)

enum vtc_lm_logits {
    VTC_LM_LOGITS_LAST = 0, // logits of the last row only (what generation needs)
    VTC_LM_LOGITS_ALL  = 1, // every row
    VTC_LM_LOGITS_NONE = 2, // none (fill the cache only)
};

// Rows fed to the model in one call: text token ids and/or embedding rows
// (visual tokens), each with its position id.
struct vtc_lm_batch {
    int32_t        n;       // rows
    const int32_t *tokens;  // [n] token ids, or VTC_LM_EMBED; NULL = every row is an embedding
    const float   *embeds;  // [n_embed, dim]: row j feeds the j-th VTC_LM_EMBED row (in order);
                            // NULL when no row is an embedding
    const int32_t *pos;     // [n] RoPE position ids >= 0; NULL = next_pos, next_pos + 1, ...
    int32_t        logits;  // enum vtc_lm_logits
};

// Runs the rows through every layer (prefill: one sgemm per weight matrix and
// layer), appending their keys and values to the cache. VTC_ERR_LIMIT when the
// cache has too few free slots; VTC_ERR_ARG for a bad token id, position or
// batch. On failure the batch's slots are released (the cache holds what it
// held before; drops or masks a hook set elsewhere stay). Counted as prefill.
VTC_API int vtc_lm_prefill(vtc_lm_ctx *ctx, const struct vtc_lm_batch *batch);
// One token at position `pos` (< 0 = next_pos): the decode step (sgemv).
// Logits of the token afterwards. Counted as decode.
VTC_API int vtc_lm_decode(vtc_lm_ctx *ctx, int32_t token, int32_t pos);
// Logits [vocab] of row i of the last prefill/decode (i < 0 counts from the end:
// -1 = last row), or NULL when that row's logits were not computed. Owned by ctx,
// valid until the next call on it; writable (samplers work in place).
VTC_API float *vtc_lm_logits(vtc_lm_ctx *ctx, int32_t i);

// ---------------------------------------------------------------- hooks for in-decoder methods
//
// A hook runs after each layer of every prefill/decode call, while the queries
// of that layer are still at hand, so a method can read the attention it needs
// without the n x n matrix ever existing, and can restrict what later layers
// see. Inside the hook:
// - vtc_lm_attn_row / vtc_lm_attn_share read the attention of the layer just run;
// - vtc_lm_drop removes cache slots from later layers for good (FastV, ToDRE
//   stage 2): they are not attended to there, and rows of the current batch
//   that are dropped are no longer computed (their later-layer K/V never exist);
// - vtc_lm_mask restricts which slots later layers attend to, leaving the cache
//   whole, replaceable at any step (DyCoke-KV).
// Masks and drops also work outside hooks (between calls).

struct vtc_lm_hook_info {
    int32_t layer;      // the layer just run (0-based)
    int32_t n_layers;
    int32_t first_slot; // the batch's rows are in slots [first_slot, first_slot + n_rows)
    int32_t n_rows;
    int32_t n_cache;    // slots in use, the batch included
    int32_t is_decode;  // 1 inside vtc_lm_decode, 0 inside vtc_lm_prefill
};
// Return 0 to go on; a negative status aborts the call with it (the cache is
// rolled back as on any failure).
typedef int (*vtc_lm_hook_fn)(void *user, vtc_lm_ctx *ctx, const struct vtc_lm_hook_info *info);
// Installs (fn non-NULL) or removes the hook. It stays across vtc_lm_ctx_reset.
VTC_API void vtc_lm_set_hook(vtc_lm_ctx *ctx, vtc_lm_hook_fn fn, void *user);

// The head-mean softmax attention of the query in slot `query_slot` (a row of
// the batch being run, not dropped) at the layer just run, over the key slots
// [k0, k1) -> out[k1 - k0]. The softmax runs over every key that query attends
// to (causal, drops and masks of that layer applied); slots it does not attend
// to get 0. One row: O(n_cache * dim). Only inside a hook.
VTC_API int vtc_lm_attn_row(vtc_lm_ctx *ctx, int32_t query_slot, int32_t k0, int32_t k1, float *out);
// The share of attention mass that the queries in slots [q0, q1) (rows of the
// current batch; dropped ones skipped) put on key slots [k0, k1), averaged over
// heads and over those queries -> *share in [0, 1]; *n_queries gets how many
// queries were averaged (may be NULL). Computed row by row, never stored.
// Only inside a hook.
VTC_API int vtc_lm_attn_share(vtc_lm_ctx *ctx, int32_t q0, int32_t q1, int32_t k0, int32_t k1,
                      double *share, int32_t *n_queries);
// Drops the slots s in [s0, s1) with keep[s - s0] == 0 (keep NULL: all of them)
// from layers >= from_layer, for the rest of the sequence. A slot may be
// dropped again from an earlier layer, never restored (vtc_lm_ctx_reset does).
// Inside a hook, from_layer must be past the layer just run; from_layer =
// n_layers drops nothing. The span may include the batch being run.
VTC_API int vtc_lm_drop(vtc_lm_ctx *ctx, int32_t from_layer, int32_t s0, int32_t s1, const uint8_t *keep);
// Layers >= from_layer attend only to the slots of [s0, s1) with keep[s - s0] != 0
// (keep NULL: none of them) and to every slot outside the span. Replaces the
// previous mask. Inside a hook, from_layer must be past the layer just run.
VTC_API int vtc_lm_mask(vtc_lm_ctx *ctx, int32_t from_layer, int32_t s0, int32_t s1, const uint8_t *keep);
VTC_API void vtc_lm_mask_clear(vtc_lm_ctx *ctx);

// ---------------------------------------------------------------- in-decoder policies (docs/methods.md)
//
// The three methods that act inside the language model, as hooks on a
// vtc_lm_ctx (lm/policies.c). A host with its own decoder reads the same
// figures from the attention rows it computes; here they drive the reference
// decoder end to end. One policy object serves one sequence at a time.
//
// fastv      after layer k-1 of the prefill, the last prompt row's attention
//            over the visual span (head mean); the top round(n_vis * (1 - r))
//            stay, the others are dropped from layers >= k (prefill and
//            decode). Kept tokens keep their positions.
//            k=2, r=0.5.
// todre2     after layer `layer` of the prefill (-1: floor(7L/8)), alpha_tv =
//            mean share of the text rows after the visual span on visual keys,
//            alpha_vt = mean share of the visual rows on text keys (head
//            means); when both are below tau, every visual slot is dropped from
//            the layers after it, for the prefill and the decode steps.
//            layer=-1, tau=0.1.
// dycoke-kv  at each decode step, the new token's attention over the visual
//            span after layer l-1 (head mean); on the first step, or when its
//            cosine similarity with the previous step's vector is below sim,
//            the top int(n_vis * (1 - p)) are selected again; layers >= l
//            attend only to the current selection while the cache stays whole.
//            l=3, p=0.7, sim=0.9.
typedef struct vtc_lm_policy vtc_lm_policy;

// A policy by name with "name=value,..." parameters (NULL or "" = defaults).
// NULL on an unknown name or a bad parameter (VTC_ERR_ARG). Caller frees with
// vtc_lm_policy_free.
VTC_API vtc_lm_policy *vtc_lm_policy_new(const char *name, const char *params);
VTC_API void vtc_lm_policy_free(vtc_lm_policy *p);
// Starts a request on ctx: resets the policy's state, records that the visual
// tokens will occupy KV slots [vis_begin, vis_end), and installs the policy as
// ctx's hook (replacing any other; vtc_lm_set_hook(ctx, NULL, NULL) removes
// it). fastv and todre2 act in the prefill call whose rows hold that span
// entirely; dycoke-kv in the decode steps after it. The policy must outlive
// its use by ctx.
VTC_API int vtc_lm_policy_begin(vtc_lm_policy *p, vtc_lm_ctx *ctx, int32_t vis_begin, int32_t vis_end);

struct vtc_lm_policy_report {
    char    name[16];
    int32_t layer;        // resolved layer: fastv k, todre2's measured layer, dycoke-kv l
    int32_t n_visual;
    int32_t n_kept;       // visual tokens the later layers see now
    int32_t fired;        // 1 once the policy has looked at the attention
    double  alpha_tv;     // todre2
    double  alpha_vt;     // todre2
    int32_t dropped_all;  // todre2: 1 when every visual token was dropped
    int32_t n_steps;      // dycoke-kv: decode steps seen
    int32_t n_reselect;   // dycoke-kv: selections made (the first step included)
    double  similarity;   // dycoke-kv: the last step's cosine similarity (0 on the first)
};
VTC_API int vtc_lm_policy_get_report(const vtc_lm_policy *p, struct vtc_lm_policy_report *out);
// The current keep flags of the visual span [n_visual] (1 = seen by the later
// layers), owned by p; NULL before the policy fired.
VTC_API const uint8_t *vtc_lm_policy_keep(const vtc_lm_policy *p);

// The policies' decisions on their own, for a host whose decoder computes the
// attention rows itself (and used by the policy objects above). Thread-safe.
// keep[i] = 1 for the k highest of score[n] (ties: the lower index), else 0.
VTC_API int vtc_lm_select_top(const float *score, int32_t n, int32_t k, uint8_t *keep);
// fastv: round(n_visual * (1 - r)); dycoke-kv: int(n_visual * (1 - p)); both in [0, n_visual].
VTC_API int32_t vtc_lm_fastv_n_keep(int32_t n_visual, double r);
VTC_API int32_t vtc_lm_dycoke_n_keep(int32_t n_visual, double p);
// todre2: 1 when both shares are below tau (drop every visual token from the later layers).
VTC_API int vtc_lm_todre2_drop(double alpha_tv, double alpha_vt, double tau);
// Cosine similarity as torch.nn.functional.cosine_similarity (eps 1e-8), in double.
VTC_API double vtc_lm_cosine(const float *a, const float *b, int32_t n);

// The policy registry: names, one-line summaries and parameters with their
// defaults, for listing. Strings are static.
VTC_API int32_t     vtc_lm_policy_count(void);
VTC_API const char *vtc_lm_policy_name(int32_t i);
VTC_API const char *vtc_lm_policy_summary(int32_t i);
VTC_API int32_t     vtc_lm_policy_param_count(int32_t i);
VTC_API int vtc_lm_policy_param(int32_t i, int32_t j, const char **name, const char **def, const char **help);

// ---------------------------------------------------------------- counters

// What the sequence executed since creation or the last reset. FLOPs are
// 2 x multiply-accumulates of every matmul run (q, k, v, o with grouped-query
// sizes; attention scores and weighted sums over the keys actually attended;
// the three SwiGLU matrices; the LM head only for rows whose logits were
// computed), the convention of base/flops.h.
struct vtc_lm_stats {
    double  flops_prefill;   // vtc_lm_prefill calls
    double  flops_decode;    // vtc_lm_decode calls
    double  flops_probe;     // vtc_lm_attn_row/_share for hooks (not the model's work)
    int64_t n_prefill_rows;  // rows run by prefill
    int64_t n_decode_steps;  // vtc_lm_decode calls
    int64_t layer_rows;      // sum over layers of rows computed (equivalent tokens x layers)
    int32_t n_cache;         // slots in use
    size_t  kv_bytes;        // K and V entries held now: sum over layers of slots not dropped
                             // there, x 2 x kv_dim x 4 bytes
    size_t  kv_bytes_full;   // the same without drops (n_cache x layers x 2 x kv_dim x 4)
    size_t  kv_bytes_alloc;  // the cache allocated (n_ctx slots)
};
VTC_API void vtc_lm_get_stats(const vtc_lm_ctx *ctx, struct vtc_lm_stats *out);

// ---------------------------------------------------------------- tokenizer

// Loads a llama2.c tokenizer.bin (int32 max_token_length, then per token: f32
// score, int32 length, bytes) holding vocab_size tokens, validating every length
// against the file. NULL on failure. Caller frees with vtc_tokenizer_free.
VTC_API vtc_tokenizer *vtc_tokenizer_load(const char *path, int32_t vocab_size);
// The vocabulary of a GGUF file (tokenizer.ggml.tokens / scores, "llama"
// SentencePiece model; U+2581 becomes a space as llama2.c's exporter does).
VTC_API vtc_tokenizer *vtc_tokenizer_load_gguf(const char *path);
VTC_API void vtc_tokenizer_free(vtc_tokenizer *t);
VTC_API int32_t vtc_tokenizer_vocab_size(const vtc_tokenizer *t);
// Encodes UTF-8 text exactly as run.c's encode(): optional BOS (1), a dummy-
// prefix space unless text is empty, codepoints looked up whole or as <0xXX>
// byte tokens, then greedy merges of the best-scoring adjacent pair; optional
// EOS (2). tokens[cap] receives the *n ids (VTC_ERR_LIMIT when more than cap);
// strlen(text) + 3 always suffices. Thread-safe.
VTC_API int vtc_tokenizer_encode(const vtc_tokenizer *t, const char *text, int bos, int eos,
                         int32_t *tokens, int32_t cap, int32_t *n);
// The bytes of `token` as run.c's decode() gives them after `prev`: the leading
// space stripped after BOS, a <0xXX> token as its raw byte. *len gets the byte
// count (a raw NUL byte has length 1). Owned by t; NULL for an id out of range.
VTC_API const char *vtc_tokenizer_decode(const vtc_tokenizer *t, int32_t prev, int32_t token, size_t *len);

// ---------------------------------------------------------------- sampling

// temperature 0 = greedy (argmax, first maximum); otherwise logits / temperature,
// softmax, and a coin from run.c's xorshift RNG seeded with `seed`; top-p
// nucleus sampling when 0 < topp < 1, else from the whole distribution. NULL on
// failure. Caller frees with vtc_sampler_free.
VTC_API vtc_sampler *vtc_sampler_new(int32_t vocab_size, float temperature, float topp, uint64_t seed);
VTC_API void vtc_sampler_free(vtc_sampler *s);
// The next token from logits[vocab_size], which it overwrites (as run.c does).
VTC_API int32_t vtc_sampler_sample(vtc_sampler *s, float *logits);

// ---------------------------------------------------------------- generation

struct vtc_lm_gen_params {
    int32_t  steps;       // positions to run, prompt included, as run.c's -n;
                          // 0 or more than n_ctx = n_ctx (default 256)
    float    temperature; // (default 1.0)
    float    topp;        // (default 0.9)
    uint64_t seed;        // (default 1)
};
VTC_API struct vtc_lm_gen_params vtc_lm_gen_params_default(void);

// Receives each printable piece of the output (run.c's safe_printf filter: a
// lone byte that is neither printable ASCII nor whitespace is skipped). A
// negative return stops generation with that status.
typedef int (*vtc_lm_piece_fn)(void *user, const char *piece, size_t len);

// Generates from a text prompt as run.c's generate() does (BOS + prompt, stop
// at BOS or after `steps` positions), but with the prompt in one prefill.
// Resets ctx first. *n_generated (may be NULL) gets the sampled token count.
VTC_API int vtc_lm_generate(vtc_lm_ctx *ctx, const vtc_tokenizer *tok, const char *prompt,
                    struct vtc_lm_gen_params params, vtc_lm_piece_fn on_piece, void *user,
                    int32_t *n_generated);


#ifdef __cplusplus
}
#endif
#endif // VTC_H
