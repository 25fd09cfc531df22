#!/usr/bin/env python3
"""Stricter check of a cloud-init user-data file than `cloud-init schema`
(issue #18 item 2): Debian 12's cloud-init accepts an unknown top-level key
(`userz:`, silently ignored: no user gets created) and a null runcmd item.

  cloud-init-check.py FILE [SCHEMA_JSON]

Refuses: a missing #cloud-config header; top-level keys no cloud-init module
defines (the module list is read from cloud-init's own schema); null or
empty items in any list; runcmd/bootcmd items that are strings (a shell) or
pipe a download into a shell; a sudo rule granting ALL; a user without an SSH
key or with a password login. Exit 0 valid, 1 invalid (each problem printed),
2 usage or unreadable input.
"""
import json
import re
import sys

import yaml

SCHEMA = "/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json"


def known_top_level_keys(schema_path):
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    keys = set()
    defs = schema.get("$defs", {})
    for ref in schema.get("allOf", []):
        name = ref.get("$ref", "").rsplit("/", 1)[-1]
        keys.update(defs.get(name, {}).get("properties", {}).keys())
    return keys


def walk_nulls(node, path, problems):
    if isinstance(node, list):
        for i, item in enumerate(node):
            if item is None or item == "" or item == []:
                problems.append(f"{path}[{i}]: empty or null item")
            else:
                walk_nulls(item, f"{path}[{i}]", problems)
    elif isinstance(node, dict):
        for k, v in node.items():
            walk_nulls(v, f"{path}.{k}" if path else str(k), problems)


DOWNLOAD_TO_SHELL = re.compile(r"(curl|wget)\b.*\|\s*(sudo\s+)?(ba|da|z)?sh\b")


def check(doc, text, known):
    problems = []
    if not text.startswith("#cloud-config"):
        problems.append("first line must be #cloud-config (else cloud-init ignores the file)")
    if not isinstance(doc, dict):
        return problems + ["top level must be a mapping"]
    for k in doc:
        if k not in known:
            problems.append(f"{k}: not a key any cloud-init module reads (ignored at boot)")
    walk_nulls(doc, "", problems)
    for key in ("runcmd", "bootcmd"):
        for i, item in enumerate(doc.get(key) or []):
            if isinstance(item, str):
                problems.append(f"{key}[{i}]: a string runs through a shell; write it as a list")
            flat = " ".join(map(str, item)) if isinstance(item, list) else str(item)
            if DOWNLOAD_TO_SHELL.search(flat):
                problems.append(f"{key}[{i}]: pipes a download into a shell")
    if doc.get("ssh_pwauth") is not False:
        problems.append("ssh_pwauth: must be false (ssh takes keys only)")
    users = doc.get("users") or []
    if not users:
        problems.append("users: no user (hluser, spec 1.1.3)")
    for i, u in enumerate(users):
        if not isinstance(u, dict):
            continue
        rules = u.get("sudo")
        rules = [rules] if isinstance(rules, str) else (rules or [])
        for r in rules:
            if isinstance(r, str) and re.search(r"NOPASSWD\s*:\s*ALL\b|\)\s*ALL\s*$", r):
                problems.append(f"users[{i}].sudo: grants ALL (docs/security.md, 6.1.2)")
        if not u.get("ssh_authorized_keys"):
            problems.append(f"users[{i}]: no ssh_authorized_keys")
        if u.get("lock_passwd") is False or "passwd" in u or "plain_text_passwd" in u:
            problems.append(f"users[{i}]: a password login")
    return problems


def main(argv):
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            text = f.read()
        doc = yaml.safe_load(text)
        known = known_top_level_keys(argv[2] if len(argv) == 3 else SCHEMA)
    except (OSError, yaml.YAMLError, json.JSONDecodeError) as e:
        print(f"cloud-init-check: {e}", file=sys.stderr)
        return 2
    problems = check(doc, text, known)
    for p in problems:
        print(f"{argv[1]}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
