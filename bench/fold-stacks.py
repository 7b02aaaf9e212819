#!/usr/bin/env python3
"""Folds `perf script` output into one line per distinct stack, `root;...;leaf COUNT` — the input
format of flame-graph tools (and readable as it is: sort by count). Reads stdin, writes stdout."""
import collections
import sys

stacks = collections.Counter()
frames = []


def flush():
    if frames:
        stacks[";".join(reversed(frames))] += 1
    frames.clear()


for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        flush()
    elif line.startswith((" ", "\t")):
        parts = line.strip().split(" ", 1)
        symbol = parts[1] if len(parts) > 1 else parts[0]
        symbol = symbol.rsplit(" (", 1)[0]  # drop "(/path/to/dso)"
        symbol = symbol.split("+0x", 1)[0]
        frames.append(symbol)
    else:
        flush()
flush()
for stack, count in stacks.most_common():
    print(f"{stack} {count}")
