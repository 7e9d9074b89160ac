# SPDX-License-Identifier: GPL-2.0-or-later
# guest-agent: $(BUILD)/slicer-agent (linked with -lnftnl) and `make static`:
# build-static/slicer-agent, fully static glibc, with Debian's libnftnl.a and
# our own shared/mnl.c (Debian ships no libmnl.a).
AGENT_MAIN := guest-agent/main.c
AGENT_SRCS += guest-agent/rules.c guest-agent/agentcfg.c \
	guest-agent/manifest.c guest-agent/fsops.c guest-agent/tlsc.c \
	guest-agent/pclient.c guest-agent/route.c guest-agent/redirector.c \
	guest-agent/agentd.c guest-agent/ca_install.c guest-agent/service.c \
	guest-agent/install.c
AGENT_LIBS += -lnftnl
UNIT_TESTS += guest-agent/tests/test_rules.c \
	guest-agent/tests/test_agentcfg.c guest-agent/tests/test_manifest.c \
	guest-agent/tests/test_ca_install.c guest-agent/tests/test_service.c

# The DNS stub (guest-agent/dns_stub.c) is built in when it is there.
AGENT_DEFS :=
ifneq ($(wildcard guest-agent/dns_stub.c),)
AGENT_SRCS += guest-agent/dns_stub.c
AGENT_DEFS += -DAGENT_HAVE_DNS_STUB
endif
# TLS to the proxy's TLS port and SHA-256 come from mbed TLS (Debian
# libmbedtls-dev: static archives, ~0.6 MB in the static agent; OpenSSL
# would not fit in 2 MiB).  Without it the agent builds, and refuses
# https:// proxy URLs and --ca-sha256 with a clear message.
ifneq ($(wildcard /usr/include/mbedtls/ssl.h),)
AGENT_DEFS += -DAGENT_HAVE_MBEDTLS
AGENT_LIBS += -lmbedtls -lmbedx509 -lmbedcrypto
MBEDTLS_A = $(foreach l,mbedtls mbedx509 mbedcrypto,$(shell $(CC) -print-file-name=lib$(l).a))
endif
$(BUILD)/guest-agent/%.o: ALL_CFLAGS += $(AGENT_DEFS)

AGENT_OBJS := $(AGENT_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/libagent.a: $(AGENT_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/slicer-agent: $(AGENT_MAIN:%.c=$(BUILD)/%.o) $(BUILD)/libagent.a \
		$(BUILD)/libshared.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(AGENT_LIBS)

all: $(BUILD)/slicer-agent

# ---- make static ----
# Objects of their own (no sanitizer flags), libshared as an archive so only
# what the agent uses is linked.  --fatal-warnings turns glibc's "Using
# 'getaddrinfo' in statically linked applications..." into an error: the
# agent must make no NSS call.  The stripped binary must stay under 2 MiB.
STATIC_DIR := build-static
STATIC_CFLAGS := $(filter-out -fsanitize=% -fno-sanitize-recover=all,$(ALL_CFLAGS))
NFTNL_A ?= $(shell $(CC) -print-file-name=libnftnl.a)
STATIC_MAX_BYTES := 2097152
STATIC_AGENT_OBJS := $(AGENT_MAIN:%.c=$(STATIC_DIR)/%.o) \
	$(AGENT_SRCS:%.c=$(STATIC_DIR)/%.o)
STATIC_SHARED_OBJS := $(SHARED_SRCS:%.c=$(STATIC_DIR)/%.o)
$(STATIC_DIR)/guest-agent/%.o: STATIC_CFLAGS += $(AGENT_DEFS)

$(STATIC_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(STATIC_CFLAGS) -c -o $@ $<

$(STATIC_DIR)/libshared.a: $(STATIC_SHARED_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(STATIC_DIR)/slicer-agent: $(STATIC_AGENT_OBJS) $(STATIC_DIR)/libshared.a
	@$(if $(Q),echo "  LD      $@ (static)")
	$(Q)test -f "$(NFTNL_A)" || { echo "static: no libnftnl.a (apt-get install libnftnl-dev)" >&2; exit 1; }
	$(Q)$(CC) -static -Wl,-z,relro,-z,now -Wl,--fatal-warnings -o $@.debug \
		$(STATIC_AGENT_OBJS) -Wl,--start-group $(STATIC_DIR)/libshared.a \
		$(NFTNL_A) $(MBEDTLS_A) -Wl,--end-group
	$(Q)if nm $@.debug | grep -E ' [TtWw] (getaddrinfo|getpwnam|getpwuid|getgrnam|gethostbyname|getservbyname)$$'; then \
		echo "static: the agent must not call NSS functions" >&2; rm -f $@.debug; exit 1; fi
	$(Q)strip -o $@ $@.debug
	$(Q)s=$$(stat -c %s $@); if [ $$s -ge $(STATIC_MAX_BYTES) ]; then \
		echo "static: $@ is $$s bytes, limit $(STATIC_MAX_BYTES)" >&2; exit 1; fi
	@echo "  static  $@: $$(stat -c %s $@) bytes, $$(file -b $@ | cut -d, -f1-4)"

static: $(STATIC_DIR)/slicer-agent

-include $(wildcard $(STATIC_DIR)/*/*.d)
UNIT_TESTS += guest-agent/tests/test_dns_stub.c guest-agent/tests/test_tlsc.c
