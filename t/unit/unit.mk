# velro: unit tests of the nginx-independent sources (src/velro_*.c).
#
#   make unit [BUILD=build] [CC=cc]        builds $(BUILD)/unit/velro_unit
#   make unit-run                          builds and runs it (TAP)
#   make unit-valgrind                     runs it under valgrind
#   make -f t/unit/unit.mk unit BUILD=/tmp/vb    standalone, from the top
#
# Paths are relative to this file, so the fragment works when included by
# the top Makefile and when given to make -f from the repository root.

VELRO_UNIT_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
VELRO_UNIT_SRC := $(VELRO_UNIT_DIR)/../../src
VELRO_UNIT_KEYS := $(VELRO_UNIT_DIR)/../keys

_velro_unit_goal := $(.DEFAULT_GOAL)

BUILD ?= build

VELRO_UNIT_CFLAGS = -Wall -Wextra -Werror -g -O1 \
                    -I$(VELRO_UNIT_SRC) -I$(VELRO_UNIT_DIR)
VELRO_UNIT_LIBS = -lssl -lcrypto -ljansson -lm

VELRO_UNIT_SRCS = $(wildcard $(VELRO_UNIT_SRC)/velro_*.c) \
                  $(VELRO_UNIT_DIR)/main.c \
                  $(VELRO_UNIT_DIR)/util.c \
                  $(VELRO_UNIT_DIR)/test_jwt.c \
                  $(VELRO_UNIT_DIR)/test_jwk.c \
                  $(VELRO_UNIT_DIR)/test_cache.c \
                  $(VELRO_UNIT_DIR)/test_authz.c \
                  $(VELRO_UNIT_DIR)/test_entity.c \
                  $(VELRO_UNIT_DIR)/test_batch.c \
                  $(VELRO_UNIT_DIR)/test_json.c \
                  $(VELRO_UNIT_DIR)/test_metrics.c \
                  $(VELRO_UNIT_DIR)/test_breaker.c

VELRO_UNIT_DEPS = $(VELRO_UNIT_SRCS) \
                  $(wildcard $(VELRO_UNIT_SRC)/velro_*.h) \
                  $(VELRO_UNIT_DIR)/tap.h $(VELRO_UNIT_DIR)/util.h \
                  $(VELRO_UNIT_DIR)/agree.h \
                  $(VELRO_UNIT_DIR)/unit.mk

VELRO_UNIT_BIN = $(BUILD)/unit/velro_unit

# the property test's driver (t/024-authz-property.t)
VELRO_DECIDE_BIN = $(BUILD)/unit/velro_decide
VELRO_DECIDE_SRCS = $(VELRO_UNIT_SRC)/velro_authz.c \
                    $(VELRO_UNIT_SRC)/velro_entity.c \
                    $(VELRO_UNIT_SRC)/velro_json.c \
                    $(VELRO_UNIT_DIR)/decide.c

VALGRIND ?= valgrind

.PHONY: unit unit-run unit-valgrind

unit: $(VELRO_UNIT_BIN) $(VELRO_DECIDE_BIN)

$(VELRO_DECIDE_BIN): $(VELRO_DECIDE_SRCS) $(wildcard $(VELRO_UNIT_SRC)/velro_*.h)
	@mkdir -p $(@D)
	$(CC) $(VELRO_UNIT_CFLAGS) -o $@ $(VELRO_DECIDE_SRCS) $(VELRO_UNIT_LIBS)

$(VELRO_UNIT_BIN): $(VELRO_UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(VELRO_UNIT_CFLAGS) -o $@ $(VELRO_UNIT_SRCS) $(VELRO_UNIT_LIBS)

unit-run: $(VELRO_UNIT_BIN)
	VELRO_KEYS_DIR=$(VELRO_UNIT_KEYS) $(VELRO_UNIT_BIN)

# definite, indirect and possible leaks all fail the run

unit-valgrind: $(VELRO_UNIT_BIN)
	VELRO_KEYS_DIR=$(VELRO_UNIT_KEYS) $(VALGRIND) -q --error-exitcode=1 \
	    --leak-check=full --show-leak-kinds=definite,indirect,possible \
	    --errors-for-leak-kinds=definite,indirect,possible \
	    $(VELRO_UNIT_BIN)

ifeq ($(firstword $(MAKEFILE_LIST)),$(lastword $(MAKEFILE_LIST)))
.DEFAULT_GOAL := unit
else
.DEFAULT_GOAL := $(_velro_unit_goal)
endif
