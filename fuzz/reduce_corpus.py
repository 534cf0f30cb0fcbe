#!/usr/bin/env python3
"""Shrinks a fuzz corpus to at most MAX_FILES files without losing coverage edges.

`cargo fuzz cmin` keeps every input that adds a libFuzzer *feature* (edge hit-count buckets
included), taking inputs smallest first, which leaves thousands of files. This script reads the
per-input features that libFuzzer's set-cover merge records in its control file (`FT` lines:
every feature of the input; feature >> 3 is the edge), picks a greedy set cover of the *edges*
(largest gain first, then the smaller input), then tops up with the inputs adding the most
remaining features while the budget (MAX_FILES files, MAX_BYTES bytes) allows.

Usage (from fuzz/, after a build; the plain `-merge=1` control file records only each input's
*new* features and will not do):
    target/x86_64-unknown-linux-gnu/release/<t> -set_cover_merge=1 \
        -merge_control_file=/tmp/<t>.ctl "$(mktemp -d)" <full corpus dir>
    python3 reduce_corpus.py /tmp/<t>.ctl corpus/<t> [MAX_FILES]
The output directory is emptied and filled with the chosen inputs (named by SHA-1, like
libFuzzer does).
"""

import hashlib
import os
import shutil
import sys

MAX_BYTES = 1_000_000


def read_control(path):
    with open(path) as f:
        lines = f.read().splitlines()
    n = int(lines[0])
    files = lines[2 : 2 + n]
    ft = {}
    for line in lines[2 + n :]:
        parts = line.split()
        if parts and parts[0] == "FT":
            ft[int(parts[1])] = set(map(int, parts[2:]))
    # inline 8-bit counter features are edge * 8 + hit-count bucket
    edges = {i: {f >> 3 for f in s} for i, s in ft.items()}
    return files, ft, edges


def greedy(candidates, sets, sizes, chosen, budget_files, budget_bytes, used_bytes):
    covered = set().union(*(sets.get(i, set()) for i in chosen)) if chosen else set()
    remaining = {i: sets.get(i, set()) - covered for i in candidates if i not in chosen}
    while len(chosen) < budget_files:
        best = max(
            remaining,
            key=lambda i: (len(remaining[i]), -sizes[i]),
            default=None,
        )
        if best is None or not remaining[best]:
            break
        if used_bytes + sizes[best] > budget_bytes:
            del remaining[best]
            continue
        chosen.append(best)
        used_bytes += sizes[best]
        gain = remaining.pop(best)
        for i in remaining:
            remaining[i] -= gain
    return chosen, used_bytes


def main():
    ctl, out_dir = sys.argv[1], sys.argv[2]
    max_files = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    files, ft, cov = read_control(ctl)
    sizes = {i: os.path.getsize(p) for i, p in enumerate(files)}
    all_edges = set().union(*cov.values()) if cov else set()
    candidates = list(range(len(files)))
    chosen, used = greedy(candidates, cov, sizes, [], max_files, MAX_BYTES, 0)
    edge_files = len(chosen)
    covered_edges = set().union(*(cov.get(i, set()) for i in chosen))
    chosen, used = greedy(candidates, ft, sizes, chosen, max_files, MAX_BYTES, used)
    all_ft = set().union(*ft.values()) if ft else set()
    covered_ft = set().union(*(ft.get(i, set()) for i in chosen))
    contents = [open(files[i], "rb").read() for i in chosen]
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    for data in contents:
        with open(os.path.join(out_dir, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
    print(
        f"{out_dir}: {len(chosen)} files ({edge_files} for the edge cover), {used} bytes; "
        f"edges {len(covered_edges)}/{len(all_edges)}, features {len(covered_ft)}/{len(all_ft)}"
    )


if __name__ == "__main__":
    main()
