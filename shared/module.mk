# SPDX-License-Identifier: GPL-2.0-or-later
SHARED_SRCS += shared/log.c shared/buf.c shared/ev.c shared/sock.c \
	shared/parse.c shared/secmem.c shared/http1.c shared/netaddr.c \
	shared/privs.c shared/file.c shared/proc.c shared/origdst.c
UNIT_TESTS += shared/tests/test_http1.c shared/tests/test_netaddr.c \
	shared/tests/test_parse.c shared/tests/test_buf.c \
	shared/tests/test_origdst.c
# the host's own addresses made up, and memory that runs out
$(BUILD)/tests/test_netaddr: LDFLAGS_ALL += -Wl,--wrap=getifaddrs \
	-Wl,--wrap=freeifaddrs -Wl,--wrap=realloc
FUZZ_TARGETS += shared/fuzz/fuzz_http1.c
FUZZ_SRCS_fuzz_http1 := shared/http1.c shared/origdst.c shared/netaddr.c
SHARED_SRCS += shared/mnl.c shared/nft.c shared/link.c
UNIT_TESTS += shared/tests/test_mnl.c shared/tests/test_nft.c \
	shared/tests/test_link.c
$(BUILD)/tests/test_nft: PKG_LIBS += -lnftnl
SHARED_SRCS += shared/sni.c
UNIT_TESTS += shared/tests/test_sni.c
FUZZ_TARGETS += shared/fuzz/fuzz_sni.c
FUZZ_SRCS_fuzz_sni := shared/sni.c shared/netaddr.c
SHARED_SRCS += shared/dns.c
SHARED_SRCS += shared/dns.c
UNIT_TESTS += shared/tests/test_dns.c
FUZZ_TARGETS += shared/fuzz/fuzz_dns.c
FUZZ_SRCS_fuzz_dns := shared/dns.c
SHARED_SRCS += shared/relay.c
UNIT_TESTS += shared/tests/test_relay.c
UNIT_TESTS += shared/tests/test_ev.c
SHARED_SRCS += shared/rate.c
UNIT_TESTS += shared/tests/test_rate.c
UNIT_TESTS += shared/tests/test_file.c
UNIT_TESTS += shared/tests/test_sock.c
# someone who may write the socket's directory acts right after each bind
# and rename of sock_unix_listen
$(BUILD)/tests/test_sock: LDFLAGS_ALL += -Wl,--wrap=bind -Wl,--wrap=rename \
	-Wl,--wrap=renameat -Wl,--wrap=renameat2
UNIT_TESTS += shared/tests/test_proc.c
