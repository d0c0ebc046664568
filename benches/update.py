#!/usr/bin/env python3
"""Update files against the usual delta tools, measured in one run, ratios printed.

On an ext4 pair (a tree and the tree with files changed, added, removed) and a binary with
bytes inserted near its start: the update's size (plain and --compress) against
`zstd --patch-from=OLD` (level 19, --long) and `bsdiff`; the time and peak memory to make
each; and `splitfdstream apply` against `cp` of NEW. Each timing is the median of RUNS
runs (default 3), with `sync` (untimed) before every run that writes files.

    cargo build --release -p splitfdstream-cli && python3 benches/update.py
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SFD = os.path.join(ROOT, "target", "release", "splitfdstream")
RUNS = int(os.environ.get("RUNS", "3"))


def run(argv):
    """Runs argv; returns (seconds, peak RSS in KiB). The child's peak counts from the
    fork, so it is never below this script's own RSS (about 28 MiB): figures at that value
    are a floor, not a measurement."""
    subprocess.run(["sync"], check=True)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(argv)}")
    return elapsed, usage.ru_maxrss


def measure(argv):
    results = [run(argv) for _ in range(RUNS)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def images(work):
    tree = os.path.join(work, "tree")
    for sub in ("etc", "usr/bin"):
        os.makedirs(os.path.join(tree, sub))
    rng = open("/dev/urandom", "rb")
    for i in range(1, 41):
        with open(os.path.join(tree, "usr/bin", f"prog{i}"), "wb") as f:
            f.write(rng.read(i * 4000))
    for i in range(1, 41):
        with open(os.path.join(tree, "etc", f"conf{i}"), "w") as f:
            f.write("\n".join(str(n) for n in range(i * 300)))
    env = dict(os.environ, E2FSPROGS_FAKE_TIME="1700000000")
    uuid = "11111111-2222-3333-4444-555555555555"
    mkfs = ["mke2fs", "-q", "-t", "ext4", "-b", "4096", "-U", uuid, "-E", "root_owner=0:0", "-d", tree]
    subprocess.run(mkfs + [os.path.join(work, "old.ext4"), "16M"], check=True, env=env)
    with open(os.path.join(tree, "usr/bin/prog7"), "wb") as f:
        f.write(rng.read(90000))
    with open(os.path.join(tree, "etc/conf3"), "a") as f:
        f.write("appended\n" * 2000)
    os.remove(os.path.join(tree, "usr/bin/prog12"))
    with open(os.path.join(tree, "usr/bin/newprog"), "wb") as f:
        f.write(rng.read(150000))
    subprocess.run(mkfs + [os.path.join(work, "new.ext4"), "16M"], check=True, env=env)
    old_bin = rng.read(4 << 20)
    with open(os.path.join(work, "old.bin"), "wb") as f:
        f.write(old_bin)
    with open(os.path.join(work, "new.bin"), "wb") as f:
        f.write(old_bin[:4321] + b"inserted bytes" + old_bin[4321:])
    return [("ext4", "old.ext4", "new.ext4"), ("shifted binary", "old.bin", "new.bin")]


def main():
    for tool in ("zstd", "bsdiff", "mke2fs"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (Debian packages zstd, bsdiff, e2fsprogs)")
    if not os.path.exists(SFD):
        raise SystemExit("build first: cargo build --release -p splitfdstream-cli")
    with tempfile.TemporaryDirectory() as work:
        for name, old, new in images(work):
            old, new = os.path.join(work, old), os.path.join(work, new)
            out = lambda n: os.path.join(work, n)
            rows = {
                "ours": (measure([SFD, "-q", "delta", old, new, "-o", out("u")]), out("u")),
                "ours --compress": (measure([SFD, "-q", "delta", old, new, "-o", out("uz"), "--compress"]), out("uz")),
                "zstd --patch-from": (measure(["zstd", "-q", "-f", "-19", "--long=31", f"--patch-from={old}", new, "-o", out("z")]), out("z")),
                "bsdiff": (measure(["bsdiff", old, new, out("b")]), out("b")),
            }
            print(f"\n{name}: NEW {os.path.getsize(new)} bytes", flush=True)
            zstd_size = os.path.getsize(rows["zstd --patch-from"][1])
            bsdiff_size = os.path.getsize(rows["bsdiff"][1])
            zstd_time, zstd_mem = rows["zstd --patch-from"][0]
            for label, ((seconds, rss), path) in rows.items():
                size = os.path.getsize(path)
                print(f"  {label:18} {size:>10} bytes ({size / zstd_size:5.2f}x zstd, {size / bsdiff_size:5.2f}x bsdiff)"
                      f"  make {seconds:7.3f} s ({seconds / zstd_time:5.2f}x zstd)  peak {rss / 1024:8.1f} MiB ({rss / zstd_mem:5.2f}x zstd)", flush=True)
            apply_t, apply_m = measure([SFD, "-q", "apply", out("uz"), "--old", old, "-o", out("n")])
            cp_t, cp_m = measure(["cp", new, out("c")])
            subprocess.run(["cmp", out("n"), new], check=True)
            print(f"  apply {apply_t:.3f} s vs cp {cp_t:.3f} s: {apply_t / cp_t:.2f}x; peak {apply_m / 1024:.1f} MiB vs {cp_m / 1024:.1f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
