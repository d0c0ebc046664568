#!/usr/bin/python3
"""Drives virtnbdbackup's own code for the sparse stream interoperability tests.

Debian's `virtnbdbackup` package ships the module `libvirtnbdbackup.sparsestream` and the
restore loop in `/usr/bin/virtnbdrestore`; this script calls them on files, standing in
for the NBD connection with a file-backed one. It needs Debian's python3 (for the
packaged modules) and `python3-lz4`.

    sparse_peer.py check
    sparse_peer.py write IMAGE EXTENTS STREAM [--compress LEVEL] [--max-request N] [--incremental]
    sparse_peer.py restore STREAM IMAGE [--max-request N]
    sparse_peer.py frames STREAM

`write` writes a stream of IMAGE's extents the way `virtnbdbackup` writes a backup, with
its `writeChunk`/`writeBlock` (one LZ4 frame per NBD request piece when compressing).
EXTENTS is a JSON list of `[start, length, is_data]`. `restore` applies a stream to IMAGE
(created with the virtual size when missing) with virtnbdrestore's `restoreData`. `frames`
prints, as JSON, what its frame reader and trailer reader see.
"""

import argparse
import contextlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from types import SimpleNamespace

from libvirtnbdbackup.common import common as lib
from libvirtnbdbackup.sparsestream import streamer, types


def load_restore():
    """virtnbdrestore is a script, not a module: load it without running main()."""
    loader = importlib.machinery.SourceFileLoader("virtnbdrestore", "/usr/bin/virtnbdrestore")
    spec = importlib.util.spec_from_loader("virtnbdrestore", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class FileNbd:
    """The two calls virtnbdbackup makes on its NBD handle, on a file."""

    def __init__(self, handle):
        self.handle = handle

    def pread(self, length, offset):
        self.handle.seek(offset)
        data = self.handle.read(length)
        assert len(data) == length, "read past the end of the image"
        return data

    def pwrite(self, data, offset):
        self.handle.seek(offset)
        self.handle.write(data)


class FileConnection:
    def __init__(self, handle, max_request):
        self.nbd = FileNbd(handle)
        self.maxRequestSize = max_request


def write(args):
    """The stream-writing part of virtnbdbackup's backupDisk, on a file."""
    stream = streamer.SparseStream(types)
    kinds = types.SparseStreamTypes()
    with open(args.extents, encoding="utf-8") as handle:
        extents = [
            SimpleNamespace(offset=start, length=length, data=bool(is_data))
            for start, length, is_data in json.load(handle)
        ]
    compress = False if args.compress is None else args.compress
    level = "inc" if args.incremental else "full"
    backup_args = SimpleNamespace(
        compress=compress,
        level=level,
        cpt=SimpleNamespace(name="virtnbdbackup.1", parent="virtnbdbackup.0" if args.incremental else False),
    )
    disk = SimpleNamespace(target="vda", format="raw")
    size = os.path.getsize(args.image)
    data_size = sum(extent.length for extent in extents if extent.data)
    with open(args.image, "rb") as image, open(args.stream, "wb") as writer:
        connection = FileConnection(image, args.max_request)
        metadata = stream.dumpMetadata(backup_args, size, data_size, disk)
        stream.writeFrame(writer, kinds.META, 0, len(metadata))
        writer.write(metadata)
        writer.write(kinds.TERM)
        sizes = []
        for extent in extents:
            if extent.data:
                stream.writeFrame(writer, kinds.DATA, extent.offset, extent.length)
                pieces = None
                if extent.length >= connection.maxRequestSize:
                    written, pieces = lib.writeChunk(writer, extent, connection, "stream", compress)
                else:
                    written = lib.writeBlock(writer, extent, connection, "stream", compress)
                writer.write(kinds.TERM)
                if compress is not False:
                    sizes.append({written: pieces} if pieces else written)
            elif level != "inc":
                stream.writeFrame(writer, kinds.ZERO, extent.offset, extent.length)
        stream.writeFrame(writer, kinds.STOP, 0, 0)
        if compress is not False:
            stream.writeCompressionTrailer(writer, sizes)


def restore(args):
    module = load_restore()
    stream = streamer.SparseStream(types)
    with open(args.stream, "rb") as reader:
        _, _, length = stream.readFrame(reader)
        meta = stream.loadMetadata(reader.read(length))
    mode = "r+b" if os.path.exists(args.image) else "w+b"
    with open(args.image, mode) as image:
        if mode == "w+b":
            image.truncate(meta["virtualSize"])
        connection = FileConnection(image, args.max_request)
        restore_args = SimpleNamespace(until=None, noprogress=True)
        # restoreData prints the metadata; keep stdout for results.
        with contextlib.redirect_stdout(sys.stderr):
            module.restoreData(restore_args, stream, args.stream, args.image, connection)


def frames(args):
    """Walks a stream with the module's frame reader, payload lengths from its trailer."""
    stream = streamer.SparseStream(types)
    kinds = types.SparseStreamTypes()
    out = {"frames": []}
    with open(args.stream, "rb") as reader:
        kind, start, length = stream.readFrame(reader)
        assert kind == kinds.META, kind
        meta = stream.loadMetadata(reader.read(length))
        assert reader.read(len(kinds.TERM)) == kinds.TERM
        out["metadata"] = meta
        trailer = None
        if lib.isCompressed(meta):
            trailer = stream.readCompressionTrailer(reader)
            out["trailer"] = trailer
        index = 0
        while True:
            kind, start, length = stream.readFrame(reader)
            out["frames"].append([kind.decode("ascii"), start, length])
            if kind == kinds.DATA:
                payload = length
                if trailer is not None:
                    entry = trailer[index]
                    payload = entry if isinstance(entry, int) else sum(next(iter(entry.values())))
                reader.seek(payload, os.SEEK_CUR)
                assert reader.read(len(kinds.TERM)) == kinds.TERM
                index += 1
            elif kind == kinds.STOP:
                break
    json.dump(out, sys.stdout)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check")
    write_cmd = commands.add_parser("write")
    write_cmd.add_argument("image")
    write_cmd.add_argument("extents")
    write_cmd.add_argument("stream")
    write_cmd.add_argument("--compress", type=int)
    write_cmd.add_argument("--max-request", type=int, default=32 << 20)
    write_cmd.add_argument("--incremental", action="store_true")
    restore_cmd = commands.add_parser("restore")
    restore_cmd.add_argument("stream")
    restore_cmd.add_argument("image")
    restore_cmd.add_argument("--max-request", type=int, default=32 << 20)
    frames_cmd = commands.add_parser("frames")
    frames_cmd.add_argument("stream")
    args = parser.parse_args()
    if args.command == "write":
        write(args)
    elif args.command == "restore":
        restore(args)
    elif args.command == "frames":
        frames(args)


if __name__ == "__main__":
    main()
