# vtc — build with `make`; `make test` runs every test; `make help` lists targets.
# The library's layers (docs/design.md): base/ at the bottom, the stages vision/
# video/ prune/ lm/ above it, api/ on top; their .c files go into libvtc. cli/ is
# the `vtc` command, built on libvtc. tests/test_*.c each become a test binary.

PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= cc
CXX      ?= c++
ARCH     ?= -march=x86-64-v3
ifeq ($(NATIVE),1)
ARCH     := -march=native
endif
OPT      ?= -O2
SAN      ?=
# the version is written once, in include/vtc.h
VERSION  := $(shell sed -n 's/^\#define VTC_VERSION "\(.*\)"/\1/p' include/vtc.h)
SOMAJOR  := $(firstword $(subst ., ,$(VERSION)))
SONAME   := libvtc.so.$(SOMAJOR)
PKGS     := libpng libjpeg libavformat libavcodec libswscale libavutil openblas libcjson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# oneDNN (libdnnl-dev, the bf16 engine: base/matmul.c) has no .pc; its OpenMP runtime is libgomp
DNNL_LIBS  := -ldnnl -lgomp
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(DNNL_LIBS)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS   ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(ARCH) -g -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -fPIC -pthread -Iinclude -I. $(PKG_CFLAGS) $(SAN)
# the library exports what include/vtc.h marks VTC_API, nothing else
LIB_CFLAGS := -fvisibility=hidden
LDLIBS   += $(PKG_LIBS) -lm -pthread
LDFLAGS  += $(SAN)

LIB_DIRS := base vision video prune lm api
LIB_SRC  := $(sort $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRCS := $(sort $(wildcard cli/*.c))
CLI_OBJ  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
# the CLI's parts without main(), for the benchmarks and tests that drive them
CLI_PARTS := $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
EX_SRC   := $(sort $(wildcard examples/*.c))
EX_BIN   := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)

.PHONY: all lib test check check-layers check-abi check-install bench bench-llama-cpp fuzz tsan quality quality-precision install uninstall clean help setup demo
all: $(BUILD)/libvtc.a $(BUILD)/libvtc.so $(BUILD)/vtc $(EX_BIN)
lib: $(BUILD)/libvtc.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(if $(filter $(LIB_DIRS),$(firstword $(subst /, ,$<))),$(LIB_CFLAGS)) -MMD -MP -c $< -o $@

# the embedded default model (.incbin in vision/default_model.c)
DEFAULT_MODEL := samples/vlm/model.safetensors samples/vlm/config.json samples/vlm/preprocessor_config.json
$(BUILD)/obj/vision/default_model.o: $(DEFAULT_MODEL)

$(BUILD)/libvtc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# libvtc.so.MAJOR.MINOR.PATCH with SONAME libvtc.so.MAJOR, and the two links to it
$(BUILD)/libvtc.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) -o $@.$(VERSION) $^ $(LDFLAGS) $(LDLIBS)
	ln -sf libvtc.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf libvtc.so.$(VERSION) $@

$(BUILD)/libvtc-cli.a: $(CLI_PARTS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vtc: $(CLI_OBJ) $(BUILD)/libvtc.a
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libvtc.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libvtc.a $(BUILD)/libvtc-cli.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libvtc-cli.a $(BUILD)/libvtc.a $(LDFLAGS) $(CMOCKA_LIBS) $(LDLIBS)

# The public header must compile as C++ too (hosts include it from C++).
$(BUILD)/tests/test_header_cxx: tests/header_cxx.cc include/vtc.h
	@mkdir -p $(dir $@)
	$(CXX) -std=c++11 -Wall -Wextra -Werror -Iinclude -o $@ $< $(BUILD)/libvtc.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libvtc.a $(BUILD)/libvtc-cli.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libvtc-cli.a $(BUILD)/libvtc.a $(LDFLAGS) $(LDLIBS)

# examples see the public header only (check-install builds them from an installed copy)
$(BUILD)/examples/%: examples/%.c $(BUILD)/libvtc.a
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) -g -Wall -Wextra -Iinclude $(SAN) -o $@ $< $(BUILD)/libvtc.a $(LDFLAGS) $(LDLIBS)

# llama.cpp for tests/cli_llama_cpp.sh and `make bench-llama-cpp`: a folder with
# libllama*.so and its ggml backends. Unset, tools/fetch_llama_cpp.sh fetches
# the pinned npm build into build/llama-cpp (the test skips when it cannot).
# examples/llama_cpp_host loads it with dlopen, so nothing here links it.
LLAMA_CPP_DIR ?=
LLAMA_ENV := $(if $(LLAMA_CPP_DIR),VTC_LLAMA_CPP_DIR=$(LLAMA_CPP_DIR))

# `make test`: the layering and ABI checks, every cmocka test binary, the CLI
# contract tests. TESTS_FAST=1 skips slow cases.
test: all $(TEST_BIN) $(BUILD)/tests/test_header_cxx check-layers check-abi check-install
	@VTC=$(BUILD)/vtc BUILD=$(BUILD) $(LLAMA_ENV) sh tests/run_all.sh $(TEST_BIN) $(BUILD)/tests/test_header_cxx
check: test

# A layer includes and calls only the layers below it (docs/design.md).
check-layers: $(LIB_OBJ) $(CLI_OBJ)
	@sh tools/check_layers.sh $(BUILD)/obj
# libvtc.so exports exactly the functions include/vtc.h declares; SONAME set.
check-abi: $(BUILD)/libvtc.so
	@sh tools/check_abi.sh $(BUILD)/libvtc.so include/vtc.h $(SONAME)

bench: all $(BENCH_BIN)
# llama.cpp's prefill at 576/192/128/64 visual rows on a random TinyLlama-1.1B, next to the FLOPs ratio
bench-llama-cpp: all $(BUILD)/bench/decode
	BUILD=$(BUILD) $(LLAMA_ENV) sh bench/llama_cpp.sh

# `make fuzz`: libFuzzer + ASan + UBSan (clang), each target FUZZ_TIME seconds on
# seeds from tests/fixtures; crashes land in build/fuzz/ (see fuzz/run.sh).
FUZZ_TIME ?= 60
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN  := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -Iinclude -I. $(PKG_CFLAGS)
$(BUILD)/fuzz/%: fuzz/%.c $(LIB_SRC) $(DEFAULT_MODEL)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(LIB_SRC) $< -o $@ $(PKG_LIBS) -lm -pthread
# the CLI target links the tool itself (its main() left out)
$(BUILD)/fuzz/fuzz_cli: fuzz/fuzz_cli.c $(LIB_SRC) $(CLI_SRCS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -DVTC_CLI_NO_MAIN $(LIB_SRC) $(CLI_SRCS) $< -o $@ $(PKG_LIBS) -lm -pthread
fuzz: $(FUZZ_BIN)
	sh fuzz/run.sh $(FUZZ_TIME) $(FUZZ_BIN)

# `make tsan`: the concurrency test and the library under ThreadSanitizer (clang);
# OpenBLAS/libpng/libjpeg are not instrumented (see the test); FFmpeg's decoding
# threads hand frames over with atomics TSan cannot see, so the intercepted calls
# FFmpeg makes are ignored (tools/tsan.supp).
TSAN_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=thread -fno-omit-frame-pointer $(ARCH) \
               -Iinclude -I. $(PKG_CFLAGS)
$(BUILD)/tsan/test_concurrency: tests/test_concurrency.c $(LIB_SRC) $(DEFAULT_MODEL)
	@mkdir -p $(dir $@)
	clang $(TSAN_CFLAGS) $(LIB_SRC) $< -o $@ $(PKG_LIBS) $(CMOCKA_LIBS) -lm -pthread
# and batch mode's threads in the tool itself (tools/tsan_batch.sh)
$(BUILD)/tsan/vtc: $(LIB_SRC) $(CLI_SRCS) $(DEFAULT_MODEL)
	@mkdir -p $(dir $@)
	clang $(TSAN_CFLAGS) $(LIB_SRC) $(CLI_SRCS) -o $@ $(PKG_LIBS) -lm -pthread
TSAN_RUN := TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(abspath tools/tsan.supp)"
tsan: $(BUILD)/tsan/test_concurrency $(BUILD)/tsan/vtc
	$(TSAN_RUN) $<
	$(TSAN_RUN) sh tools/tsan_batch.sh $(BUILD)/tsan/vtc

# `make quality`: the quality table (README "Quality"): 300 held-out scenes of
# tools/quality_data.py through `vtc eval` with every method at 192/128/64/32
# tokens and the in-decoder methods, on the trained model in samples/vlm; then
# where each method's 64 kept tokens land on the first 50 scenes (tools/quality_items.py);
# then 100 held-out 8-frame clips, each frame's tokens pooled 3 x 3 (512 per clip),
# with every method, the video ones (dycoke, vq, dycoke-kv) included; then both
# again with the kept tokens at their original RoPE positions (--positions original).
QUALITY_SCENES ?= 300
QUALITY_CLIPS ?= 100
QUALITY_EVAL = $(BUILD)/vtc eval --model samples/vlm --decoder samples/vlm/lm.bin --tokenizer samples/vlm/tokenizer.bin \
	  --keep 192,128,64,32
quality: $(BUILD)/vtc
	/usr/bin/python3 tools/quality_data.py --out $(BUILD)/quality --n $(QUALITY_SCENES) --clips $(QUALITY_CLIPS)
	$(QUALITY_EVAL) --questions $(BUILD)/quality/questions.tsv --decode-methods fastv,todre2 > $(BUILD)/quality/table.txt
	/usr/bin/python3 tools/quality_items.py --data $(BUILD)/quality --vtc $(BUILD)/vtc --model samples/vlm --n 50 \
	  --methods cls,visionzip,divprune,todre,tome,random,uniform,pool >> $(BUILD)/quality/table.txt
	$(QUALITY_EVAL) --questions $(BUILD)/quality/clips.tsv --frames 8 --pool 3 \
	  --decode-methods fastv,todre2,dycoke-kv > $(BUILD)/quality/clips.txt
	$(QUALITY_EVAL) --questions $(BUILD)/quality/questions.tsv --positions original > $(BUILD)/quality/table_original.txt
	$(QUALITY_EVAL) --questions $(BUILD)/quality/clips.tsv --frames 8 --pool 3 --positions original \
	  > $(BUILD)/quality/clips_original.txt
	cat $(BUILD)/quality/table.txt $(BUILD)/quality/clips.txt
	cat $(BUILD)/quality/table_original.txt $(BUILD)/quality/clips_original.txt

# `make quality-precision`: bf16 against f32 (docs/speed.md#bf16) on the same data:
# `vtc eval --precision f32` and `--precision bf16` on the scenes and the clips,
# answer by answer (tools/quality_precision.py); fails when fewer than 99% of the
# answers agree or a method's accuracy moves by more than 0.5 points (the clips
# miss the first: docs/quality.md#bf16-against-f32).
QUALITY_ARGS = --model samples/vlm --decoder samples/vlm/lm.bin --tokenizer samples/vlm/tokenizer.bin --keep 192,128,64,32
quality-precision: $(BUILD)/vtc
	/usr/bin/python3 tools/quality_data.py --out $(BUILD)/quality --n $(QUALITY_SCENES) --clips $(QUALITY_CLIPS)
	st=0; /usr/bin/python3 tools/quality_precision.py --vtc $(BUILD)/vtc --questions $(BUILD)/quality/questions.tsv \
	  -- $(QUALITY_ARGS) --decode-methods fastv,todre2 > $(BUILD)/quality/precision.txt || st=1; \
	/usr/bin/python3 tools/quality_precision.py --vtc $(BUILD)/vtc --questions $(BUILD)/quality/clips.tsv \
	  -- $(QUALITY_ARGS) --frames 8 --pool 3 --decode-methods fastv,todre2,dycoke-kv \
	  > $(BUILD)/quality/precision_clips.txt || st=1; \
	cat $(BUILD)/quality/precision.txt $(BUILD)/quality/precision_clips.txt; exit $$st

# `make setup`: install the Debian packages vtc needs (when missing), build, and run the main job.
setup:
	sh tools/setup.sh

demo: all
	$(BUILD)/vtc compress samples/vtest.mp4 --frames 8 -o $(BUILD)/demo.safetensors --report $(BUILD)/demo.json --viz $(BUILD)/demo.png

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/vtc.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libvtc.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libvtc.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libvtc.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf libvtc.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libvtc.so
	install -m 755 $(BUILD)/vtc $(DESTDIR)$(PREFIX)/bin/
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: vtc\nDescription: visual token compression for vision-language models\nVersion: %s\nRequires.private: %s\nLibs: -L$${libdir} -lvtc\nLibs.private: $(DNNL_LIBS) -lm -pthread\nCflags: -I$${includedir}\n' \
	  '$(PREFIX)' '$(VERSION)' '$(PKGS)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vtc.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/vtc.h $(DESTDIR)$(PREFIX)/lib/libvtc.a $(DESTDIR)$(PREFIX)/lib/libvtc.so \
	      $(DESTDIR)$(PREFIX)/lib/$(SONAME) $(DESTDIR)$(PREFIX)/lib/libvtc.so.$(VERSION) \
	      $(DESTDIR)$(PREFIX)/bin/vtc $(DESTDIR)$(PREFIX)/lib/pkgconfig/vtc.pc

# Installs into a staging folder and builds every example from there with
# pkg-config alone, linked to the shared library, and runs each with no arguments.
check-install: all
	@sh tools/check_install.sh $(BUILD) "$(SAN)"

# `make python`: the library, then `import vtc` from the source tree (the Python
# binding in python/, docs/python.md); tests/cli_python.sh tests it in `make test`.
PYTHON ?= /usr/bin/python3
.PHONY: python
python: $(BUILD)/libvtc.so
	@VTC_LIBRARY=$(abspath $(BUILD))/$(SONAME) PYTHONPATH=python $(PYTHON) -c \
	  "import vtc; print('python: vtc', vtc.version(), 'from', vtc.__file__, 'on', vtc.LIBRARY_PATH)"

clean:
	rm -rf $(BUILD)

help:
	@echo "make [NATIVE=1] [SAN='-fsanitize=address,undefined'] [BUILD=dir]"
	@echo "targets: all test bench bench-llama-cpp fuzz tsan quality quality-precision setup demo install uninstall clean"
	@echo "LLAMA_CPP_DIR=dir: llama.cpp for tests/cli_llama_cpp.sh and bench-llama-cpp (default: fetched from npm)"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
