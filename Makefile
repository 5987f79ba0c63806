# ngx_http_velro_module
#
#   make            build the dynamic module: build/ngx_http_velro_module.so
#   make test       install what the tests need, build, run prove -r t
#   make run        install, build, start the demo gateway on 127.0.0.1:8080
#   make bench      wrk: nginx with and without the module, same run (JWT,
#                   then authorization: make bench-authz runs that alone)
#   make fuzz       libFuzzer targets for the JWT and JWKS parsers
#   make test-valgrind   the suite with nginx under valgrind
#
# NGINX_SRC=/path/to/nginx-x.y.z builds against that source tree instead of
# Debian's nginx-dev tree; NGINX_BIN is the nginx that loads the module.

NGINX_SRC ?= /usr/share/nginx/src
NGINX_BIN ?= /usr/sbin/nginx
NGINX_CONFIGURE_ARGS ?= --with-compat --with-debug
CC ?= cc
BUILD ?= $(CURDIR)/build

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
	2>/dev/null || echo ":$(CURDIR)/t/lib/compat")

export TEST_NGINX_BINARY ?= $(NGINX_BIN)
export TEST_NGINX_LOAD_MODULES ?= $(MODULE)
export VELRO_UNIT_BIN ?= $(BUILD)/unit/velro_unit

.PHONY: all module deps test prove run bench bench-authz fuzz unit \
	test-valgrind test-deps clean \
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
# checks conf/prometheus/alerts.yml (t/043-alerts.t)
TEST_PACKAGES := chromium prometheus

test: test-deps module unit prove

test-deps:
	$(MAKE) deps EXTRA_PACKAGES="$(TEST_PACKAGES)"

prove:
	PERL5LIB=$(TEST_PERL5LIB) prove -r t

test-valgrind: test-deps module unit
	PERL5LIB=$(TEST_PERL5LIB) TEST_NGINX_USE_VALGRIND=1 prove -r t

run: deps module
	sh conf/demo/run.sh $(NGINX_BIN) $(MODULE)

# bench: the JWT bench (bench/run.sh), then the authorization tiers
# (bench/authz.pl: L1/L2/L3, Zipf hit rate, invalidation latency, L1
# memory); bench-authz alone, knobs BENCH_* in bench/authz.pl
bench: module
	$(MAKE) deps EXTRA_PACKAGES=wrk
	sh bench/run.sh $(NGINX_BIN) $(MODULE)
	perl bench/authz.pl $(NGINX_BIN) $(MODULE)

bench-authz: module
	$(MAKE) deps EXTRA_PACKAGES=wrk
	perl bench/authz.pl $(NGINX_BIN) $(MODULE)

clean:
	rm -rf $(BUILD) t/servroot

# the same module built with clang, warnings as errors
check-clang: clang-deps
	$(MAKE) module CC=clang BUILD=$(BUILD)/clang

# the fuzzers are built with clang (libFuzzer) too
fuzz-build: clang-deps

clang-deps:
	$(MAKE) deps EXTRA_PACKAGES=clang
