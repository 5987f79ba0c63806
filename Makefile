# ngx_http_velro_module
#
#   make            build the dynamic module: build/ngx_http_velro_module.so
#   make test       install what the tests need, build, run prove -r t
#   make run        install, build, start the demo gateway on 127.0.0.1:8080
#   make run-smoke  make run as the README shows it, its curl lines
#                   checked, stopped by each signal (CI runs it)
#   make bench      wrk: nginx with and without the module, same run (JWT,
#                   then authorization: make bench-authz runs that alone),
#                   then the invalidation followers (make bench-fleet)
#   make fuzz       the libFuzzer targets (t/fuzz/fuzz.mk)
#   make test-valgrind   the suite with nginx under valgrind
#   make test-busy  the suite beside CPU-bound stress-ng workers
#   make test-asan  the suite with the module built with AddressSanitizer
#                   and UndefinedBehaviorSanitizer (build/asan/)
#   make faults     load while Redis and PostgreSQL are killed, stopped
#                   and restarted and nginx reloaded (bench/faults.pl;
#                   FAULTS_SHORT=1: the short form CI runs)
#   make fleet-faults  two nginx (2 workers each) on a PostgreSQL primary
#                   with a streaming standby and Redis: the subscriber
#                   killed, PostgreSQL restarted, the standby promoted;
#                   wrong allows, invalidation p50/p99, L3 recovery,
#                   LISTEN backends per instance (bench/fleet-faults.pl;
#                   FLEET_SHORT=1: the short form CI runs)
#   make fuzz-smoke every fuzzer for FUZZ_SMOKE_SECONDS (12) each
#
# TESTS=t/021-authz-tiers.t (files or directories) narrows prove, test,
# test-asan and test-valgrind to those suites (default: t).
#
# NGINX_SRC=/path/to/nginx-x.y.z builds against that source tree instead of
# Debian's nginx-dev tree; NGINX_BIN is the nginx that loads the module.

NGINX_SRC ?= /usr/share/nginx/src
NGINX_BIN ?= /usr/sbin/nginx
NGINX_CONFIGURE_ARGS ?= --with-compat --with-debug
CC ?= cc
BUILD ?= $(CURDIR)/build
TESTS ?= t

MODULE := $(BUILD)/ngx_http_velro_module.so
NGX_TREE := $(BUILD)/nginx
SRCS := $(wildcard src/*.c src/*.h) config

DEBIAN_PACKAGES := nginx-core nginx-dev libssl-dev libjansson-dev \
	libhiredis-dev libpq-dev libtest-base-perl libcrypt-jwt-perl \
	libtext-diff-perl libipc-run3-perl libtest-longstring-perl \
	liblist-moreutils-perl curl procps openssl \
	redis-server redis-tools postgresql postgresql-client \
	nodejs

# the real Test::Nginx when installed, else the compatible runner in t/lib
TEST_PERL5LIB := $(CURDIR)/t/lib$(shell perl -MTest::Nginx::Socket -e1 \
	2>/dev/null || echo ":$(CURDIR)/t/lib/compat")$(if $(PERL5LIB),:$(PERL5LIB))

# Test::Nginx's port: one free port chosen per make run (10000-19999, below
# the test backends' 20000-32767), so that suites of two checkouts, or CI
# beside a developer, never fight over Test::Nginx's default 1984; an
# explicit TEST_NGINX_PORT wins
ifeq ($(origin TEST_NGINX_PORT), undefined)
TEST_NGINX_PORT := $(shell perl -MIO::Socket::INET -e 'for (1 .. 200) { \
	my $$p = 10000 + int rand 10000; IO::Socket::INET->new(LocalAddr => \
	"127.0.0.1", LocalPort => $$p, Listen => 1, ReuseAddr => 1) or next; \
	print $$p; last }')
endif
export TEST_NGINX_PORT

export TEST_NGINX_BINARY ?= $(NGINX_BIN)
export TEST_NGINX_LOAD_MODULES ?= $(MODULE)
export VELRO_UNIT_BIN ?= $(BUILD)/unit/velro_unit
export VELRO_DECIDE_BIN ?= $(BUILD)/unit/velro_decide

.PHONY: all module deps test prove run run-smoke bench bench-authz fuzz unit \
	test-valgrind test-busy test-deps test-asan asan-module faults clean \
	fleet-faults \
	bench-fleet \
	check-clang clang-deps

all: module

module: $(MODULE)

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES) $(EXTRA_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends \
	        $$missing >/dev/null; \
	fi

$(NGX_TREE)/objs/Makefile: config
	rm -rf $(NGX_TREE)
	mkdir -p $(BUILD)
	cp -a $(NGINX_SRC) $(NGX_TREE)
	cd $(NGX_TREE) && CC=$(CC) ./configure $(NGINX_CONFIGURE_ARGS) \
	    --add-dynamic-module=$(CURDIR) > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(NGX_TREE)/objs/Makefile $(SRCS)
	$(MAKE) -C $(NGX_TREE) -f objs/Makefile modules
	cp $(NGX_TREE)/objs/ngx_http_velro_module.so $@.tmp
	mv -f $@.tmp $@

-include t/unit/unit.mk
-include t/fuzz/fuzz.mk

# installed for the tests only: Debian's chromium for the batch client's
# headless browser test (t/032-client.t), prometheus for promtool, which
# checks conf/prometheus/alerts.yml (t/043-alerts.t), pgbouncer for the
# L3 pool behind PgBouncer in transaction mode (t/013-pgbouncer.t)
TEST_PACKAGES := chromium prometheus pgbouncer

test: test-deps module unit prove

test-deps:
	$(MAKE) deps EXTRA_PACKAGES="$(TEST_PACKAGES)"

prove:
	PERL5LIB=$(TEST_PERL5LIB) prove -r $(TESTS)

# test-busy: the suite with BUSY_CPUS (2) CPU-bound stress-ng workers
# beside it, as on a loaded CI machine: waits that assume an idle CPU fail
# here first
BUSY_CPUS ?= 2
test-busy: test-deps module unit
	$(MAKE) deps EXTRA_PACKAGES=stress-ng
	stress-ng --cpu $(BUSY_CPUS) --timeout 2h --quiet & st=$$!; \
	PERL5LIB=$(TEST_PERL5LIB) prove -r $(TESTS); rc=$$?; \
	kill $$st; wait $$st 2>/dev/null; exit $$rc

# valgrind: every nginx of the suite under memcheck (the runner restarts it
# for each block); a memory error or a definite leak makes it exit with 99,
# which fails the block.  t/valgrind.suppress covers nginx's own exit-time
# leaks, by their allocating frames only.
VALGRIND_OPTS := --tool=memcheck --leak-check=full --keep-debuginfo=yes \
	--show-possibly-lost=no --num-callers=50 --gen-suppressions=all \
	--error-exitcode=99 --errors-for-leak-kinds=definite \
	--suppressions=$(CURDIR)/t/valgrind.suppress

test-valgrind: test-deps module unit
	$(MAKE) deps EXTRA_PACKAGES=valgrind
	PERL5LIB=$(TEST_PERL5LIB) TEST_NGINX_USE_VALGRIND="$(VALGRIND_OPTS)" \
	    TEST_NGINX_TIMEOUT=$${TEST_NGINX_TIMEOUT:-30} \
	    prove -r $(TESTS)

# test-asan: the module built again in build/asan with gcc's
# -fsanitize=address,undefined, loaded by Debian's nginx with libasan
# preloaded: the nginx-dev tree has headers only, no nginx binary can be
# built from it, so nginx itself is not instrumented (its mallocs are: ASan
# intercepts them).  build/asan/nginx-asan is a wrapper that sets LD_PRELOAD
# for nginx only (not for prove, perl, psql or curl).  (Preloading the
# module too, to keep its symbols for leak stacks after nginx unloads it,
# deadlocks exits in p11-kit's destructor: its frames show as "<unknown
# module>" instead, which t/asan/scan.pl counts as the module's.)  Each
# process reports into
# build/asan/logs/{asan,ubsan}.PID (LeakSanitizer's exit status is turned
# off: the runner would take it for a failed start); after prove,
# t/asan/scan.pl fails the target on any AddressSanitizer error, UBSan
# "runtime error", or leak allocated by the module; nginx's own leaks at
# exit are listed, not failed.  TEST_NGINX_TIMEOUT=10 (blocks that set no
# timeout of their own): a slower nginx, and time for its exit-time leak
# check before the runner kills it.
# ASAN_LEAK_STACKS=1: whole allocation stacks (fast_unwind_on_malloc=0).
# Debian's nginx has no frame pointers, so by default a leak's stack stops
# at ngx_alloc and cannot be attributed (scan.pl lists it as unattributed,
# not failed); the slow unwinder sees through, but makes nginx several
# times slower, too slow for the suites' timeouts on a busy machine.
ASAN_LEAK_STACKS ?=
ASAN_BUILD := $(BUILD)/asan
ASAN_MODULE := $(ASAN_BUILD)/ngx_http_velro_module.so
ASAN_CC_OPT := -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_LD_OPT := -fsanitize=address,undefined
LIBASAN = $(shell $(CC) -print-file-name=libasan.so)
ASAN_ENV = \
	ASAN_OPTIONS=log_path=$(ASAN_BUILD)/logs/asan:detect_leaks=1:detect_odr_violation=0$(if $(ASAN_LEAK_STACKS),:fast_unwind_on_malloc=0:malloc_context_size=20) \
	LSAN_OPTIONS=exitcode=0 \
	UBSAN_OPTIONS=log_path=$(ASAN_BUILD)/logs/ubsan:print_stacktrace=1

asan-module:
	$(MAKE) module BUILD=$(ASAN_BUILD) \
	    NGINX_CONFIGURE_ARGS="$(NGINX_CONFIGURE_ARGS) --with-cc-opt='$(ASAN_CC_OPT)' --with-ld-opt='$(ASAN_LD_OPT)'"
	printf '#!/bin/sh\n# nginx under ASan (make test-asan)\nLD_PRELOAD="%s$${LD_PRELOAD:+ $$LD_PRELOAD}" exec %s "$$@"\n' \
	    '$(LIBASAN)' '$(NGINX_BIN)' > $(ASAN_BUILD)/nginx-asan
	chmod +x $(ASAN_BUILD)/nginx-asan

test-asan: deps unit asan-module
	rm -rf $(ASAN_BUILD)/logs && mkdir -p $(ASAN_BUILD)/logs
	PERL5LIB=$(TEST_PERL5LIB) TEST_NGINX_BINARY=$(ASAN_BUILD)/nginx-asan \
	    TEST_NGINX_LOAD_MODULES=$(ASAN_MODULE) $(ASAN_ENV) \
	    TEST_NGINX_TIMEOUT=$${TEST_NGINX_TIMEOUT:-10} \
	    prove -r $(TESTS); st=$$?; \
	perl t/asan/scan.pl $(ASAN_BUILD)/logs || st=1; exit $$st

# faults: bench/faults.pl (PostgreSQL, Redis and nginx of its own, wrk
# not needed: its clients are Perl); FAULTS_SHORT=1 for the CI form
faults: deps module
	perl bench/faults.pl $(NGINX_BIN) $(MODULE)

# fleet-faults: bench/fleet-faults.pl (two nginx, a primary and its
# streaming standby, Redis, all its own); FLEET_SHORT=1 for the CI form
fleet-faults: deps module
	perl bench/fleet-faults.pl $(NGINX_BIN) $(MODULE)

# run: the demo gateway of the README (conf/demo/run.sh: PostgreSQL, Redis
# and nginx under build/run, tokens and curl lines); Ctrl-C, SIGTERM or
# SIGHUP stops all three
run: deps module
	sh conf/demo/run.sh $(NGINX_BIN) $(MODULE)

# run-smoke: `make run` as the README shows it, stopped each way (Ctrl-C,
# SIGTERM and SIGHUP to make and to the script): every printed curl line
# answers as promised, a repeat comes from L1 or L2, Redis holds the keys,
# nothing is left running (t/smoke/make-run.pl; SMOKE_STOPS narrows)
run-smoke: deps module
	perl t/smoke/make-run.pl $(SMOKE_STOPS)

# bench: the JWT bench (bench/run.sh), then the authorization tiers
# (bench/authz.pl: L1/L2/L3, Zipf hit rate, invalidation latency, L1
# memory), then the invalidation followers (bench/fleet.pl); bench-authz
# alone, knobs BENCH_* in bench/authz.pl
bench: module
	$(MAKE) deps EXTRA_PACKAGES=wrk
	sh bench/run.sh $(NGINX_BIN) $(MODULE)
	perl bench/authz.pl $(NGINX_BIN) $(MODULE)
	perl bench/fleet.pl

bench-authz: module
	$(MAKE) deps EXTRA_PACKAGES=wrk
	perl bench/authz.pl $(NGINX_BIN) $(MODULE)

# bench-fleet: what following invalidations costs PostgreSQL with 1, 10
# and 100 hosts, a LISTEN per host against a cursor over the durable log
# (bench/fleet.pl, bench/inval_fleet.c); knobs BENCH_FLEET_* there
bench-fleet:
	$(MAKE) deps
	perl bench/fleet.pl

clean:
	rm -rf $(BUILD) t/servroot

# the same module built with clang, warnings as errors
check-clang: clang-deps
	$(MAKE) module CC=clang BUILD=$(BUILD)/clang

# the fuzzers are built with clang (libFuzzer) too
fuzz-build: clang-deps

clang-deps:
	$(MAKE) deps EXTRA_PACKAGES=clang
