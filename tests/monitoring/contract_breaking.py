#!/usr/bin/python3
"""Compares two descriptor sets of the bus contract the way `buf breaking`
does (its WIRE_JSON rules, plus names): what a subscriber compiled from the
older set would misread in a message built from the newer one.

  contract_breaking.py BASELINE CURRENT   exit 0: compatible, 1: breaking
                                          (one line per finding), 2: usage
  contract_breaking.py --dump SET         SET as text, the committed baseline
                                          format (sorted, no source info)

SET is a FileDescriptorSet: binary (protoc --descriptor_set_out) or text
(.txtpb). Breaking: a message, enum, field or enum value removed (a field or
value whose number AND name are reserved is allowed to go), a field's number,
name, JSON name, type, message/enum type or cardinality changed, a field moved
into or out of a oneof, an enum value's name changed. Additions are fine.
"""
import sys

from google.protobuf import descriptor_pb2, text_format

FDP = descriptor_pb2.FieldDescriptorProto
TYPE_NAMES = {v: k[len("TYPE_"):].lower() for k, v in FDP.Type.items()}
LABEL_NAMES = {v: k[len("LABEL_"):].lower() for k, v in FDP.Label.items()}


def load(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".txtpb"):
        text_format.Parse(data.decode(), fds)
    else:
        fds.ParseFromString(data)
    return fds


def walk(fds):
    """{full name: DescriptorProto}, {full name: EnumDescriptorProto}."""
    messages, enums = {}, {}

    def add_message(prefix, m):
        name = prefix + "." + m.name
        messages[name] = m
        for n in m.nested_type:
            add_message(name, n)
        for e in m.enum_type:
            enums[name + "." + e.name] = e

    for f in fds.file:
        prefix = "." + f.package if f.package else ""
        for m in f.message_type:
            add_message(prefix, m)
        for e in f.enum_type:
            enums[prefix + "." + e.name] = e
    return messages, enums


def reserved(numbers_ranges, names, number, name, end_inclusive):
    in_range = any(r.start <= number < (r.end + 1 if end_inclusive else r.end)
                   for r in numbers_ranges)
    return in_range and name in names


def json_name(f):
    if f.HasField("json_name"):
        return f.json_name
    parts = f.name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def oneof_of(m, f):
    if not f.HasField("oneof_index") or f.proto3_optional:
        return ""
    return m.oneof_decl[f.oneof_index].name


def compare(old, new):
    findings = []
    old_msgs, old_enums = walk(old)
    new_msgs, new_enums = walk(new)
    for name, om in sorted(old_msgs.items()):
        nm = new_msgs.get(name)
        if nm is None:
            findings.append(f"message {name[1:]}: removed")
            continue
        new_fields = {f.number: f for f in nm.field}
        for of in om.field:
            where = f"field {name[1:]}.{of.name} = {of.number}"
            nf = new_fields.get(of.number)
            if nf is None:
                if not reserved(nm.reserved_range, nm.reserved_name, of.number, of.name, False):
                    findings.append(f"{where}: removed without reserving its number and name")
                continue
            if nf.name != of.name:
                findings.append(f"{where}: renamed to {nf.name}")
            elif json_name(nf) != json_name(of):
                findings.append(f"{where}: JSON name {json_name(of)} -> {json_name(nf)}")
            if nf.type != of.type or nf.type_name != of.type_name:
                findings.append(f"{where}: type {TYPE_NAMES[of.type]} {of.type_name}".rstrip()
                                + f" -> {TYPE_NAMES[nf.type]} {nf.type_name}".rstrip())
            if nf.label != of.label:
                findings.append(f"{where}: {LABEL_NAMES[of.label]} -> {LABEL_NAMES[nf.label]}")
            if oneof_of(nm, nf) != oneof_of(om, of):
                findings.append(f"{where}: oneof '{oneof_of(om, of)}' -> '{oneof_of(nm, nf)}'")
    for name, oe in sorted(old_enums.items()):
        ne = new_enums.get(name)
        if ne is None:
            findings.append(f"enum {name[1:]}: removed")
            continue
        new_values = {v.number: v for v in ne.value}
        for ov in oe.value:
            where = f"enum value {name[1:]}.{ov.name} = {ov.number}"
            nv = new_values.get(ov.number)
            if nv is None:
                if not reserved(ne.reserved_range, ne.reserved_name, ov.number, ov.name, True):
                    findings.append(f"{where}: removed without reserving its number and name")
            elif nv.name != ov.name:
                findings.append(f"{where}: renamed to {nv.name}")
    return findings


def dump(fds):
    out = descriptor_pb2.FileDescriptorSet()
    for f in sorted(fds.file, key=lambda f: f.name):
        c = out.file.add()
        c.CopyFrom(f)
        c.ClearField("source_code_info")
    return text_format.MessageToString(out)


def main(argv):
    if len(argv) == 3 and argv[1] == "--dump":
        sys.stdout.write(dump(load(argv[2])))
        return 0
    if len(argv) != 3 or argv[1].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    try:
        old, new = load(argv[1]), load(argv[2])
    except (OSError, text_format.ParseError, ValueError) as e:
        sys.stderr.write(f"contract_breaking: {e}\n")
        return 2
    findings = compare(old, new)
    for f in findings:
        print(f"BREAKING: {f}")
    if not findings:
        print(f"compatible: {len(walk(new)[0])} messages, {len(walk(new)[1])} enums "
              f"(baseline {len(walk(old)[0])}, {len(walk(old)[1])})")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
