#!/usr/bin/env python3
"""A TLS server on loopback for the TLS policy test: one profile at a time.

  good   TLS 1.2 and 1.3, OpenSSL's suites (what the policy accepts)
  tls11  only TLS 1.1 (at OpenSSL's security level 0, so that it can)
  cbc    only TLS 1.2 with one CBC suite (ECDHE-RSA-AES128-SHA256)

It prints "PORT n" once it listens, then writes one line per connection
to --log: "handshake ok VERSION CIPHER", "handshake failed REASON", then
for HTTP the request line ("request POST /v1/instances") or, for raw
streams (syslog over TLS), "bytes N". HTTP requests of any method get
200 with "{}" and the connection is closed.
"""
import argparse
import socket
import ssl
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", choices=["good", "tls11", "cbc"], required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.profile == "tls11":
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    elif a.profile == "cbc":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-RSA-AES128-SHA256")

    lock = threading.Lock()
    log = open(a.log, "a", buffering=1)

    def say(line):
        with lock:
            log.write(line + "\n")

    def serve(raw):
        raw.settimeout(30)
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            say("handshake failed %s" % (getattr(e, "reason", None) or e))
            raw.close()
            return
        say("handshake ok %s %s" % (conn.version(), conn.cipher()[0]))
        try:
            data = conn.recv(65536)
            if data[:4] in (b"GET ", b"POST", b"PUT ", b"HEAD"):
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        break
                    data += more
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for h in lines[1:]:
                    k, _, v = h.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v.strip())
                while len(body) < length:
                    more = conn.recv(65536)
                    if not more:
                        break
                    body += more
                say("request %s" % " ".join(lines[0].split(" ")[:2]))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
            else:
                n = len(data)
                while data:
                    say("bytes %d" % n)
                    data = conn.recv(65536)
                    n = len(data)
        except (ssl.SSLError, OSError) as e:
            say("closed %s" % e)
        finally:
            conn.close()

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    print("PORT %d" % srv.getsockname()[1], flush=True)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
