#!/usr/bin/python3
"""Strict check of the monitoring-plugins output format (the development
guidelines' "Plugin Output" and "Performance data"), for hlctl check:

  plugin_format.py EXIT_CODE < output

The output must be exactly one line 'NAME STATUS - text[ | perfdata]' whose
STATUS is the word of EXIT_CODE (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN),
with no '|' in the text, and perfdata items
'label'=value[UOM];[warn];[crit];[min];[max] separated by single spaces:
a label quoted when it must be (a quote inside doubled), a number value, a
UOM from the guidelines' list, thresholds in the range syntax, numeric
min/max. Prints the parse as JSON (status, text, perfdata) for comparison
with hlctl check --json; exit 1 and the reason on stderr otherwise.
"""
import json
import re
import sys

WORDS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
RANGE = rf"@?(?:~|{NUM})?(?::(?:{NUM})?)?"
UOM = r"(?:s|ms|us|%|B|KB|MB|GB|TB|c)?"
LABEL = r"'(?:[^']|'')+'|[^\s'=]+"
ITEM = re.compile(rf"({LABEL})=({NUM})({UOM});({RANGE})?;({RANGE})?;({NUM})?;({NUM})?")


def fail(why):
    sys.stderr.write(f"plugin_format: {why}\n")
    sys.exit(1)


def number(s):
    v = float(s)
    return int(v) if v == int(v) and "e" not in s.lower() and "." not in s else v


def main():
    code = int(sys.argv[1])
    out = sys.stdin.read()
    if not out.endswith("\n") or out.count("\n") != 1:
        fail(f"not exactly one line: {out!r}")
    line = out[:-1]
    m = re.fullmatch(r"([A-Z][A-Z_-]*) (OK|WARNING|CRITICAL|UNKNOWN) - ([^|]*?)(?: \| (.+))?", line)
    if not m:
        fail(f"not 'NAME STATUS - text | perfdata': {line!r}")
    name, word, text, perf = m.groups()
    if WORDS.get(code) != word:
        fail(f"exit {code} but the line says {word}")
    items = []
    rest = perf or ""
    while rest:
        im = ITEM.match(rest)
        if not im:
            fail(f"bad perfdata item at {rest[:60]!r}")
        label, value, uom, warn, crit, lo, hi = im.groups()
        if label.startswith("'"):
            label = label[1:-1].replace("''", "'")
        item = {"label": label, "value": number(value), "uom": uom}
        if warn:
            item["warn"] = warn
        if crit:
            item["crit"] = crit
        if lo:
            item["min"] = number(lo)
        if hi:
            item["max"] = number(hi)
        items.append(item)
        rest = rest[im.end():]
        if rest and not rest.startswith(" ") or rest.startswith("  "):
            fail(f"items not separated by one space at {rest[:40]!r}")
        rest = rest[1:]
    json.dump({"check": name, "status": word, "code": code, "text": text, "perfdata": items},
              sys.stdout, sort_keys=True)
    print()


main()
