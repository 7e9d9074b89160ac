# SPDX-License-Identifier: GPL-2.0-or-later
# slicer-proxy / slicer-agent - one non-recursive Makefile.
#
#   make            build both programs (build/slicer-proxy, build/slicer-agent)
#   make test       unit tests (cmocka), ends with "N passed, N failed"
#   make e2e        end-to-end tests in network namespaces (root)
#   make asan       ASan+UBSan build in build-asan/, unit + e2e tests on it
#   make tsan       ThreadSanitizer build in build-tsan/, unit tests and the
#                   e2e scripts of the threaded paths (TSAN_E2E) on it
#                   (make tsan-build: only the build)
#   make fuzz       build libFuzzer targets; RUN=http1 SECS=60 runs one
#   make static     fully static guest agent
#   make bench      benchmark against a local upstream (root)
#   make install    PREFIX=/usr/local DESTDIR= BINDIR=$(PREFIX)/bin

CC ?= cc
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SANITIZE ?=
BUILD ?= build
comma := ,
ifneq ($(SANITIZE),)
# ThreadSanitizer cannot be combined with the others: its own directory
ifneq ($(filter thread,$(subst $(comma), ,$(SANITIZE))),)
BUILD := build-tsan
else
BUILD := build-asan
endif
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKGS := openssl libcares jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wimplicit-fallthrough
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(HARDEN) $(SANFLAGS) \
	-iquote shared -MMD -MP $(PKG_CFLAGS)
LDFLAGS_ALL := -pie -Wl,-z,relro,-z,now $(SANFLAGS) $(LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

all:

# each module.mk appends to these
SHARED_SRCS :=
PROXY_SRCS :=
PROXY_MAIN :=
AGENT_SRCS :=
AGENT_MAIN :=
UNIT_TESTS :=
FUZZ_TARGETS :=

include shared/module.mk
include host-proxy/module.mk
-include guest-agent/module.mk

SHARED_OBJS := $(SHARED_SRCS:%.c=$(BUILD)/%.o)
PROXY_OBJS := $(PROXY_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/host-proxy/%.o: ALL_CFLAGS += -iquote host-proxy
$(BUILD)/guest-agent/%.o: ALL_CFLAGS += -iquote guest-agent

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libshared.a: $(SHARED_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libproxy.a: $(PROXY_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/slicer-proxy: $(PROXY_MAIN:%.c=$(BUILD)/%.o) $(BUILD)/libproxy.a $(BUILD)/libshared.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(PROXY_LIBS)

all: $(BUILD)/slicer-proxy

# unit tests: tests/test_X.c -> $(BUILD)/tests/test_X, linked with the
# program libraries of the directory it lives in
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
TEST_BINS := $(foreach t,$(UNIT_TESTS),$(BUILD)/tests/$(notdir $(basename $(t))))

define unit_test_rule
$(BUILD)/tests/$(notdir $(basename $(1))): $(BUILD)/$(basename $(1)).o $(2)
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(PKG_LIBS) $(3) $$(CMOCKA_LIBS)
endef
$(foreach t,$(filter shared/%,$(UNIT_TESTS)),$(eval $(call unit_test_rule,$(t),$(BUILD)/libshared.a,)))
$(foreach t,$(filter host-proxy/%,$(UNIT_TESTS)),$(eval $(call unit_test_rule,$(t),$(BUILD)/libproxy.a $(BUILD)/libshared.a,$(PROXY_LIBS))))
$(foreach t,$(filter guest-agent/%,$(UNIT_TESTS)),$(eval $(call unit_test_rule,$(t),$(BUILD)/libagent.a $(BUILD)/libshared.a,$(AGENT_LIBS))))

tests: $(TEST_BINS)

test: all $(TEST_BINS)
	$(Q)bash ci/run-unit.sh $(TEST_BINS)

e2e: all
	$(Q)BUILD=$(BUILD) bash ci/run-e2e.sh

asan:
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined all tests
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		bash ci/run-unit.sh $(foreach t,$(TEST_BINS),$(subst $(BUILD)/,build-asan/,$(t)))
	$(Q)ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		BUILD=build-asan bash ci/run-e2e.sh

# ThreadSanitizer: the unit tests of shared/ and host-proxy/ (the guest agent
# has one thread) and the e2e scripts that drive the threaded paths: workers,
# forwarding, tunnels, live policy, the API and the audit log, the resolver,
# interception, secrets, the TLS port, the upstream pool, leaf signing, OAuth,
# bad input on both, address checks, the agent in front, drain and privileges,
# the system trust store, long pipelines and relays under backpressure.
# Where the kernel's mmap randomization is too wide for TSan, the runs go
# under setarch -R.
TSAN_UNIT := $(foreach t,$(filter shared/% host-proxy/%,$(UNIT_TESTS)),build-tsan/tests/$(notdir $(basename $(t))))
TSAN_E2E ?= $(addprefix ci/e2e/,010-basic.sh 020-rules.sh 022-addresses.sh 023-live-policy.sh \
	025-bad-input.sh 027-audit.sh 028-api.sh 042-agent-transparent.sh 050-dns-endpoint.sh \
	052-agent-dns-pin.sh \
	061-privileges.sh 070-intercept-basic.sh 071-secrets.sh 072-intercept-http.sh 073-tls-port.sh \
	074-intercept-bad-input.sh 075-websocket-sse.sh 076-intercept-clients.sh 077-upstream-pool.sh \
	078-leaf-limit.sh 079-workers.sh 080-oauth.sh 081-resolver-cache.sh 083-system-trust.sh \
	082-relay-backpressure.sh 084-pipelining-depth.sh 087-response-cuts.sh 088-plain-in-connect.sh \
	089-peer-limit.sh 090-tunnel-names.sh)
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/ci/tsan.supp
tsan-build:
	$(Q)$(MAKE) --no-print-directory SANITIZE=thread build-tsan/slicer-proxy build-tsan/slicer-agent $(TSAN_UNIT)
tsan: tsan-build
	$(Q)wrap=; if build-tsan/slicer-proxy --help 2>&1 | grep -q 'FATAL: ThreadSanitizer'; then \
		wrap="setarch $$(uname -m) -R"; echo "tsan: running under $$wrap"; fi; \
	$(TSAN_ENV) $$wrap bash ci/run-unit.sh $(TSAN_UNIT) && \
	$(TSAN_ENV) BUILD=build-tsan $$wrap bash ci/run-e2e.sh $(TSAN_E2E)

# libFuzzer targets: <dir>/fuzz/fuzz_X.c -> build-fuzz/fuzz_X
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -iquote shared -iquote host-proxy -iquote guest-agent -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
FUZZ_BINS := $(foreach f,$(FUZZ_TARGETS),build-fuzz/$(notdir $(basename $(f))))
define fuzz_rule
build-fuzz/$(notdir $(basename $(1))): $(1) $(2)
	@mkdir -p build-fuzz
	$$(Q)clang $$(FUZZ_CFLAGS) -o $$@ $$^ $$(PKG_LIBS) $(3)
endef
$(foreach f,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(f),$(FUZZ_SRCS_$(notdir $(basename $(f)))),$(FUZZ_LIBS_$(notdir $(basename $(f)))))))

fuzz: $(FUZZ_BINS)
ifneq ($(RUN),)
	$(Q)bash ci/run-fuzz.sh $(RUN) $(or $(SECS),60)
endif

fuzz-smoke: $(FUZZ_BINS)
	$(Q)bash ci/fuzz-smoke.sh $(or $(SECS),10) $(FUZZ_BINS)

bench: all
	$(Q)bash ci/bench.sh

install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/slicer-proxy $(DESTDIR)$(BINDIR)/slicer-proxy
	$(if $(wildcard $(BUILD)/slicer-agent),install -m 0755 $(BUILD)/slicer-agent $(DESTDIR)$(BINDIR)/slicer-agent)

fmt:
	clang-format -i $(wildcard shared/*.[ch] host-proxy/*.[ch] guest-agent/*.[ch])

clean:
	rm -rf build build-asan build-tsan build-fuzz build-static

.PHONY: all test tests e2e asan tsan tsan-build fuzz fuzz-smoke bench install fmt clean static

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
