// bench/video: the frames vtc samples from a long clip, next to the ffmpeg CLI's
// fastest ways to get the same frames, in one run (issue 32); then the peak
// memory of `vtc encode --fps F` on the clip.
//
//   build/bench/video [CLIP] [--frames N] [--reps R] [--threads T] [--fps LIST] [--vtc PATH]
//
// CLIP defaults to build/bench/long1080.mp4, made by tools/gen_long_clip.sh when
// missing (2 minutes of 1080p H.264 at 30 fps from real camera footage, GOP 250).
// First the frames are checked: vtc's N sampled frames (floor(linspace(0,
// total-1, N))), decoded in-process with T threads, byte for byte against the
// CLI's `select=eq(n\,k)` output and against `-ss` seeking to each frame's time.
// Then, best of R wall-clock runs, each a separate process:
//   vtc frames CLIP --frames N --threads T          the N frames decoded to RGB
//   vtc encode CLIP --frames N --threads T          the same through the encoder (embedded model)
//   ffmpeg -i CLIP -vf select=... -pix_fmt rgb24 -f rawvideo /dev/null   (one pass: the CLI's
//                                                   default threads, and -threads 1)
//   N x ffmpeg -ss TIME -i CLIP -frames:v 1 -pix_fmt rgb24 ...           (seeking per frame)
// and the fastest of the CLI's is the reference.
// Then for each F in LIST (default "1 5 30"): `vtc encode CLIP --fps F --threads T
// --max-tokens 4194304` (the default token limit refuses --fps 30 on 2 minutes:
// 3600 x 576 tokens), its peak resident memory (the child's ru_maxrss) next to the
// tokens it holds. Prints the commands it runs.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/common.h"
#include "video/source.h"
#include "vtc.h"

static int g_threads = 0;

// Runs cmd with sh -c, stdout to /dev/null; wall ms, *maxrss_kb (may be NULL), exit status in *rc.
static double run(const char *cmd, long *maxrss_kb, int *rc) {
    fflush(stdout);
    double t0 = vtc_now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    wait4(pid, &status, 0, &ru);
    double ms = vtc_now_ms() - t0;
    if (maxrss_kb) *maxrss_kb = ru.ru_maxrss;
    *rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    return ms;
}

static double best(const char *cmd, int reps, int *rc) {
    double b = INFINITY;
    for (int r = 0; r < reps; r++) {
        double ms = run(cmd, NULL, rc);
        if (*rc) return NAN;
        if (ms < b) b = ms;
    }
    return b;
}

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// Hashes of the frames an ffmpeg command writes as rgb24 rawvideo on stdout; n read.
static int cli_hashes(const char *cmd, size_t bytes, uint64_t *out, int cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    uint8_t *buf = malloc(bytes);
    int n = 0;
    while (buf && n < cap && fread(buf, 1, bytes, p) == bytes) out[n++] = fnv(buf, bytes);
    free(buf);
    pclose(p);
    return n;
}

int main(int argc, char **argv) {
    const char *clip = "build/bench/long1080.mp4", *vtc = "build/vtc", *fps_list = "1 5 30";
    int n_frames = 32, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--frames") && i + 1 < argc) n_frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) g_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--fps") && i + 1 < argc) fps_list = argv[++i];
        else if (!strcmp(argv[i], "--vtc") && i + 1 < argc) vtc = argv[++i];
        else if (argv[i][0] != '-') clip = argv[i];
        else {
            fprintf(stderr, "usage: %s [CLIP] [--frames N] [--reps R] [--threads T] [--fps LIST] [--vtc PATH]\n", argv[0]);
            return 2;
        }
    }
    if (n_frames < 1 || n_frames > 1000 || reps < 1 || reps > 100) return 2;
    const int T = g_threads > 0 ? g_threads : vtc_cpu_count();
    struct stat sb;
    if (stat(clip, &sb) != 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "sh tools/gen_long_clip.sh '%s'", clip);
        fprintf(stderr, "bench/video: making %s (%s)\n", clip, cmd);
        if (system(cmd) != 0) return 1;
    }

    // 1. the frames, in-process: vtc's source (as vtc frames / encode read them)
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = n_frames;
    vtc_video_source *s = NULL;
    double t0 = vtc_now_ms();
    if (vtc_video_source_open(clip, sp, NULL, T, &s)) {
        fprintf(stderr, "bench/video: %s\n", vtc_last_error());
        return 1;
    }
    struct vtc_video_info info;
    vtc_video_source_info(s, &info);
    int32_t n = 0;
    const int64_t *src_idx = vtc_video_source_indices(s, &n);
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    memcpy(idx, src_idx, (size_t)n * sizeof *idx);
    uint64_t *mine = calloc((size_t)n, sizeof *mine), *sel = calloc((size_t)n, sizeof *sel);
    double *ts = calloc((size_t)n, sizeof *ts);
    size_t bytes = (size_t)info.width * info.height * 3;
    for (int32_t i = 0; i < n; i++) {
        const vtc_image *img = NULL;
        if (vtc_video_source_next(s, &img, &ts[i], NULL) != 1) {
            fprintf(stderr, "bench/video: %s\n", vtc_last_error());
            return 1;
        }
        mine[i] = fnv(img->rgb, bytes);
    }
    const double ms_inproc = vtc_now_ms() - t0;
    const int64_t decoded = vtc_video_source_decoded(s);
    vtc_video_source_close(s);
    printf("bench/video: %s (%s %dx%d, %lld frames, %.3g fps, %.1f s); %d frames sampled; %d threads; best of %d\n",
           clip, info.codec, info.width, info.height, (long long)info.n_frames, info.fps, info.duration, n, T, reps);

    // 2. the same frames from the CLI: one select pass, and -ss per frame
    char *select = malloc((size_t)n * 24 + 1), cmd[1 << 16];
    select[0] = '\0';
    for (int32_t i = 0; i < n; i++)
        if (i == 0 || idx[i] != idx[i - 1])
            sprintf(select + strlen(select), "%seq(n\\,%lld)", i ? "+" : "", (long long)idx[i]);
    int distinct = 0;
    for (int32_t i = 0; i < n; i++) distinct += i == 0 || idx[i] != idx[i - 1];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -nostdin -i '%s' -vf 'select=%s' -fps_mode passthrough -pix_fmt rgb24 -f rawvideo", clip,
             select);
    char check[sizeof cmd + 64];
    snprintf(check, sizeof check, "%s - 2>/dev/null", cmd);
    int got = cli_hashes(check, bytes, sel, n);
    int same_select = got == distinct;
    for (int32_t i = 0, j = 0; i < n && same_select; i++) {
        if (i > 0 && idx[i] == idx[i - 1]) continue;
        same_select = sel[j++] == mine[i];
    }
    // -ss: half a frame before the frame's time, so the first frame at or after it is that frame
    const double half = info.fps > 0 ? 0.5 / info.fps : 1e-3;
    int same_ss = 1;
    char ss_cmds[1 << 16] = "";
    for (int32_t i = 0; i < n; i++) {
        char one[1024];
        snprintf(one, sizeof one, "ffmpeg -v error -nostdin -ss %.6f -i '%s' -frames:v 1 -pix_fmt rgb24 -f rawvideo",
                 ts[i] - half > 0 ? ts[i] - half : 0, clip);
        char c1[1200];
        snprintf(c1, sizeof c1, "%s - 2>/dev/null", one);
        uint64_t h = 0;
        if (same_ss && (cli_hashes(c1, bytes, &h, 1) != 1 || h != mine[i])) same_ss = 0;
        snprintf(ss_cmds + strlen(ss_cmds), sizeof ss_cmds - strlen(ss_cmds), "%s -y /dev/null; ", one);
    }
    printf("frames: vtc's %d = ffmpeg select's: %s; = ffmpeg -ss's: %s (rgb24, byte for byte)\n", n,
           same_select ? "yes" : "NO", same_ss ? "yes" : "NO");
    printf("in-process: %lld frames decoded (%.0f ms)\n\n", (long long)decoded, ms_inproc);

    // 3. timings, each a process of its own
    char vtc_frames[2048], vtc_encode[2048], ff_select[sizeof cmd + 32], ff_select1[sizeof cmd + 64];
    snprintf(vtc_frames, sizeof vtc_frames, "%s frames '%s' --frames %d --threads %d", vtc, clip, n, T);
    snprintf(vtc_encode, sizeof vtc_encode, "%s encode '%s' --frames %d --threads %d -o /tmp/vtc-bench-video.safetensors",
             vtc, clip, n, T);
    snprintf(ff_select, sizeof ff_select, "%s -y /dev/null", cmd);
    snprintf(ff_select1, sizeof ff_select1, "ffmpeg -threads 1%s -y /dev/null", cmd + strlen("ffmpeg")); // before -i
    int rc;
    const double ms_frames = best(vtc_frames, reps, &rc), ms_encode = best(vtc_encode, reps, &rc);
    unlink("/tmp/vtc-bench-video.safetensors");
    const double ms_select = best(ff_select, reps, &rc), ms_select1 = best(ff_select1, reps, &rc);
    const double ms_ss = best(ss_cmds, reps, &rc);
    double fastest = ms_select < ms_ss ? ms_select : ms_ss;
    if (ms_select1 < fastest) fastest = ms_select1;
    printf("%-52s %9s %14s\n", "the same frames", "s", "vs fastest CLI");
    printf("%-52s %9.2f %13.2fx\n", "vtc frames (decode to RGB)", ms_frames / 1e3, fastest / ms_frames);
    printf("%-52s %9.2f %13.2fx\n", "vtc encode (+ the encoder, overlapped)", ms_encode / 1e3, fastest / ms_encode);
    printf("%-52s %9.2f %13.2fx\n", "ffmpeg -vf select (one pass, default threads)", ms_select / 1e3, fastest / ms_select);
    printf("%-52s %9.2f %13.2fx\n", "ffmpeg -vf select (one pass, -threads 1)", ms_select1 / 1e3, fastest / ms_select1);
    printf("%-52s %9.2f %13.2fx\n", "ffmpeg -ss per frame (N runs, default threads)", ms_ss / 1e3, fastest / ms_ss);
    printf("\n  %s\n  %s\n  %s\n  %s\n  %s... (%d runs)\n\n", vtc_frames, vtc_encode, ff_select, ff_select1,
           strtok(ss_cmds, ";"), n);

    // 4. peak memory
    if (!strcmp(fps_list, "none")) return 0;
    printf("%-10s %8s %12s %14s   %s\n", "vtc encode", "frames", "tokens MB", "peak RSS MB",
           "(MB = 10^6 bytes; tokens: the features file written; --max-tokens 4194304)");
    char list[256];
    snprintf(list, sizeof list, "%s", fps_list);
    for (char *f = strtok(list, " ,"); f; f = strtok(NULL, " ,")) {
        char mem[2048];
        snprintf(mem, sizeof mem, "%s encode '%s' --fps %s --threads %d --max-tokens 4194304 -o /tmp/vtc-bench-mem.safetensors",
                 vtc, clip, f, T);
        struct vtc_sample_params fsp = vtc_sample_params_default();
        fsp.n_frames = 0;
        fsp.fps = atof(f);
        vtc_video_source *fs = NULL;
        int32_t fn = 0;
        if (fsp.fps > 0 && !vtc_video_source_open(clip, fsp, NULL, 1, &fs)) vtc_video_source_indices(fs, &fn);
        vtc_video_source_close(fs);
        long kb = 0;
        double ms = run(mem, &kb, &rc);
        struct stat fb;
        double mb = stat("/tmp/vtc-bench-mem.safetensors", &fb) == 0 ? fb.st_size / 1e6 : NAN;
        unlink("/tmp/vtc-bench-mem.safetensors");
        printf("--fps %-4s %8d %12.1f %14.1f   (%.1f s%s)\n", f, fn, mb, kb * 1024.0 / 1e6, ms / 1e3, rc ? ", FAILED" : "");
    }
    free(select);
    free(idx);
    free(mine);
    free(sel);
    free(ts);
    return 0;
}
