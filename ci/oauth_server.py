#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""OAuth test server for the bench: a token endpoint and an API behind it.

  POST /oauth/token  grant_type=refresh_token&refresh_token=rt-N&client_id=cid
                     -> {"access_token": "at-N+1", "refresh_token": "rt-N+1",
                         "expires_in": 3600}; the old refresh token dies
  POST /oauth/token  grant_type=client_credentials -> a new pair as above;
                     with client_id=other, another account's pair (oat-N,
                     ort-N), the one above untouched
  GET|POST /api/...  200 echo when "Authorization: Bearer <current access
                     token>", else 401; /api/deny always 401
  POST /admin/expire the current access token stops working (server side)
  POST /admin/refuse refresh requests get 400 from now on
  POST /admin/slow=S refresh requests (and token requests to a path with
                     "slow=1") are answered after S seconds (0: at once)
Any answer to a path with "chunked=1" in it comes chunked.
Every request is logged as one JSON line to the log file (argv[4]).
Usage: oauth_server.py ADDR PORT CERT KEY LOG
"""
import json, ssl, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state = {"n": 1, "access": "at-1", "refresh": "rt-1", "refuse": False, "other": 0, "slow": 0}
lock = threading.Lock()
LOG = None


def log(rec):
    with lock:
        LOG.write(json.dumps(rec) + "\n")
        LOG.flush()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if "chunked=1" in self.path:
            # in two chunks, with an extension and a trailer
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            h = len(body) // 2
            self.wfile.write(b"%x;x=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-T: 1\r\n\r\n" %
                             (h, body[:h], len(body) - h, body[h:]))
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        auth = self.headers.get("Authorization")
        log({"method": self.command, "path": self.path, "authorization": auth,
             "body": body.decode(errors="replace")})
        if self.path.startswith("/oauth/token"):
            form = urllib.parse.parse_qs(body.decode())
            if state["slow"] and (form.get("grant_type", [""])[0] == "refresh_token" or
                                  "slow=1" in self.path):
                time.sleep(state["slow"])
            grant = form.get("grant_type", [""])[0]
            with lock:
                if grant == "refresh_token":
                    if state["refuse"] or form.get("refresh_token", [""])[0] != state["refresh"] \
                            or form.get("client_id", [""])[0] != "cid":
                        return self.reply(400, {"error": "invalid_grant"})
                elif grant != "client_credentials":
                    return self.reply(400, {"error": "unsupported_grant_type"})
                elif form.get("client_id", [""])[0] == "other":
                    # another account: its own tokens, the main one's untouched
                    state["other"] += 1
                    return self.reply(200, {"access_token": "oat-%d" % state["other"],
                                            "refresh_token": "ort-%d" % state["other"],
                                            "token_type": "Bearer", "expires_in": 3600})
                state["n"] += 1
                state["access"] = "at-%d" % state["n"]
                state["refresh"] = "rt-%d" % state["n"]
                out = {"access_token": state["access"], "refresh_token": state["refresh"],
                       "token_type": "Bearer", "expires_in": 3600}
            return self.reply(200, out)
        if self.path.startswith("/admin/expire"):
            with lock:
                state["access"] = "expired-%d" % state["n"]
            return self.reply(200, {"ok": True})
        if self.path.startswith("/admin/slow"):
            with lock:
                state["slow"] = float(self.path.partition("=")[2] or 0)
            return self.reply(200, {"ok": True})
        if self.path.startswith("/admin/refuse"):
            with lock:
                state["refuse"] = True
                state["access"] = "expired-%d" % state["n"]
            return self.reply(200, {"ok": True})
        if self.path.startswith("/api/deny"):
            return self.reply(401, {"error": "invalid_token"})
        if self.path.startswith("/api/"):
            with lock:
                ok = auth == "Bearer " + state["access"]
            if not ok:
                return self.reply(401, {"error": "invalid_token"})
            return self.reply(200, {"path": self.path, "body_len": len(body),
                                    "auth_ok": True})
        return self.reply(404, {"error": "not found"})

    do_GET = do_POST = handle_any


if __name__ == "__main__":
    addr, port, cert, key, logpath = sys.argv[1:6]
    LOG = open(logpath, "a")
    srv = ThreadingHTTPServer((addr, int(port)), H)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()
