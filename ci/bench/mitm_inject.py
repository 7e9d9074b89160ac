# SPDX-License-Identifier: GPL-2.0-or-later
# mitmproxy addon for the bench: add the credential to every request, as
# slicer-proxy does with a secret and squid-bump with request_header_add.
import os

TOKEN = os.environ.get("BENCH_TOKEN", "")


def request(flow):
    flow.request.headers["authorization"] = "Bearer " + TOKEN
