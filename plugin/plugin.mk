# The plugin's build on DPF's Makefile.plugins.mk; run through ./Makefile, which passes DPF_PATH.
NAME = diffhost-bridge
FILES_DSP = src/BridgePlugin.cpp src/Engine.cpp src/Bridge.cpp src/Link.cpp
DPF_TARGET_DIR = bin
DPF_BUILD_DIR = build
# The symbol table stays in the binaries (tests/plugin/test_realtime_rule.py walks run()'s call graph);
# DPF then compiles with -g, and `all` strips only the debug information.
SKIP_STRIPPING = true

include $(DPF_PATH)/Makefile.plugins.mk

BUILD_CXX_FLAGS += -Isrc -std=gnu++17 -pthread
LINK_FLAGS += -pthread

TARGETS = vst3 lv2_dsp clap

# Nothing in bin/ is written again when nothing changed: strip and the ttl generator rewrite their
# files in place, and the tests run `make` at the start of every session, so a host another session
# had running from the same bundle died (SIGBUS) or could read a half-written manifest.
STRIPPED = build/stripped.stamp
LV2_TTL = bin/$(NAME).lv2/manifest.ttl

all: $(TARGETS) $(STRIPPED) $(LV2_TTL)

$(STRIPPED): $(vst3) $(clap) $(lv2_dsp)
	strip --strip-debug $?
	touch $@

# DPF's generate-ttl.sh writes beside DPF itself; run its generator on our own bundle instead.
LV2_TTL_GEN = build/lv2_ttl_generator
$(LV2_TTL_GEN): $(DPF_PATH)/utils/lv2-ttl-generator/lv2_ttl_generator.c
	$(CC) $< -o $@ -ldl
$(LV2_TTL): $(STRIPPED) $(LV2_TTL_GEN)
	cd bin/$(NAME).lv2 && ../../$(LV2_TTL_GEN) ./$(NAME)_dsp.so

.PHONY: all
