# velro: libFuzzer targets.
#
#   make fuzz [BUILD=build] [FUZZ_SECONDS=60] [FUZZ_CC=clang]
#   make -f t/fuzz/fuzz.mk fuzz           (standalone, from the top)
#
# Builds $(BUILD)/fuzz/fuzz_jwt, fuzz_jwks, fuzz_authz, fuzz_batch and
# fuzz_json, then
# runs each for FUZZ_SECONDS on a copy of its seed corpus in
# $(BUILD)/fuzz/corpus/ (the committed t/fuzz/corpus/ never grows).  A
# crash, leak, timeout or sanitizer report fails the make; the input is
# left in $(BUILD)/fuzz/artifacts/.  "make fuzz-build" only builds;
# FUZZ_FLAGS adds libFuzzer options (e.g. FUZZ_FLAGS=-jobs=2).
#
#   make fuzz-smoke [FUZZ_SMOKE_SECONDS=12]
#
# The CI form (.ci/run): each target for FUZZ_SMOKE_SECONDS from the
# committed corpus, one after the other; libFuzzer's output goes to
# $(BUILD)/fuzz/smoke-TARGET.log, of which one line of figures is shown,
# or the last 60 lines when the target fails (a crash, leak, timeout or
# sanitizer report; the input is in $(BUILD)/fuzz/artifacts/).

VELRO_FUZZ_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
VELRO_FUZZ_SRC := $(VELRO_FUZZ_DIR)/../../src

_velro_fuzz_goal := $(.DEFAULT_GOAL)

BUILD ?= build
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
FUZZ_SMOKE_SECONDS ?= 12

VELRO_FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
                    -fno-sanitize-recover=all -Wall -Wextra \
                    -I$(VELRO_FUZZ_SRC)
VELRO_FUZZ_LIBS = -lssl -lcrypto -ljansson -lm

VELRO_FUZZ_LIB_SRCS = $(VELRO_FUZZ_SRC)/velro_jwt.c \
                      $(VELRO_FUZZ_SRC)/velro_jwk.c \
                      $(VELRO_FUZZ_SRC)/velro_authz.c \
                      $(VELRO_FUZZ_SRC)/velro_entity.c \
                      $(VELRO_FUZZ_SRC)/velro_batch.c \
                      $(VELRO_FUZZ_SRC)/velro_batch_order.c \
                      $(VELRO_FUZZ_SRC)/velro_batch_response.c \
                      $(VELRO_FUZZ_SRC)/velro_json.c \
                      $(VELRO_FUZZ_SRC)/velro_json_write.c
VELRO_FUZZ_DEPS = $(VELRO_FUZZ_LIB_SRCS) $(VELRO_FUZZ_SRC)/velro_jwt.h \
                  $(VELRO_FUZZ_SRC)/velro_jwk.h \
                  $(VELRO_FUZZ_SRC)/velro_authz.h \
                  $(VELRO_FUZZ_SRC)/velro_batch.h \
                  $(VELRO_FUZZ_SRC)/velro_json.h \
                  $(VELRO_FUZZ_SRC)/velro_entity.h \
                  $(VELRO_FUZZ_DIR)/../unit/agree.h $(VELRO_FUZZ_DIR)/fuzz.mk

VELRO_FUZZ_TARGETS = jwt jwks authz batch json

.PHONY: fuzz fuzz-build fuzz-smoke $(VELRO_FUZZ_TARGETS:%=fuzz-run-%)

fuzz-build: $(VELRO_FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/fuzz_%: $(VELRO_FUZZ_DIR)/fuzz_%.c $(VELRO_FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(VELRO_FUZZ_CFLAGS) -o $@ $< $(VELRO_FUZZ_LIB_SRCS) \
	    $(VELRO_FUZZ_LIBS)

define velro_fuzz_run
	@mkdir -p $(BUILD)/fuzz/corpus/$(1) $(BUILD)/fuzz/artifacts
	cp $(VELRO_FUZZ_DIR)/corpus/$(1)/* $(BUILD)/fuzz/corpus/$(1)/
	$(BUILD)/fuzz/fuzz_$(1) -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=65536 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/artifacts/$(1)- $(FUZZ_FLAGS) \
	    $(BUILD)/fuzz/corpus/$(1)
endef

# libFuzzer's exit status fails the make.  "fuzz" runs the targets one
# after the other in one recipe, so that even under -j two fuzzers never
# share the cores; fuzz-run-jwt, fuzz-run-jwks, fuzz-run-authz,
# fuzz-run-batch and fuzz-run-json run one alone.

fuzz: fuzz-build
	$(call velro_fuzz_run,jwt)
	$(call velro_fuzz_run,jwks)
	$(call velro_fuzz_run,authz)
	$(call velro_fuzz_run,batch)
	$(call velro_fuzz_run,json)

define velro_fuzz_smoke
	@mkdir -p $(BUILD)/fuzz/corpus/$(1) $(BUILD)/fuzz/artifacts
	@cp $(VELRO_FUZZ_DIR)/corpus/$(1)/* $(BUILD)/fuzz/corpus/$(1)/
	@log=$(BUILD)/fuzz/smoke-$(1).log; \
	if $(BUILD)/fuzz/fuzz_$(1) -max_total_time=$(FUZZ_SMOKE_SECONDS) \
	    -max_len=65536 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/artifacts/$(1)- $(FUZZ_FLAGS) \
	    $(BUILD)/fuzz/corpus/$(1) > $$log 2>&1; \
	then \
	    printf 'fuzz-smoke %-6s ok: %s runs, %s edges, %s s\n' $(1) \
	        "$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log)" \
	        "$$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' $$log | tail -1)" \
	        $(FUZZ_SMOKE_SECONDS); \
	else \
	    echo "fuzz-smoke $(1) FAILED ($$log):"; tail -60 $$log; exit 1; \
	fi
endef

fuzz-smoke: fuzz-build
	$(call velro_fuzz_smoke,jwt)
	$(call velro_fuzz_smoke,jwks)
	$(call velro_fuzz_smoke,authz)
	$(call velro_fuzz_smoke,batch)
	$(call velro_fuzz_smoke,json)

fuzz-run-jwt: $(BUILD)/fuzz/fuzz_jwt
	$(call velro_fuzz_run,jwt)

fuzz-run-jwks: $(BUILD)/fuzz/fuzz_jwks
	$(call velro_fuzz_run,jwks)

fuzz-run-authz: $(BUILD)/fuzz/fuzz_authz
	$(call velro_fuzz_run,authz)

fuzz-run-batch: $(BUILD)/fuzz/fuzz_batch
	$(call velro_fuzz_run,batch)

fuzz-run-json: $(BUILD)/fuzz/fuzz_json
	$(call velro_fuzz_run,json)

ifeq ($(firstword $(MAKEFILE_LIST)),$(lastword $(MAKEFILE_LIST)))
.DEFAULT_GOAL := fuzz
else
.DEFAULT_GOAL := $(_velro_fuzz_goal)
endif
