# SPDX-License-Identifier: GPL-2.0-or-later
PROXY_MAIN := host-proxy/main.c
PROXY_SRCS += host-proxy/match.c
PROXY_LIBS :=
UNIT_TESTS += host-proxy/tests/test_match.c
FUZZ_TARGETS += host-proxy/fuzz/fuzz_match.c
FUZZ_SRCS_fuzz_match := host-proxy/match.c shared/netaddr.c
