#!/usr/bin/env python3
"""A loopback HTTP server for hl-git-sync's token tests: git's smart HTTP
protocol through the real `git http-backend` (CGI), behind HTTP basic auth
whose password must be one of the lines of TOKEN_FILE (re-read on every
request, so the test can rotate it: the new token and the one before, as
a real rotation overlaps). Prints "PORT n" once it listens.
Every request's outcome is appended to LOG ("ok", "denied", "none").

    httpd.py PROJECT_ROOT TOKEN_FILE LOG
"""
import base64
import http.server
import os
import subprocess
import sys

root, token_file, log_path = sys.argv[1:4]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _auth(self):
        with open(token_file) as f:
            want = [t.strip() for t in f if t.strip()]
        got = self.headers.get("Authorization", "")
        outcome = "none"
        if got.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(got[6:]).decode().partition(":")
            except Exception:
                user, pw = "", ""
            outcome = "ok" if pw in want and user else "denied"
        with open(log_path, "a") as f:
            f.write(outcome + "\n")
        if outcome != "ok":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        return True

    def _cgi(self):
        if not self._auth():
            return
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "GIT_PROJECT_ROOT": root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "tester",
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": root,
            "PATH": "/usr/bin:/bin",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             stdout=subprocess.PIPE).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _cgi
    do_POST = _cgi


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("PORT", server.server_address[1], flush=True)
server.serve_forever()
