// Video decode against FFmpeg's own CLI. The frames vtc reads must be the bytes
// `ffmpeg -i IN -vsync 0 -f rawvideo -pix_fmt rgb24 -` gives for the same frame
// numbers (the CLI's defaults: bicubic swscale, the frame's colour matrix and
// range, autorotate) — tolerance 0, every frame of every clip. Also: sampling
// follows numpy's floor(linspace(0, total-1, N)), --fps picks the first frame at
// or after each multiple of 1/F, seeking lands on the right frame in any order
// while decoding far fewer frames than the clip has, variable frame rate,
// timestamps, and broken inputs fail with a reason, without a crash or a hang;
// the frame index is settled at open and holds the frames that decode (AVI drop
// chunks and an MP4 cut mid-file), and the sampling rules hold as pure functions.
// A video as a frame source gives those frames one at a time.
// Many more files against the CLI: tests/cli_video_corpus.sh.
// The CLI comparisons skip when no `ffmpeg` is on PATH (CI installs it).
// Clips: tests/fixtures/video/, made by tools/gen_video_fixtures.sh.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libavutil/log.h>

#include "video/sample.h"
#include "video/source.h"
#include "video/video.h"
#include "vtc.h"

#define DIR "tests/fixtures/video/"

static int have_ffmpeg(void) { return system("ffmpeg -version >/dev/null 2>&1") == 0; }

struct clip {
    const char *file;
    int64_t frames;
    int width, height, rotation, vfr;
    const char *codec;
    int count_source; // where the frame count comes from
};

enum { CONTAINER = VTC_VIDEO_COUNT_CONTAINER, INDEX = VTC_VIDEO_COUNT_INDEX, DECODE = VTC_VIDEO_COUNT_DECODE };

static const struct clip clips[] = {
    { DIR "cam40.mp4", 40, 90, 68, 0, 0, "h264", CONTAINER },  // B-frames, keyframe every 10, width % 8 != 0
    { DIR "cam17.avi", 17, 80, 60, 0, 0, "mpeg4", INDEX },     // MPEG-4 part 2 in AVI
    { DIR "odd23.mkv", 23, 33, 25, 0, 0, "mjpeg", INDEX },     // full-range 4:2:2, odd size
    { DIR "odd13.mkv", 13, 33, 25, 0, 0, "ffv1", INDEX },      // 4:2:0 with odd size
    { DIR "full709.mkv", 8, 64, 48, 0, 0, "h264", INDEX },     // full range, BT.709
    { DIR "rot90.mp4", 12, 48, 64, 90, 0, "h264", CONTAINER }, // display matrix: 90 degrees clockwise
    { DIR "rot180.mp4", 6, 64, 48, 180, 0, "h264", CONTAINER },
    { DIR "rot270.mp4", 6, 21, 35, 270, 0, "mjpeg", CONTAINER }, // and an odd size
    { DIR "vfr.mp4", 30, 80, 60, 0, 1, "h264", INDEX },        // variable frame rate, rates disagree
    { DIR "vfr.mkv", 30, 80, 60, 0, 1, "h264", INDEX },        // variable frame rate claiming a constant one
    { DIR "raw12.h264", 12, 64, 48, 0, 0, "h264", DECODE },    // no container, no timestamps: decoded to count
    { DIR "cam20.ts", 20, 64, 48, 0, 0, "h264", INDEX },       // MPEG-TS: no index, starts at 1.4 s
    { DIR "drops.avi", 20, 64, 48, 0, 1, "mpeg4", INDEX },     // 37 empty 'drop' chunks; the header says 57
    { DIR "truncfs.mp4", 20, 90, 68, 0, 0, "h264", INDEX },    // cut mid-file: the index names 40 frames
};
#define N_CLIPS (sizeof clips / sizeof clips[0])

static int g_threads = 1; // decoding threads of open_ok's videos

static vtc_video *open_ok(const char *path) {
    vtc_video *v = NULL;
    if (vtc_video_open(path, NULL, g_threads, &v)) fail_msg("%s: %s", path, vtc_last_error());
    return v;
}

static vtc_image *read_ok(vtc_video *v, const char *path, int64_t k, double *ts) {
    vtc_image *img = NULL;
    if (vtc_video_read(v, k, &img, ts)) fail_msg("%s frame %lld: %s", path, (long long)k, vtc_last_error());
    return img;
}

// Every frame the CLI decodes, RGB24 (frame k at k * frame_bytes). The n-th frame
// of this output is the frame `-vf select=eq(n\,K)` picks (-vsync 0 drops none).
static uint8_t *cli_all_frames(const char *path, size_t frame_bytes, int64_t n_frames) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -nostdin -i %s -vsync 0 -f rawvideo -pix_fmt rgb24 - 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t want = frame_bytes * (size_t)n_frames;
    uint8_t *buf = malloc(want + 1);
    assert_non_null(buf);
    size_t got = fread(buf, 1, want + 1, p);
    pclose(p);
    if (got != want) fail_msg("ffmpeg gave %zu bytes for %s, expected %zu", got, path, want);
    return buf;
}

// Frame k through the CLI's frame selection, as the issue states the criterion.
static uint8_t *cli_select_frame(const char *path, long long k, size_t bytes) {
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -nostdin -i %s -vf 'select=eq(n\\,%lld)' -vsync 0 -frames:v 1 -f rawvideo -pix_fmt rgb24 - "
             "2>/dev/null",
             path, k);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    uint8_t *buf = malloc(bytes + 1);
    assert_non_null(buf);
    size_t got = fread(buf, 1, bytes + 1, p);
    pclose(p);
    if (got != bytes) fail_msg("ffmpeg gave %zu bytes for frame %lld of %s, expected %zu", got, k, path, bytes);
    return buf;
}

struct diff {
    int max;
    double sum;
    size_t n;
};

static void diff_add(struct diff *d, const uint8_t *a, const uint8_t *b, size_t bytes) {
    for (size_t i = 0; i < bytes; i++) {
        int x = abs((int)a[i] - (int)b[i]);
        if (x > d->max) d->max = x;
        d->sum += x;
    }
    d->n += bytes;
}

// ---------------------------------------------------------------- info and sampling

static void test_info(void **state) {
    (void)state;
    for (size_t c = 0; c < N_CLIPS; c++) {
        vtc_video *v = open_ok(clips[c].file);
        struct vtc_video_info info;
        vtc_video_get_info(v, &info);
        printf("  %-34s %-6s %-24s %3dx%-3d %2lld frames (%s) %6.3f fps %5.2f s rot %3d%s\n", clips[c].file,
               info.codec, info.format, info.width, info.height, (long long)info.n_frames,
               vtc_video_count_source_name(info.count_source), info.fps, info.duration, info.rotation,
               info.vfr ? " vfr" : "");
        assert_int_equal(info.n_frames, clips[c].frames);
        assert_int_equal(info.count_source, clips[c].count_source);
        assert_int_equal(info.vfr, clips[c].vfr);
        assert_int_equal(info.width, clips[c].width);
        assert_int_equal(info.height, clips[c].height);
        assert_int_equal(info.rotation, clips[c].rotation);
        assert_string_equal(info.codec, clips[c].codec);
        if (!clips[c].vfr) assert_true(fabs(info.fps - (strstr(clips[c].file, "odd23") ? 12.0 : 10.0)) < 1e-9);
        vtc_video_close(v);
    }
}

static void test_sampling(void **state) {
    (void)state;
    vtc_video *v = open_ok(DIR "cam40.mp4");
    int64_t *idx;
    int32_t n;
    // numpy.linspace(0, 39, 8, dtype=int) = [0, 5, 11, 16, 22, 27, 33, 39]
    const int64_t want8[8] = { 0, 5, 11, 16, 22, 27, 33, 39 };
    assert_int_equal(vtc_video_sample(v, 8, 0, 0, &idx, &n), 0);
    assert_int_equal(n, 8);
    assert_memory_equal(idx, want8, sizeof want8);
    free(idx);
    assert_int_equal(vtc_video_sample(v, 1, 0, 0, &idx, &n), 0); // linspace(0, 39, 1) = [0]
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 0);
    free(idx);
    assert_int_equal(vtc_video_sample(v, 40, 0, 0, &idx, &n), 0); // every frame once
    for (int i = 0; i < 40; i++) assert_int_equal(idx[i], i);
    free(idx);
    // more samples than frames: the rule repeats frames (linspace(0, 39, 50) -> 0, 0, 1, 2, ...)
    assert_int_equal(vtc_video_sample(v, 50, 0, 0, &idx, &n), 0);
    assert_int_equal(n, 50);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 0);
    assert_int_equal(idx[2], 1);
    assert_int_equal(idx[3], 2);
    assert_int_equal(idx[49], 39);
    free(idx);
    // numpy multiplies i by (total-1)/(N-1), which rounds down where (total-1)*i/(N-1)
    // would not: linspace(0, 39, 70, dtype=int)[20:26] = [11, 11, 12, 12, 13, 14]
    const int64_t want70[6] = { 11, 11, 12, 12, 13, 14 };
    assert_int_equal(vtc_video_sample(v, 70, 0, 0, &idx, &n), 0);
    assert_memory_equal(idx + 20, want70, sizeof want70);
    free(idx);
    assert_int_not_equal(vtc_video_sample(v, 0, 0, 0, &idx, &n), 0); // neither rule
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    vtc_video_close(v);
}

// The --fps rule, written out independently: for t = j/F, the first frame with
// timestamp >= t (1 ms tolerance), while t <= the last timestamp; a frame once.
static int32_t expected_fps(const double *t, int64_t n, double fps, int64_t *out) {
    int32_t count = 0;
    for (int64_t j = 0; j / fps <= t[n - 1] + 1e-3; j++) {
        int64_t k = 0;
        while (t[k] < j / fps - 1e-3) k++;
        if (count == 0 || out[count - 1] != k) out[count++] = k;
    }
    return count;
}

static void check_fps(const char *path, double fps) {
    vtc_video *v = open_ok(path);
    struct vtc_video_info info;
    vtc_video_get_info(v, &info);
    double *t = calloc((size_t)info.n_frames, sizeof *t);
    int64_t *want = calloc((size_t)info.n_frames, sizeof *want);
    for (int64_t k = 0; k < info.n_frames; k++) vtc_image_free(read_ok(v, path, k, &t[k]));
    int32_t n_want = expected_fps(t, info.n_frames, fps, want);
    int64_t *idx;
    int32_t n;
    assert_int_equal(vtc_video_sample(v, 0, fps, 0, &idx, &n), 0);
    assert_int_equal(n, n_want);
    assert_memory_equal(idx, want, (size_t)n * sizeof *idx);
    free(idx);
    free(want);
    free(t);
    vtc_video_close(v);
}

static void test_fps_sampling(void **state) {
    (void)state;
    vtc_video *v = open_ok(DIR "cam40.mp4"); // 10 fps, frames at k/10 s
    int64_t *idx;
    int32_t n;
    assert_int_equal(vtc_video_sample(v, 0, 5.0, 0, &idx, &n), 0); // every 2nd frame
    assert_int_equal(n, 20);
    for (int i = 0; i < n; i++) assert_int_equal(idx[i], 2 * i);
    free(idx);
    // 3 fps: t = 1/3 s picks frame 4 (0.4 s, the first at or after), not frame 3 (0.3 s)
    const int64_t want3[12] = { 0, 4, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37 };
    assert_int_equal(vtc_video_sample(v, 0, 3.0, 0, &idx, &n), 0);
    assert_int_equal(n, 12);
    assert_memory_equal(idx, want3, sizeof want3);
    free(idx);
    // 25 fps on a 10 fps clip: each frame once, not repeated
    assert_int_equal(vtc_video_sample(v, 0, 25.0, 0, &idx, &n), 0);
    assert_int_equal(n, 40);
    for (int i = 0; i < n; i++) assert_int_equal(idx[i], i);
    free(idx);
    assert_int_equal(vtc_video_sample(v, 0, 1e6, 0, &idx, &n), 0); // a million targets a second, one pass
    assert_int_equal(n, 40);
    free(idx);
    assert_int_equal(vtc_video_sample(v, 0, 1e9, 0, &idx, &n), VTC_ERR_ARG);
    // 0.25 fps: t = 0 only (the next target, 4 s, is past the last frame at 3.9 s)
    assert_int_equal(vtc_video_sample(v, 0, 0.25, 0, &idx, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 0);
    free(idx);
    vtc_video_close(v);
    // variable rate: frames at 0, .1, .3, .4, .6, .7, .9, 1.0, ... s; 5 fps -> 0, 2, 3, 4, 6, 7, ...
    v = open_ok(DIR "vfr.mp4");
    assert_int_equal(vtc_video_sample(v, 0, 5.0, 0, &idx, &n), 0);
    const int64_t want_vfr[6] = { 0, 2, 3, 4, 6, 7 };
    assert_memory_equal(idx, want_vfr, sizeof want_vfr);
    free(idx);
    vtc_video_close(v);
    const double rates[] = { 0.7, 2.5, 5, 7, 30 };
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        check_fps(DIR "vfr.mp4", rates[r]);
        check_fps(DIR "vfr.mkv", rates[r]);
        check_fps(DIR "odd23.mkv", rates[r]); // Matroska: millisecond timestamps
        check_fps(DIR "cam17.avi", rates[r]);
    }
}

static double times_of(const void *ctx, int64_t k) { return ((const double *)ctx)[k]; }

// The sampling rules as pure functions over frame times, against the rule written
// out above: a 30 -> 10 fps change, a 5 s gap, and the limits.
static void test_sample_rules(void **state) {
    (void)state;
    int64_t out[8];
    vtc_sample_uniform(1, 3, out); // one frame: every sample is frame 0
    assert_true(out[0] == 0 && out[1] == 0 && out[2] == 0);
    vtc_sample_uniform(68, 8, out); // the cinepak AVI's 68 frames: linspace(0, 67, 8)
    const int64_t want68[8] = { 0, 9, 19, 28, 38, 47, 57, 67 };
    assert_memory_equal(out, want68, sizeof want68);
    double t[80];
    for (int k = 0; k < 80; k++) t[k] = k < 60 ? k / 30.0 : 2.0 + (k - 60) / 10.0; // 30 fps for 2 s, then 10
    double g[40];
    for (int k = 0; k < 40; k++) g[k] = k < 20 ? k / 10.0 : 7.0 + (k - 20) / 10.0; // a 5 s gap after 2 s
    const double rates[] = { 0.3, 1, 3, 7, 30, 100 };
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        int64_t want[80], *idx;
        int32_t n;
        int32_t n_want = expected_fps(t, 80, rates[r], want);
        assert_int_equal(vtc_sample_rate(80, times_of, t, rates[r], 4096, &idx, &n), 0);
        assert_int_equal(n, n_want);
        assert_memory_equal(idx, want, (size_t)n * sizeof *idx);
        free(idx);
        n_want = expected_fps(g, 40, rates[r], want);
        assert_int_equal(vtc_sample_rate(40, times_of, g, rates[r], 4096, &idx, &n), 0);
        assert_int_equal(n, n_want);
        assert_memory_equal(idx, want, (size_t)n * sizeof *idx);
        free(idx);
    }
    int64_t *idx;
    int32_t n;
    // 1 fps over the gap: 0, 1, 2 s, then the first frame at or after 3..7 s is the one at 7 s, once
    assert_int_equal(vtc_sample_rate(40, times_of, g, 1.0, 4096, &idx, &n), 0);
    const int64_t want_gap[6] = { 0, 10, 20, 30, 39 };
    assert_int_equal(n, 4);
    assert_memory_equal(idx, want_gap, 4 * sizeof *idx);
    free(idx);
    assert_int_equal(vtc_sample_rate(80, times_of, t, 30, 10, &idx, &n), VTC_ERR_LIMIT);
    const double far[2] = { 0, 1e300 };
    assert_int_equal(vtc_sample_rate(2, times_of, far, 1, 4096, &idx, &n), VTC_ERR_LIMIT);
    assert_int_equal(vtc_sample_rate(2, times_of, far, 2e6, 4096, &idx, &n), VTC_ERR_ARG);
}

// The frame index is settled at open and does not change while frames are read
// (it once was rebuilt mid-read: a cinepak AVI whose header counts its empty
// drop chunks returned wrong frames for --frames 8, then failed with a usage error).
static void test_index_settled(void **state) {
    (void)state;
    vtc_video *v = open_ok(DIR "drops.avi"); // frames at 0-0.5 s, 3.6-4.1 s, 4.9-5.6 s, 0.1 s apart
    int64_t *idx;
    int32_t n;
    assert_int_equal(vtc_video_sample(v, 8, 0, 0, &idx, &n), 0);
    const int64_t want[8] = { 0, 2, 5, 8, 10, 13, 16, 19 };
    const double want_t[8] = { 0, 0.2, 0.5, 3.8, 4.0, 5.0, 5.3, 5.6 };
    assert_memory_equal(idx, want, sizeof want);
    for (int i = 0; i < n; i++) {
        double ts = -1;
        vtc_image_free(read_ok(v, DIR "drops.avi", idx[i], &ts));
        assert_true(fabs(ts - want_t[i]) < 1e-9);
    }
    struct vtc_video_info info;
    vtc_video_get_info(v, &info);
    assert_int_equal(info.n_frames, 20);
    free(idx);
    // --fps 2 on presentation timestamps: 0, 0.5, then 3.6 s (the first at or after 1.0 .. 3.5), 4.0,
    // 4.9 (for 4.5), 5.0, 5.5
    assert_int_equal(vtc_video_sample(v, 0, 2.0, 0, &idx, &n), 0);
    const int64_t want2[7] = { 0, 5, 6, 10, 12, 13, 18 };
    assert_int_equal(n, 7);
    assert_memory_equal(idx, want2, sizeof want2);
    free(idx);
    vtc_video_close(v);
    struct vtc_sample_params sp = vtc_sample_params_default();
    vtc_media *m = vtc_media_load(DIR "drops.avi", sp, NULL);
    assert_non_null(m);
    assert_int_equal(m->total_frames, 20);
    assert_int_equal(m->frame_index[7], 19);
    vtc_media_free(m);
}

// ---------------------------------------------------------------- pixels

static void test_cli_parity(void **state) {
    (void)state;
    if (!have_ffmpeg()) skip();
    struct diff all = { 0 };
    for (size_t c = 0; c < N_CLIPS; c++) {
        const char *path = clips[c].file;
        const size_t bytes = (size_t)clips[c].width * clips[c].height * 3;
        uint8_t *ref = cli_all_frames(path, bytes, clips[c].frames);
        struct diff d = { 0 };
        // the 8 sampled frames (seeking), then every frame in order
        vtc_video *v = open_ok(path);
        int64_t *idx;
        int32_t n;
        assert_int_equal(vtc_video_sample(v, 8, 0, 0, &idx, &n), 0);
        for (int32_t i = 0; i < n; i++) {
            vtc_image *img = read_ok(v, path, idx[i], NULL);
            assert_int_equal(img->width, clips[c].width);
            assert_int_equal(img->height, clips[c].height);
            diff_add(&d, img->rgb, ref + (size_t)idx[i] * bytes, bytes);
            vtc_image_free(img);
        }
        free(idx);
        vtc_video_close(v);
        v = open_ok(path);
        for (int64_t k = 0; k < clips[c].frames; k++) {
            vtc_image *img = read_ok(v, path, k, NULL);
            diff_add(&d, img->rgb, ref + (size_t)k * bytes, bytes);
            vtc_image_free(img);
        }
        vtc_video_close(v);
        free(ref);
        printf("  %-34s %2lld frames + 8 sampled vs ffmpeg CLI: max |diff| %d, mean %.4f\n", path,
               (long long)clips[c].frames, d.max, d.sum / (double)d.n);
        if (d.max > all.max) all.max = d.max;
        all.sum += d.sum;
        all.n += d.n;
    }
    printf("  all clips: max |diff| %d, mean %.6f over %zu bytes (tolerance 0)\n", all.max, all.sum / (double)all.n,
           all.n);
    assert_int_equal(all.max, 0);
}

// The sample clip, with the CLI's own frame selection (`-vf select=eq(n\,K)`).
static void test_sample_clip_select(void **state) {
    (void)state;
    if (!have_ffmpeg()) skip();
    const char *path = "samples/vtest.mp4";
    vtc_video *v = open_ok(path);
    int64_t *idx;
    int32_t n;
    assert_int_equal(vtc_video_sample(v, 8, 0, 0, &idx, &n), 0);
    struct diff d = { 0 };
    for (int32_t i = 0; i < n; i++) {
        vtc_image *img = read_ok(v, path, idx[i], NULL);
        size_t bytes = (size_t)img->width * img->height * 3;
        uint8_t *ref = cli_select_frame(path, idx[i], bytes);
        diff_add(&d, img->rgb, ref, bytes);
        free(ref);
        vtc_image_free(img);
    }
    printf("  %s: frames %lld..%lld (8) vs ffmpeg -vf select: max |diff| %d, mean %.4f; %lld of %d frames decoded\n",
           path, (long long)idx[0], (long long)idx[n - 1], d.max, d.sum / (double)d.n,
           (long long)vtc_video_decoded_count(v), 80);
    assert_int_equal(d.max, 0);
    free(idx);
    vtc_video_close(v);
}

// ---------------------------------------------------------------- seeking

// Reading in any order gives the frames (and timestamps) of sequential decoding.
static void test_random_access(void **state) {
    (void)state;
    for (size_t c = 0; c < N_CLIPS; c++) {
        const char *path = clips[c].file;
        const int64_t n = clips[c].frames;
        vtc_image **seq = calloc((size_t)n, sizeof *seq);
        double *ts = calloc((size_t)n, sizeof *ts);
        vtc_video *v = open_ok(path);
        for (int64_t k = 0; k < n; k++) seq[k] = read_ok(v, path, k, &ts[k]);
        vtc_video_close(v);
        v = open_ok(path);
        // backwards, strided, repeated, then the last and the first
        int64_t order[64 + 8];
        int m = 0;
        for (int64_t k = 0; k < n; k++) order[m++] = (n - 1 - k * 7 % n + n) % n;
        order[m] = order[m - 1];
        m++;
        order[m++] = n - 1;
        order[m++] = 0;
        for (int i = 0; i < m; i++) {
            double t;
            vtc_image *img = read_ok(v, path, order[i], &t);
            const vtc_image *want = seq[order[i]];
            assert_int_equal(img->width, want->width);
            if (memcmp(img->rgb, want->rgb, (size_t)want->width * want->height * 3))
                fail_msg("%s: frame %lld read out of order differs from sequential decoding", path, (long long)order[i]);
            assert_true(t == ts[order[i]]);
            vtc_image_free(img);
        }
        vtc_video_close(v);
        for (int64_t k = 0; k < n; k++) vtc_image_free(seq[k]);
        free(seq);
        free(ts);
    }
}

static void test_timestamps(void **state) {
    (void)state;
    // 10 fps clips: t_k = k / 10 (the MPEG-TS one counts from its first frame at 1.4 s)
    const char *cfr[] = { DIR "cam40.mp4", DIR "cam20.ts", DIR "raw12.h264" };
    vtc_video *v;
    for (int f = 0; f < 3; f++) {
        v = open_ok(cfr[f]);
        for (int64_t k = 0; k < 12; k += 3) {
            double t = -1;
            vtc_image_free(read_ok(v, cfr[f], k, &t));
            assert_true(fabs(t - k / 10.0) < 1e-9);
        }
        vtc_video_close(v);
    }
    // variable rate: every third frame of a 10 fps clip dropped: t_k = 0.1 * (k + k/2)
    const char *vfr[] = { DIR "vfr.mp4", DIR "vfr.mkv" };
    for (int f = 0; f < 2; f++) {
        v = open_ok(vfr[f]);
        for (int64_t k = 29; k >= 0; k -= 4) {
            double t = -1;
            vtc_image_free(read_ok(v, vfr[f], k, &t));
            assert_true(fabs(t - 0.1 * (double)(k + k / 2)) < 1e-6);
        }
        vtc_video_close(v);
    }
}

// Far-apart frames cost a GOP each, not the whole clip.
static void check_decoded(const char *path, int32_t n_sample, int64_t bound) {
    vtc_video *v = open_ok(path);
    struct vtc_video_info info;
    vtc_video_get_info(v, &info);
    int64_t *idx;
    int32_t n;
    assert_int_equal(vtc_video_sample(v, n_sample, 0, 0, &idx, &n), 0);
    for (int32_t i = 0; i < n; i++) vtc_image_free(read_ok(v, path, idx[i], NULL));
    int64_t decoded = vtc_video_decoded_count(v);
    printf("  %-34s %d frames of %lld: %lld frames decoded (bound %lld)\n", path, n, (long long)info.n_frames,
           (long long)decoded, (long long)bound);
    assert_true(decoded <= bound);
    free(idx);
    vtc_video_close(v);
}

static void test_seeking_skips(void **state) {
    (void)state;
    // frames 0 and 39 with keyframes every 10: frame 0, then frames 30..39 (plus the B-frame delay)
    check_decoded(DIR "cam40.mp4", 2, 14);
    check_decoded(DIR "vfr.mp4", 2, 12); // keyframes every 8, located through the packet index
    check_decoded(DIR "vfr.mkv", 2, 12);
    check_decoded("samples/vtest.mp4", 3, 44); // 80 frames, keyframes every 20: 0, 20..39, 60..79 (+ B delay)
    check_decoded(DIR "odd23.mkv", 3, 3); // intra-only: exactly the frames asked for
}

// Frame and slice threading in the decoder (3 threads): every frame the same bytes.
static void test_cli_parity_threads(void **state) {
    g_threads = 3;
    test_cli_parity(state);
    g_threads = 1;
}

static void test_random_access_threads(void **state) {
    g_threads = 3;
    test_random_access(state);
    g_threads = 1;
}

// A plan (the frames that will be read): an H.264 clip's non-reference frames
// outside it go undecoded; the planned frames are still the CLI's, with 1 and 3
// threads, and so are frames read outside the plan afterwards (it is dropped).
static void test_plan(void **state) {
    (void)state;
    if (!have_ffmpeg()) skip();
    for (int threads = 1; threads <= 3; threads += 2) {
        g_threads = threads;
        for (size_t c = 0; c < N_CLIPS; c++) {
            const char *path = clips[c].file;
            const size_t bytes = (size_t)clips[c].width * clips[c].height * 3;
            uint8_t *ref = cli_all_frames(path, bytes, clips[c].frames);
            vtc_video *v = open_ok(path);
            int64_t *idx;
            int32_t n;
            assert_int_equal(vtc_video_sample(v, 6, 0, 0, &idx, &n), 0);
            assert_int_equal(vtc_video_plan(v, idx, n), 0);
            for (int32_t i = 0; i < n; i++) {
                vtc_image *img = read_ok(v, path, idx[i], NULL);
                if (memcmp(img->rgb, ref + (size_t)idx[i] * bytes, bytes))
                    fail_msg("%s, %d threads: planned frame %lld differs from the CLI's", path, threads,
                             (long long)idx[i]);
                vtc_image_free(img);
            }
            const int64_t outside[2] = { idx[1] + 1, 0 };
            for (int i = 0; i < 2; i++) {
                vtc_image *img = read_ok(v, path, outside[i], NULL);
                if (memcmp(img->rgb, ref + (size_t)outside[i] * bytes, bytes))
                    fail_msg("%s, %d threads: frame %lld outside the plan differs from the CLI's", path, threads,
                             (long long)outside[i]);
                vtc_image_free(img);
            }
            free(idx);
            vtc_video_close(v);
            free(ref);
        }
    }
    g_threads = 1;
    // samples/vtest.mp4 (H.264, 2 B-frames): 3 planned frames decode fewer frames than without the plan
    int64_t decoded[2];
    for (int plan = 0; plan < 2; plan++) {
        vtc_video *v = open_ok("samples/vtest.mp4");
        int64_t *idx;
        int32_t n;
        assert_int_equal(vtc_video_sample(v, 3, 0, 0, &idx, &n), 0);
        if (plan) assert_int_equal(vtc_video_plan(v, idx, n), 0);
        for (int32_t i = 0; i < n; i++) vtc_image_free(read_ok(v, "samples/vtest.mp4", idx[i], NULL));
        decoded[plan] = vtc_video_decoded_count(v);
        free(idx);
        vtc_video_close(v);
    }
    printf("  samples/vtest.mp4, 3 frames: %lld frames decoded, %lld with the plan\n", (long long)decoded[0],
           (long long)decoded[1]);
    assert_true(decoded[1] < decoded[0]);
    vtc_video *v = open_ok("samples/vtest.mp4");
    const int64_t bad[2] = { 5, 3 };
    assert_int_equal(vtc_video_plan(v, bad, 2), VTC_ERR_ARG); // not ascending
    const int64_t past[1] = { 80 };
    assert_int_equal(vtc_video_plan(v, past, 1), VTC_ERR_ARG);
    vtc_video_close(v);
}

// ---------------------------------------------------------------- errors and limits

static void expect_open_error(const char *path, int status) {
    vtc_video *v = NULL;
    int st = vtc_video_open(path, NULL, 1, &v);
    printf("  %-36s -> %s\n", path, vtc_last_error());
    if (st == 0) fail_msg("%s opened", path);
    assert_null(v);
    assert_int_equal(st, status);
    assert_int_equal(vtc_last_status(), status);
    assert_non_null(strstr(vtc_last_error(), path)); // "what: why"
}

static void test_bad_inputs(void **state) {
    (void)state;
    expect_open_error(DIR "audio.wav", VTC_ERR_UNSUPPORTED);
    expect_open_error(DIR "cover.mp3", VTC_ERR_UNSUPPORTED); // a picture stream, but cover art
    expect_open_error(DIR "empty.avi", VTC_ERR_FORMAT);      // a video stream without frames
    expect_open_error(DIR "trunc.mp4", VTC_ERR_FORMAT);      // cut before its index
    expect_open_error(DIR "garbage.avi", VTC_ERR_FORMAT);
    expect_open_error(DIR "does-not-exist.mp4", VTC_ERR_IO);
    // cut in the middle of the frames, index first: the index names 40 frames, 20
    // decode (the ffmpeg CLI's count too); those are the video's frames, all readable
    vtc_video *v = open_ok(DIR "truncfs.mp4");
    struct vtc_video_info info;
    vtc_video_get_info(v, &info);
    assert_int_equal(info.n_frames, 20);
    vtc_image *img = NULL;
    vtc_image_free(read_ok(v, DIR "truncfs.mp4", 19, NULL));
    vtc_image_free(read_ok(v, DIR "truncfs.mp4", 3, NULL));
    assert_int_equal(vtc_video_read(v, 20, &img, NULL), VTC_ERR_ARG); // past the count
    assert_null(img);
    assert_int_equal(vtc_video_read(v, -1, &img, NULL), VTC_ERR_ARG);
    vtc_video_close(v);
    // found by fuzz_video (kept as it found it): an AVI none of whose packets is
    // flagged a keyframe, so the index pass has no keyframes; its frames read, planned
    v = open_ok(DIR "fuzz_nokeys.avi");
    int64_t *idx = NULL;
    int32_t n = 0;
    assert_int_equal(vtc_video_sample(v, 3, 0, 0, &idx, &n), 0);
    assert_int_equal(vtc_video_plan(v, idx, n), 0);
    for (int32_t i = 0; i < n; i++) vtc_image_free(read_ok(v, DIR "fuzz_nokeys.avi", idx[i], NULL));
    free(idx);
    vtc_video_close(v);
    // through vtc_media_load too
    struct vtc_sample_params sp = vtc_sample_params_default();
    const char *bad[] = { DIR "audio.wav", DIR "trunc.mp4", DIR "empty.avi", DIR "garbage.avi" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vtc_media *m = vtc_media_load(bad[i], sp, NULL);
        if (m) fail_msg("%s loaded", bad[i]);
        assert_true(vtc_last_status() < 0);
    }
}

// Prefixes and corrupted copies of real clips from memory: errors, never a crash or a hang.
static void test_damaged_memory(void **state) {
    (void)state;
    const char *files[] = { DIR "cam40.mp4", DIR "cam17.avi", DIR "odd23.mkv", DIR "vfr.mkv" };
    static uint8_t buf[1 << 16], bent[1 << 16];
    int opened = 0, failed = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        FILE *fp = fopen(files[f], "rb");
        assert_non_null(fp);
        size_t size = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        uint32_t rng = 12345u + (uint32_t)f;
        for (int trial = 0; trial < 48; trial++) {
            size_t cut = size;
            memcpy(bent, buf, size);
            if (trial < 24) {
                cut = size * (size_t)trial / 24;
            } else { // flip a few bytes
                for (int b = 0; b < 1 + trial % 8; b++) {
                    rng = rng * 1664525u + 1013904223u;
                    bent[(rng >> 8) % size] ^= (uint8_t)(1u << (rng % 8));
                }
            }
            vtc_video *v = NULL;
            if (vtc_video_open_memory(bent, cut, NULL, 1, &v) == 0) {
                opened++;
                int64_t *idx = NULL;
                int32_t n = 0;
                if (vtc_video_sample(v, 4, 0, 0, &idx, &n) == 0)
                    for (int i = n - 1; i >= 0; i--) { // backwards: seeks and rewinds on damaged data
                        vtc_image *img = NULL;
                        if (vtc_video_read(v, idx[i], &img, NULL) == 0) vtc_image_free(img);
                        else failed++;
                    }
                free(idx);
                vtc_video_close(v);
            } else {
                failed++;
                assert_true(vtc_last_status() < 0);
                assert_true(vtc_last_error()[0] != '\0');
            }
        }
    }
    printf("  192 damaged inputs: %d opened, %d errors (none crashed)\n", opened, failed);
    // a concat script from memory must not make vtc open the file it names
    const char *script = "ffconcat version 1.0\nfile tests/fixtures/video/cam20.ts\n";
    vtc_video *cat = NULL;
    assert_int_not_equal(vtc_video_open_memory(script, strlen(script), NULL, 1, &cat), 0);
    assert_null(cat);
    // a whole clip from memory reads the same frames as from the file
    FILE *fp = fopen(DIR "cam40.mp4", "rb");
    size_t size = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    vtc_video *a = open_ok(DIR "cam40.mp4"), *b = NULL;
    assert_int_equal(vtc_video_open_memory(buf, size, NULL, 1, &b), 0);
    vtc_image *x = read_ok(a, "file", 27, NULL), *y = read_ok(b, "memory", 27, NULL);
    assert_memory_equal(x->rgb, y->rgb, (size_t)x->width * x->height * 3);
    vtc_image_free(x);
    vtc_image_free(y);
    vtc_video_close(a);
    vtc_video_close(b);
}

static void test_limits(void **state) {
    (void)state;
    struct vtc_limits lim = vtc_limits_default();
    lim.max_pixels = 90 * 68 - 1;
    vtc_video *v = NULL;
    assert_int_equal(vtc_video_open(DIR "cam40.mp4", &lim, 1, &v), VTC_ERR_LIMIT);
    assert_null(v);
    lim = vtc_limits_default();
    lim.max_frames = 3;
    assert_int_equal(vtc_video_open(DIR "cam40.mp4", &lim, 1, &v), 0);
    int64_t *idx;
    int32_t n;
    assert_int_equal(vtc_video_sample(v, 3, 0, 0, &idx, &n), 0);
    free(idx);
    assert_int_equal(vtc_video_sample(v, 4, 0, 0, &idx, &n), VTC_ERR_LIMIT);
    assert_int_equal(vtc_video_sample(v, 0, 1.0, 0, &idx, &n), VTC_ERR_LIMIT); // 4 frames at 0, 1, 2, 3 s
    assert_int_equal(vtc_video_sample(v, 0, 0.5, 0, &idx, &n), 0);            // 2 frames
    assert_int_equal(n, 2);
    free(idx);
    vtc_video_close(v);
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 4;
    assert_null(vtc_media_load(DIR "cam40.mp4", sp, &lim));
    assert_int_equal(vtc_last_status(), VTC_ERR_LIMIT);
}

static void test_probe(void **state) {
    (void)state;
    const char *videos[] = { DIR "cam40.mp4", DIR "cam17.avi", DIR "odd23.mkv", DIR "vfr.mkv", "samples/vtest.mp4" };
    for (size_t i = 0; i < sizeof videos / sizeof videos[0]; i++) assert_int_equal(vtc_video_probe(videos[i]), 1);
    const char *others[] = { DIR "audio.wav", DIR "cover.mp3", DIR "garbage.avi", DIR "trunc.mp4", "Makefile" };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (vtc_video_probe(others[i]) != 0) fail_msg("%s probed as video", others[i]);
    assert_int_equal(vtc_video_probe(DIR "does-not-exist.mp4"), VTC_ERR_IO);
    // FFmpeg demuxes still images as one-frame videos: callers check for images first
    assert_int_equal(vtc_video_probe("samples/astronaut.jpg"), 1);
}

// FFmpeg's messages about vtc's inputs never reach stderr; the host's own still do.
static void test_quiet(void **state) {
    (void)state;
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    dup2(fileno(tmp), 2);
    vtc_video *v = NULL;
    vtc_video_open(DIR "garbage.avi", NULL, 1, &v); // the avi demuxer complains about this one
    vtc_video_open(DIR "trunc.mp4", NULL, 1, &v);   // and the mov one about this
    off_t quiet_bytes = lseek(2, 0, SEEK_END);
    av_log(NULL, AV_LOG_ERROR, "host message\n");
    off_t host_bytes = lseek(2, 0, SEEK_END) - quiet_bytes;
    dup2(saved, 2);
    close(saved);
    fclose(tmp);
    assert_int_equal(quiet_bytes, 0);
    assert_true(host_bytes > 0);
}

// ---------------------------------------------------------------- through the public API

static void test_media_load(void **state) {
    (void)state;
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 4;
    vtc_media *m = vtc_media_load(DIR "rot90.mp4", sp, NULL);
    assert_non_null(m);
    assert_int_equal(m->is_video, 1);
    assert_int_equal(m->n_frames, 4);
    assert_int_equal(m->total_frames, 12);
    assert_int_equal(m->frames[0]->width, 48); // rotated 64x48
    assert_int_equal(m->frames[0]->height, 64);
    const int32_t want[4] = { 0, 3, 7, 11 };
    assert_memory_equal(m->frame_index, want, sizeof want);
    assert_true(fabs(m->timestamps[3] - 1.1) < 1e-9);
    vtc_media_free(m);
    sp.n_frames = 20; // more frames than the clip has: repeats
    m = vtc_media_load(DIR "rot90.mp4", sp, NULL);
    assert_non_null(m);
    assert_int_equal(m->n_frames, 20);
    assert_int_equal(m->frame_index[1], 0);
    assert_memory_equal(m->frames[0]->rgb, m->frames[1]->rgb, 48 * 64 * 3);
    vtc_media_free(m);
    sp.n_frames = 0;
    sp.fps = 2;
    m = vtc_media_load(DIR "vfr.mp4", sp, NULL);
    assert_non_null(m);
    for (int i = 0; i < m->n_frames; i++) assert_true(m->timestamps[i] >= i * 0.5 - 1e-3);
    vtc_media_free(m);
}

// vtc encode of sampled frames == vtc encode of the PNGs the ffmpeg CLI extracts
// for the same frame numbers (the criterion: <= 5e-3 relative).
static void test_features_match_cli_pngs(void **state) {
    (void)state;
    if (!have_ffmpeg()) skip();
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 3;
    vtc_media *m = vtc_media_load("samples/vtest.mp4", sp, NULL);
    assert_non_null(m);
    vtc_model *model = vtc_model_default(vtc_model_params_default());
    vtc_ctx *ctx = vtc_ctx_new(model, vtc_ctx_params_default());
    vtc_features *f = NULL;
    assert_int_equal(vtc_encode_frames(ctx, (const vtc_image *const *)m->frames, m->n_frames, m->timestamps, &f), 0);
    char dir[] = "/tmp/vtc-test-png-XXXXXX";
    assert_non_null(mkdtemp(dir));
    double worst = 0;
    for (int i = 0; i < m->n_frames; i++) {
        char cmd[512], png[256];
        snprintf(png, sizeof png, "%s/f%d.png", dir, i);
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -v error -nostdin -i samples/vtest.mp4 -vf 'select=eq(n\\,%d)' -vsync 0 -frames:v 1 %s",
                 m->frame_index[i], png);
        assert_int_equal(system(cmd), 0);
        vtc_image *img = vtc_image_load(png, NULL);
        assert_non_null(img);
        vtc_features *g = NULL;
        assert_int_equal(vtc_encode_image(ctx, img, &g), 0);
        const float *a = f->features + (size_t)i * g->n * g->dim, *b = g->features;
        double md = 0, mr = 0;
        for (size_t k = 0; k < (size_t)g->n * g->dim; k++) {
            if (fabs(a[k] - b[k]) > md) md = fabs(a[k] - b[k]);
            if (fabs(b[k]) > mr) mr = fabs(b[k]);
        }
        if (md / mr > worst) worst = md / mr;
        vtc_features_free(g);
        vtc_image_free(img);
        unlink(png);
    }
    rmdir(dir);
    printf("  frames %d, %d, %d of samples/vtest.mp4: features vs the CLI's PNGs, rel err %.1e\n", m->frame_index[0],
           m->frame_index[1], m->frame_index[2], worst);
    assert_true(worst <= 5e-3);
    vtc_features_free(f);
    vtc_ctx_free(ctx);
    vtc_model_free(model);
    vtc_media_free(m);
}

// A video's sampled frames as a source (video/source.h): the frames, indices and
// timestamps vtc_media_load gives, one at a time, 0 after the last; a frame
// sampled twice (more samples than frames) comes twice; the memory it says it holds
// covers the decoder's frames and the RGB frame. On one thread and on three
// (sparse samples: workers reading runs between keyframes side by side).
static void test_source(void **state) {
    (void)state;
    struct vtc_sample_params sp = vtc_sample_params_default();
    const char *files[] = { "samples/vtest.mp4", DIR "cam40.mp4", DIR "rot90.mp4", DIR "drops.avi",
                            DIR "cam40.mp4", DIR "vfr.mkv", DIR "cam20.ts" };
    const int32_t counts[] = { 6, 50, 5, 7, 4, 4, 3 };
    for (size_t c = 0; c < 2 * sizeof files / sizeof files[0]; c++) {
        const size_t f = c % (sizeof files / sizeof files[0]);
        const int threads = c < sizeof files / sizeof files[0] ? 1 : 3;
        sp.n_frames = counts[f];
        vtc_media *m = vtc_media_load(files[f], sp, NULL);
        assert_non_null(m);
        vtc_video_source *s = NULL;
        assert_int_equal(vtc_video_source_open(files[f], sp, NULL, threads, &s), 0);
        int32_t n = 0;
        const int64_t *idx = vtc_video_source_indices(s, &n);
        assert_int_equal(n, m->n_frames);
        struct vtc_video_info info;
        vtc_video_source_info(s, &info);
        assert_true(vtc_video_source_bytes(s) >= 17 * (uint64_t)info.width * info.height * 3 / 2);
        for (int32_t i = 0; i < n; i++) {
            const vtc_image *img = NULL;
            double ts = -1;
            int64_t k = -1;
            assert_int_equal(vtc_video_source_next(s, &img, &ts, &k), 1);
            assert_int_equal(k, m->frame_index[i]);
            assert_int_equal(idx[i], k);
            assert_true(ts == m->timestamps[i]);
            assert_int_equal(img->width, m->frames[i]->width);
            assert_int_equal(img->height, m->frames[i]->height);
            assert_memory_equal(img->rgb, m->frames[i]->rgb, (size_t)img->width * img->height * 3);
        }
        const vtc_image *img = NULL;
        assert_int_equal(vtc_video_source_next(s, &img, NULL, NULL), 0);
        assert_null(img);
        assert_int_equal(vtc_video_source_next(s, &img, NULL, NULL), 0);
        assert_int_equal(vtc_video_source_failed(s), 0);
        assert_true(vtc_video_source_decoded(s) >= n);
        vtc_video_source_close(s);
        vtc_media_free(m);
    }
    vtc_video_source *s = NULL;
    assert_int_equal(vtc_video_source_open(DIR "trunc.mp4", sp, NULL, 1, &s), VTC_ERR_FORMAT);
    assert_null(s);
}

// Qwen2-VL's frame sampling (vtc_sample_qwen) against the indices transformers'
// Qwen2VLVideoProcessor.sample_frames gives (tests/fixtures/expected/qwen/
// sample_sweep.txt, written by tools/gen_qwen_fixtures.py with torch's arange),
// the processor's failures included.
static void test_sample_qwen_sweep(void **state) {
    (void)state;
    FILE *fp = fopen("tests/fixtures/expected/qwen/sample_sweep.txt", "r");
    assert_non_null(fp);
    static char line[1 << 16];
    int cases = 0, refused = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        long long total;
        double vfps, fps;
        int frames, used = 0;
        assert_int_equal(sscanf(line, "%lld %lf %d %lf : %n", &total, &vfps, &frames, &fps, &used), 4);
        int64_t *idx = NULL;
        int32_t n = 0;
        int st = vtc_sample_qwen(total, vfps, frames, fps, 2, 4, 768, 1 << 20, &idx, &n);
        const char *p = line + used;
        if (!strncmp(p, "error", 5)) {
            if (st != VTC_ERR_ARG && st != VTC_ERR_UNSUPPORTED)
                fail_msg("%s: want an error, got %d (%d frames)", line, st, n);
            refused++;
        } else {
            if (st) fail_msg("%s: status %d", line, st);
            int k = 0, off = 0;
            long long want;
            while (sscanf(p, "%lld%n", &want, &off) == 1) {
                if (k >= n || idx[k] != want)
                    fail_msg("total %lld, frames %d, fps %g: index %d is %lld, want %lld", total, frames, fps, k,
                             k < n ? (long long)idx[k] : -1LL, want);
                k++, p += off;
            }
            assert_int_equal(k, n);
        }
        free(idx);
        cases++;
    }
    fclose(fp);
    assert_true(cases > 100 && refused > 0);
    printf("  Qwen2-VL sampling: %d cases (%d refused) = transformers' indices\n", cases, refused);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),          cmocka_unit_test(test_sampling),
        cmocka_unit_test(test_fps_sampling),  cmocka_unit_test(test_sample_rules), cmocka_unit_test(test_sample_qwen_sweep),
        cmocka_unit_test(test_index_settled), cmocka_unit_test(test_cli_parity),
        cmocka_unit_test(test_sample_clip_select), cmocka_unit_test(test_random_access),
        cmocka_unit_test(test_timestamps),    cmocka_unit_test(test_seeking_skips),
        cmocka_unit_test(test_bad_inputs),    cmocka_unit_test(test_damaged_memory),
        cmocka_unit_test(test_limits),        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_quiet),         cmocka_unit_test(test_media_load),
        cmocka_unit_test(test_features_match_cli_pngs), cmocka_unit_test(test_source),
        cmocka_unit_test(test_cli_parity_threads), cmocka_unit_test(test_random_access_threads),
        cmocka_unit_test(test_plan),
    };
    return cmocka_run_group_tests_name("video", tests, NULL, NULL);
}
