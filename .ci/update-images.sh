#!/usr/bin/env bash
# Update files on real images, built here: two ext4 images made with `mke2fs -d` from a
# tree and from the tree with files changed, added and removed; a binary with bytes
# inserted near its start; a GPT disk image with two partitions, one of them updated.
# Each: delta then apply gives NEW byte for byte (compressed and not); a one-byte change
# of OLD inside a used range is an error naming the range; a truncated or tampered update
# is an error that leaves nothing; the device-side applier gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --release -p splitfdstream-cli
cargo build -q --release -p splitfdstream-adapters --features update --example device_apply
sfd=target/release/splitfdstream
device=target/release/examples/device_apply
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "update images: FAIL: $*" >&2; exit 1; }
passed=0

# check NAME OLD NEW: every property above on one pair.
check() {
  local name=$1 old=$2 new=$3 plain=$4
  local dir="$work/$name"
  mkdir -p "$dir"
  "$sfd" delta "$old" "$new" -o "$dir/update" --quiet
  "$sfd" delta "$old" "$new" -o "$dir/update.zst" --compress=19
  for u in update update.zst; do
    "$sfd" apply "$dir/$u" --old "$old" -o "$dir/out" --quiet
    cmp "$dir/out" "$plain" || fail "$name: $u does not rebuild NEW"
    rm "$dir/out"
  done
  "$device" "$dir/update" "$old" "$dir/device-out"
  cmp "$dir/device-out" "$plain" || fail "$name: the device applier differs"
  # One byte of OLD changed inside the first range the update uses.
  python3 - "$dir/update" "$old" "$dir/wrong-old" <<'PY'
import struct, sys, shutil
update, old, wrong = sys.argv[1:]
data = open(update, "rb").read()
count = struct.unpack_from("<Q", data, 48)[0]
assert count > 0, "no range in the update"
offset, length = struct.unpack_from("<QQ", data, 56)
if "#" in old and not __import__("os").path.exists(old):
    raise SystemExit("partition OLD is handled by the caller")
shutil.copyfile(old, wrong)
with open(wrong, "r+b") as f:
    f.seek(offset + length // 2)
    byte = f.read(1)
    f.seek(offset + length // 2)
    f.write(bytes([byte[0] ^ 0xff]))
PY
  if "$sfd" apply "$dir/update" --old "$dir/wrong-old" -o "$dir/out" 2>"$dir/err"; then
    fail "$name: a changed OLD was applied"
  fi
  grep -q "source range 0" "$dir/err" || fail "$name: the error does not name range 0: $(cat "$dir/err")"
  [ ! -e "$dir/out" ] || fail "$name: output left after a failed apply"
  # Truncated and tampered updates.
  head -c -1 "$dir/update" >"$dir/truncated"
  if "$sfd" apply "$dir/truncated" --old "$old" -o "$dir/out" 2>/dev/null; then fail "$name: truncated update applied"; fi
  cp "$dir/update" "$dir/tampered"
  size=$(stat -c %s "$dir/tampered")
  printf '\x5a' | dd of="$dir/tampered" bs=1 seek=$((size - 1)) conv=notrunc status=none
  if cmp -s "$dir/tampered" "$dir/update"; then printf '\xa5' | dd of="$dir/tampered" bs=1 seek=$((size - 1)) conv=notrunc status=none; fi
  if "$sfd" apply "$dir/tampered" --old "$old" -o "$dir/out" 2>/dev/null; then fail "$name: tampered update applied"; fi
  [ ! -e "$dir/out" ] || fail "$name: output left after a failed apply"
  ls -a "$dir" | grep -q '^\.splitfdstream-' && fail "$name: temporary file left behind"
  echo "update images: $name: NEW $(stat -c %s "$plain") bytes, update $(stat -c %s "$dir/update") bytes, compressed $(stat -c %s "$dir/update.zst") bytes"
  passed=$((passed + 1))
}

# 1. ext4 images from a tree and a changed tree.
tree="$work/tree"
mkdir -p "$tree/etc" "$tree/usr/bin" "$tree/var/log"
for i in $(seq 1 40); do head -c $((i * 3000)) /dev/urandom >"$tree/usr/bin/prog$i"; done
for i in $(seq 1 20); do seq 1 $((i * 200)) >"$tree/etc/conf$i"; done
export E2FSPROGS_FAKE_TIME=1700000000
mke2fs -q -t ext4 -b 4096 -E root_owner=0:0 -U 11111111-2222-3333-4444-555555555555 -d "$tree" "$work/old.ext4" 32M
head -c 50000 /dev/urandom >"$tree/usr/bin/prog7"          # changed
seq 1 5000 >>"$tree/etc/conf3"                              # grown
rm "$tree/usr/bin/prog12" "$tree/etc/conf9"                 # removed
head -c 70000 /dev/urandom >"$tree/usr/bin/newprog"         # added
mke2fs -q -t ext4 -b 4096 -E root_owner=0:0 -U 11111111-2222-3333-4444-555555555555 -d "$tree" "$work/new.ext4" 32M
check ext4 "$work/old.ext4" "$work/new.ext4" "$work/new.ext4"

# 2. A binary with bytes inserted near its start: every later block shifted.
head -c 3000000 /dev/urandom >"$work/old.bin"
{ head -c 1234 "$work/old.bin"; printf 'inserted'; tail -c +1235 "$work/old.bin"; } >"$work/new.bin"
check shifted "$work/old.bin" "$work/new.bin" "$work/new.bin"

# 3. A GPT disk image with two partitions; partition 2 is updated.
gpt_image() {
  truncate -s 16M "$1"
  sgdisk -n 1:2048:+4M -n 2:0:+8M "$1" >/dev/null 2>&1
}
gpt_image "$work/old.img"
gpt_image "$work/new.img"
# Partition 2 starts at sector 2048 + 4 MiB / 512 = 10240.
head -c 8M /dev/urandom >"$work/p2-old"
{ head -c 100000 "$work/p2-old"; head -c 3000 /dev/urandom; tail -c +103001 "$work/p2-old"; } >"$work/p2-new"
dd if="$work/p2-old" of="$work/old.img" bs=512 seek=10240 conv=notrunc status=none
dd if="$work/p2-new" of="$work/new.img" bs=512 seek=10240 conv=notrunc status=none
# The update is made and applied between partitions of the two images; a one-byte
# change of OLD is checked on a copy of the partition, as a file.
"$sfd" delta "$work/old.img#2" "$work/new.img#2" -o "$work/gpt.update" --quiet
"$sfd" apply "$work/gpt.update" --old "$work/old.img#2" -o "$work/gpt.out" --quiet
cmp "$work/gpt.out" "$work/p2-new" || fail "gpt: partition 2 not rebuilt"
"$device" "$work/gpt.update" "$work/old.img#2" "$work/gpt.device"
cmp "$work/gpt.device" "$work/p2-new" || fail "gpt: the device applier differs"
[ "$(stat -c %s "$work/gpt.update")" -lt 200000 ] || fail "gpt: update too large"
check gpt-partition "$work/p2-old" "$work/new.img#2" "$work/p2-new"

echo "update images: $passed passed, 0 failed"
