# SPDX-License-Identifier: GPL-2.0-or-later
PROXY_MAIN := host-proxy/main.c
PROXY_SRCS += host-proxy/match.c
PROXY_LIBS :=
UNIT_TESTS += host-proxy/tests/test_match.c
FUZZ_TARGETS += host-proxy/fuzz/fuzz_match.c
FUZZ_SRCS_fuzz_match := host-proxy/match.c shared/netaddr.c
FUZZ_TARGETS += host-proxy/fuzz/fuzz_audit.c
FUZZ_SRCS_fuzz_audit := host-proxy/audit.c host-proxy/token.c shared/log.c \
	shared/secmem.c
FUZZ_TARGETS += host-proxy/fuzz/fuzz_token.c
FUZZ_SRCS_fuzz_token := host-proxy/token.c shared/secmem.c
PROXY_SRCS += host-proxy/store.c
UNIT_TESTS += host-proxy/tests/test_store.c
PROXY_SRCS += host-proxy/conn.c host-proxy/resolve.c host-proxy/audit.c \
	host-proxy/api.c host-proxy/metrics.c host-proxy/daemon.c host-proxy/cli.c host-proxy/token.c
UNIT_TESTS += host-proxy/tests/test_token.c
UNIT_TESTS += host-proxy/tests/test_audit.c
PROXY_SRCS += host-proxy/xport.c host-proxy/front.c
UNIT_TESTS += host-proxy/tests/test_xport.c
PROXY_SRCS += host-proxy/isolate.c
PROXY_LIBS += -lnftnl
UNIT_TESTS += host-proxy/tests/test_isolate.c
PROXY_SRCS += host-proxy/mitm.c
UNIT_TESTS += host-proxy/tests/test_mitm.c
PROXY_SRCS += host-proxy/oauth.c
PROXY_SRCS += host-proxy/tlssess.c
PROXY_SRCS += host-proxy/firstflight.c
UNIT_TESTS += host-proxy/tests/test_firstflight.c
PROXY_SRCS += host-proxy/dnsgiven.c
UNIT_TESTS += host-proxy/tests/test_dnsgiven.c
PROXY_SRCS += host-proxy/upool.c host-proxy/worker.c host-proxy/peers.c
PROXY_LIBS += -pthread
UNIT_TESTS += host-proxy/tests/test_upool.c
UNIT_TESTS += host-proxy/tests/test_peers.c
UNIT_TESTS += host-proxy/tests/test_metrics.c
UNIT_TESTS += host-proxy/tests/test_resolve.c
