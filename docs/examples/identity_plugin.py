#!/usr/bin/env python3
"""An example identity management plugin for tessera's (and MinIO's)
AssumeRoleWithCustomToken; see docs/API.md, "AssumeRoleWithCustomToken".

tessera POSTs each login's token to the plugin as `POST /PATH?token=TOKEN` (empty body),
with `Authorization: Bearer AUTH` when TESSERA_IDENTITY_PLUGIN_AUTH_TOKEN is set. The plugin
answers:

  200 {"user": "alice", "maxValiditySeconds": 3600, "claims": {"groups": ["data"]}}
        the token is alice's; her session lasts at most 3600 s; the claims become the
        session's ${jwt:groups} ... policy variables and condition keys
  403 {"reason": "unknown token"}
        the token is refused (the login gets AccessDenied with the reason)

This one knows the tokens of a JSON file {"TOKEN": {"user": ..., "maxValiditySeconds": ...,
"claims": {...}}, ...}:

  python3 identity_plugin.py --port 8081 --tokens tokens.json --auth-token SECRET

--misbehave adds tokens that make it fail in the ways tessera must survive (the test suite
uses them): "slow" (answers after 30 s), "garbage" (not JSON), "huge" (a 1 MiB answer),
"status500", "nouser" (200 without a user).
"""
import argparse
import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(tokens, auth, misbehave):
    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, body):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            if auth is not None and self.headers.get("Authorization") != "Bearer " + auth:
                return self.reply(401, {"reason": "bad plugin credentials"})
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            token = query.get("token", [""])[0]
            if misbehave:
                if token == "slow":
                    time.sleep(30)
                if token == "garbage":
                    return self.reply(200, b"{this is not json")
                if token == "huge":
                    return self.reply(200, {"user": "x", "maxValiditySeconds": 900,
                                            "claims": {"pad": "x" * (1 << 20)}})
                if token == "status500":
                    return self.reply(500, {"reason": "broken"})
                if token == "nouser":
                    return self.reply(200, {"maxValiditySeconds": 900})
            answer = tokens.get(token)
            if answer is None:
                return self.reply(403, {"reason": "unknown token"})
            return self.reply(200, answer)

        def log_message(self, fmt, *args):  # quiet: tokens are secrets
            pass

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--tokens", required=True, help="JSON file: token -> answer")
    ap.add_argument("--auth-token", help="require Authorization: Bearer AUTH_TOKEN")
    ap.add_argument("--misbehave", action="store_true", help="add the test suite's failure tokens")
    a = ap.parse_args()
    with open(a.tokens) as f:
        tokens = json.load(f)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port),
                              make_handler(tokens, a.auth_token, a.misbehave))
    print("identity plugin on http://127.0.0.1:%d/" % a.port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
