#!/usr/bin/python3
"""hl-monitor: a monitoring tool for the hl-freestyle bus that is not ours.

It uses nothing of hl-freestyle but its installed contract: the .proto files
under /usr/share/hl-freestyle/proto (docs/contract.md), compiled by protoc for
Python, Debian's python3-zmq and python3-protobuf. It subscribes to health. and
failure. (or the prefixes given), decodes each typed body, follows sequence
numbers per (source, topic) and reports gaps, publisher restarts and
duplicates, and prints one line per event: a summary for people, or with
--json the same object `hlctl sub` prints (topic, source, epoch, seq, ts, type,
body, replay), with the body decoded the way hlctl decodes it (every field,
enums as their words).

  hl-monitor.py [--runtime-dir DIR] [--proto-dir DIR | --python-dir DIR]
                [--json] [--count N] [--wait SECONDS] [PREFIX...]

Exit status: 0 done (--count reached, --wait passed without an event, or
interrupted), 1 the bus or the contract could not be used, 2 usage.
"""
import argparse
import base64
import glob
import importlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zmq

REPLAY_MARK = b"lvc"
BUNDLE_MARK = b"lvc-bundle"
MAX_MSG = 1024 * 1024


def die(msg):
    sys.stderr.write(f"hl-monitor: {msg}\n")
    sys.exit(1)


def load_contract(args):
    """The generated modules: {type full name: message class}, and the
    contract version the files describe (the highest hl.ContractVersion)."""
    gen = args.python_dir
    if not gen:
        protos = sorted(glob.glob(os.path.join(args.proto_dir, "*.proto")))
        if not protos:
            die(f"no .proto files in {args.proto_dir} (is hl-freestyle installed? --proto-dir)")
        if not shutil.which("protoc"):
            die("protoc is not installed (Debian: protobuf-compiler), or give --python-dir")
        gen = tempfile.mkdtemp(prefix="hl-monitor-")
        r = subprocess.run(["protoc", "-I", args.proto_dir, f"--python_out={gen}", *protos],
                           capture_output=True, text=True)
        if r.returncode != 0:
            die(f"protoc failed: {r.stderr.strip()}")
    sys.path.insert(0, gen)
    types = {}
    hlbus = None
    for path in sorted(glob.glob(os.path.join(gen, "*_pb2.py"))):
        mod = importlib.import_module(os.path.basename(path)[:-3])
        for name in mod.DESCRIPTOR.message_types_by_name:
            cls = getattr(mod, name)
            types[cls.DESCRIPTOR.full_name] = cls
        if "Envelope" in mod.DESCRIPTOR.message_types_by_name:
            hlbus = mod
    if not hlbus:
        die(f"no hl.Envelope among the generated modules in {gen}")
    version = 0
    if "ContractVersion" in hlbus.DESCRIPTOR.enum_types_by_name:
        version = max(v.number for v in hlbus.DESCRIPTOR.enum_types_by_name["ContractVersion"].values)
    return types, hlbus, version


# --- bodies as hlctl prints them (libhlbus/src/json.c): every field; enums
# as their words (the value's name after its first '_', lower case, '_' as
# '-'); bytes as base64; an unset message as null; non-finite doubles null.
def enum_word(enum_desc, number):
    v = enum_desc.values_by_number.get(number)
    if v is None:
        return number
    name = v.name
    rest = name.split("_", 1)[1] if "_" in name and not name.endswith("_") else name
    return rest.lower().replace("_", "-")


def value_of(field, v):
    from google.protobuf.descriptor import FieldDescriptor as F
    if field.type == F.TYPE_MESSAGE:
        return to_dict(v)
    if field.type == F.TYPE_ENUM:
        return enum_word(field.enum_type, v)
    if field.type == F.TYPE_BYTES:
        return base64.b64encode(v).decode()
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return v if math.isfinite(v) else None
    return v


def to_dict(msg):
    from google.protobuf.descriptor import FieldDescriptor as F
    out = {}
    for field in msg.DESCRIPTOR.fields:
        v = getattr(msg, field.name)
        if field.label == F.LABEL_REPEATED:
            out[field.name] = [value_of(field, x) for x in v]
        elif field.containing_oneof is not None:
            if msg.WhichOneof(field.containing_oneof.name) == field.name:
                out[field.name] = value_of(field, v)
        elif field.type == F.TYPE_MESSAGE and not msg.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = value_of(field, v)
    return out


def safe(s):
    """Text from the bus made safe for a terminal: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(s))


def summary(type_name, body):
    if body is None:
        return "(undecoded body)"
    if type_name == "hl.ServiceHealth":
        return f"{body['service']} {body['state']}" + (f": {body['reason']}" if body["reason"] else "")
    if type_name == "hl.Failure":
        return (f"{body['type']} of {body['target'] or '-'} ({body['severity']}): {body['evidence']}"
                + (f" -> {body['decision']}" if body["decision"] else ""))
    if type_name == "hl.Alert":
        return f"{'active' if body['active'] else 'cleared'} {body['severity']} {body['reason']}: {body['summary']}"
    shown = [f"{k}={v}" for k, v in body.items() if v not in (None, "", 0, False, [], {})]
    return " ".join(shown)


class Tracker:
    """Per (source, topic): the epoch and last seq seen (docs/contract.md)."""

    def __init__(self):
        self.streams = {}
        self.gaps = self.duplicates = 0

    def see(self, source, topic, epoch, seq):
        """'first', 'next', ('gap', n), ('restart', n), 'dup' or 'stale'."""
        key = (source, topic)
        s = self.streams.get(key)
        if s is None:
            self.streams[key] = [epoch, seq]
            return "first", 0
        if epoch < s[0]:
            self.duplicates += 1
            return "stale", 0
        if epoch > s[0]:
            self.streams[key] = [epoch, seq]
            self.gaps += seq - 1
            return "restart", seq - 1
        if seq <= s[1]:
            self.duplicates += 1
            return "dup", 0
        missed = seq - s[1] - 1
        s[1] = seq
        self.gaps += missed
        return ("gap", missed) if missed else ("next", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runtime-dir", default=os.environ.get("HL_RUNTIME_DIR", "/run/hl"))
    ap.add_argument("--proto-dir", default="/usr/share/hl-freestyle/proto",
                    help="the installed contract (default %(default)s)")
    ap.add_argument("--python-dir", help="protoc --python_out of the contract, if already made")
    ap.add_argument("--json", action="store_true", help="hlctl sub's JSON objects")
    ap.add_argument("--count", type=int, default=0, help="exit after N events")
    ap.add_argument("--wait", type=float, default=0, help="exit after SECONDS without an event")
    ap.add_argument("prefixes", nargs="*", default=["health.", "failure."])
    args = ap.parse_args()
    import json

    types, hlbus, version = load_contract(args)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_MSG)
    sock.setsockopt(zmq.LINGER, 0)
    for p in args.prefixes:
        sock.setsockopt(zmq.SUBSCRIBE, p.encode())
    # the daemons' contract versions, for a warning when they are newer
    sock.setsockopt(zmq.SUBSCRIBE, b"daemon.")
    path = os.path.join(args.runtime_dir, "bus/sub")
    endpoint = f"ipc://{path}"
    if not os.path.exists(path):
        die(f"no bus at {endpoint} (is hl-bus running? --runtime-dir)")
    # ZeroMQ connects in the background and would wait in silence forever
    if not os.access(path, os.R_OK | os.W_OK):
        die(f"permission denied on {path}: watching needs group hl-watch")
    sock.connect(endpoint)
    sys.stderr.write(f"hl-monitor: contract v{version}, {len(types)} types, watching "
                     f"{' '.join(args.prefixes) or 'everything'} on {endpoint}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    tracker = Tracker()
    warned = set()
    printed = malformed = 0
    watched = tuple(p.encode() for p in args.prefixes)

    def handle(topic_b, env_b, replay):
        nonlocal printed, malformed
        try:
            topic = topic_b.decode("ascii")
            if not (1 <= len(topic) <= 256) or not all(33 <= ord(c) < 127 for c in topic):
                raise ValueError("bad topic")
            env = hlbus.Envelope.FromString(env_b)
            if not env.source:
                raise ValueError("no source")
        except Exception:
            malformed += 1
            return
        cls = types.get(env.type)
        msg = body = None
        if cls is not None:
            try:
                msg = cls.FromString(env.body)
            except Exception:
                malformed += 1  # a registered type that does not decode
                return
            body = to_dict(msg)
        verdict, missed = tracker.see(env.source, topic, env.epoch, env.seq)
        if verdict in ("dup", "stale"):
            return
        if topic.startswith("daemon.") and msg is not None and hasattr(msg, "contract"):
            if msg.contract > version and env.source not in warned:
                warned.add(env.source)
                sys.stderr.write(f"hl-monitor: {safe(env.source)} speaks contract v{msg.contract}, "
                                 f"newer than these files (v{version}): new fields are not shown\n")
        if not any(topic_b.startswith(p) for p in watched):
            return  # daemon.*, subscribed for the contract versions only
        if missed:
            what = "restarted" if verdict == "restart" else "gap"
            if args.json:
                print(json.dumps({"gap": {"topic": topic, "source": env.source, "epoch": env.epoch,
                                          "missed": missed, "kind": what}}))
            else:
                print(f"{'GAP':<24} {safe(topic)} {safe(env.source)}: {missed} missed ({what})")
        if args.json:
            ev = {"topic": topic, "source": env.source, "epoch": env.epoch, "seq": env.seq,
                  "ts": env.ts_us, "type": env.type, "body": body}
            if replay:
                ev["replay"] = True
            print(json.dumps(ev, ensure_ascii=False))
        else:
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(env.ts_us / 1e6))
            print(f"{ts}.{env.ts_us % 1000000 // 1000:03d}Z {safe(topic):<28} "
                  f"{safe(env.source)}#{env.seq}{' (cached)' if replay else ''} "
                  f"{safe(summary(env.type, body))}")
        sys.stdout.flush()
        printed += 1

    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    try:
        while not args.count or printed < args.count:
            if not poller.poll(args.wait * 1000 if args.wait else None):
                break
            frames = sock.recv_multipart()
            if len(frames) >= 2 and frames[1] == BUNDLE_MARK and len(frames) % 2 == 0:
                for i in range(2, len(frames), 2):
                    handle(frames[i], frames[i + 1], True)
            elif len(frames) == 3 and frames[2] == REPLAY_MARK:
                handle(frames[0], frames[1], True)
            elif len(frames) == 2:
                handle(frames[0], frames[1], False)
            else:
                malformed += 1
    except KeyboardInterrupt:
        pass
    finally:
        sys.stderr.write(f"hl-monitor: printed {printed} gaps {tracker.gaps} duplicates "
                         f"{tracker.duplicates} malformed {malformed}\n")
        sock.close()
        ctx.term()


if __name__ == "__main__":
    main()
