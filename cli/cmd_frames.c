// `vtc frames`: the frames `vtc compress` / `vtc encode` would sample from an
// input, listed, and with --out written as PPM files, so they can be checked
// against another decoder (tests/cli_video_corpus.sh compares them byte for
// byte with the ffmpeg CLI's).
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "base/common.h"
#include "video/source.h"

static void usage(void) {
    fputs("usage: vtc frames INPUT [--frames N | --fps F] [--out DIR] [--threads N] [--max-frames N] [--max-pixels N]\n"
          "\n"
          "Lists the frames vtc samples from INPUT (a video or an image), one line each:\n"
          "  INDEX <tab> TIMESTAMP <tab> FILE\n"
          "INDEX is the frame's number in the video (the n of ffmpeg's select=eq(n\\,INDEX) with\n"
          "-fps_mode passthrough), TIMESTAMP its time in seconds since frame 0. With --out DIR\n"
          "each frame is written as DIR/frame-INDEX.ppm (8-bit RGB, rotation applied), the\n"
          "bytes `ffmpeg -i INPUT -vf select=eq(n\\,INDEX) -fps_mode passthrough -frames:v 1 F.ppm`\n"
          "writes; FILE is that path (\"-\" without --out).\n"
          "\n"
          "  --frames N     N frames at floor(linspace(0, total-1, N)) (default 8)\n"
          "  --fps F        one frame per 1/F seconds of video time instead\n"
          "  --out DIR      write the frames there (created if missing)\n"
          "  --threads N    decoding threads (default: all CPUs; the frames are the same bytes)\n"
          "  --max-frames N, --max-pixels N   input limits (default 4096, 67108864)\n",
          stdout);
}

// P6 as FFmpeg's PPM encoder writes it: "P6\n<w> <h>\n255\n", then the RGB rows.
static int write_ppm(const char *path, const vtc_image *img) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fprintf(f, "P6\n%d %d\n255\n", img->width, img->height);
    size_t bytes = (size_t)img->width * (size_t)img->height * 3;
    int bad = fwrite(img->rgb, 1, bytes, f) != bytes;
    if (fclose(f) != 0) bad = 1;
    return bad ? -1 : 0;
}

int cmd_frames(int argc, char **argv) {
    const char *input = NULL, *out = NULL;
    struct vtc_sample_params sp = vtc_sample_params_default();
    struct vtc_limits limits = vtc_limits_default();
    int have_frames = 0, have_fps = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return CLI_OK;
        }
        int takes = !strcmp(a, "--frames") || !strcmp(a, "--fps") || !strcmp(a, "--out") ||
                    !strcmp(a, "--max-frames") || !strcmp(a, "--max-pixels") || !strcmp(a, "--threads");
        if (takes && !val) return cli_usage_error("frames: %s needs a value", a);
        if (!strcmp(a, "--frames")) {
            if (cli_parse_int(val, 1, 100000, &n)) return cli_usage_error("--frames: '%s' is not a frame count (1..100000)", val);
            sp.n_frames = (int32_t)n;
            have_frames = 1;
        } else if (!strcmp(a, "--fps")) {
            if (cli_parse_double(val, 1e-6, 1000, &sp.fps)) return cli_usage_error("--fps: '%s' is not a rate in (0, 1000]", val);
            have_fps = 1;
        } else if (!strcmp(a, "--out")) {
            out = val;
        } else if (!strcmp(a, "--max-frames")) {
            if (cli_parse_int(val, 1, INT32_MAX, &n)) return cli_usage_error("--max-frames: '%s' is not a positive integer", val);
            limits.max_frames = (int32_t)n;
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(val, 1, 1024, &n)) return cli_usage_error("--threads: '%s' is not a thread count (1..1024)", val);
            threads = (int)n;
        } else if (!strcmp(a, "--max-pixels")) {
            if (cli_parse_int(val, 1, (long long)1 << 50, &n)) return cli_usage_error("--max-pixels: '%s' is not a positive integer", val);
            limits.max_pixels = (uint64_t)n;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("frames: unknown option '%s' (see `vtc frames --help`)", a);
        } else if (input) {
            return cli_usage_error("frames: one INPUT only ('%s' and '%s')", input, a);
        } else {
            input = a;
        }
        if (takes) i++;
    }
    if (!input) return cli_usage_error("frames: no INPUT given (see `vtc frames --help`)");
    if (have_frames && have_fps) return cli_usage_error("frames: --frames and --fps exclude each other");
    if (have_fps) sp.n_frames = 0;
    if (out && mkdir(out, 0777) != 0 && errno != EEXIST) return cli_runtime_error("--out: %s: %s", out, strerror(errno));

    // a video's frames one at a time (as encode and compress read them), an image's one
    struct cli_input in;
    int st = cli_input_open(input, sp, &limits, threads ? threads : vtc_cpu_count(), &in);
    if (st) return cli_status_error(st, "reading input");
    int rc = CLI_OK;
    for (int32_t i = 0; rc == CLI_OK; i++) {
        const vtc_image *img = NULL;
        double ts = 0;
        int64_t k = 0;
        if (in.video) {
            int got = vtc_video_source_next(in.video, &img, &ts, &k);
            if (got < 0) rc = cli_status_error(got, "reading input");
            if (got <= 0) break;
        } else if (i == 0) {
            img = in.image->frames[0];
        } else {
            break;
        }
        char path[4096] = "-";
        if (out) {
            if (snprintf(path, sizeof path, "%s/frame-%06lld.ppm", out, (long long)k) >= (int)sizeof path) {
                rc = cli_runtime_error("--out: %s: path too long", out);
                break;
            }
            if (write_ppm(path, img)) rc = cli_runtime_error("writing %s: %s", path, strerror(errno));
        }
        if (rc == CLI_OK) printf("%lld\t%.6f\t%s\n", (long long)k, ts, path);
    }
    cli_input_close(&in);
    return rc;
}
