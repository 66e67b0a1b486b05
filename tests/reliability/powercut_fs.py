"""A FUSE filesystem that loses what was not fsync'd when the power is cut, tearing some of it on the way.

Usage: python powercut_fs.py BACKING MOUNTPOINT [--seed N]   (runs in the foreground until unmounted)

It passes every operation through to the directory BACKING, except file data: what is written (and every change
of a file's size) stays in this process's memory, "dirty", in 4 KiB pages, until that file is fsync'd or
fdatasync'd; only then is it written to the backing file, which is itself os.fsync'd. The backing directory is
therefore what a disk would hold. Metadata operations (create, unlink, rename, mkdir, rmdir, chmod, chown,
utimens) go to the backing directory at once and count as durable: this models data loss, not the loss of a
directory entry (SQLite's WAL mode creates, but never renames, its files).

Control, on standard input, one command a line; each answer is one JSON line on standard output:

    cut     the power fails. First every further operation fails with EIO (an fsync that has not completed
            by then fails, so nothing can be acknowledged after the cut). Then, as a disk with a volatile write
            cache would, a random part of the dirty data reaches the backing files: for each dirty page, chosen
            with the seeded RNG, the whole page, or some of its 512-byte sectors (a torn page), or nothing; a
            pending change of size is applied or not. The rest is dropped. Answers with the counts, and the
            dirty pages of each file.
    stats   the counts of dirty pages and files now, without cutting.

The first line on standard output is {"ready": true} once the kernel has initialised the mount. Unmount with
`fusermount3 -u MOUNTPOINT`; mounting again over the same BACKING is the reboot (no page cache survives). When
standard input closes (the test died), it unmounts itself and exits.

Only this process touches BACKING while mounted. One lock serialises every operation and the cut (libfuse runs
single-threaded here, the control thread is the other one). Must not be used for anything but tests.
"""

from __future__ import annotations

import argparse
import errno
import functools
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import mfusepy as fuse

PAGE = 4096
SECTOR = 512
SECTORS = PAGE // SECTOR
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2  # utimensat(2)'s special tv_nsec values, with tv_sec 0
F = TypeVar("F", bound=Callable[..., Any])


class DirtyFile:
    """A file's writes not yet fsync'd: whole pages as they now read, the size, and how far the backing data
    still counts (a shrink hides backing bytes past `floor` even when the file grows again)."""

    def __init__(self, size: int):
        self.pages: dict[int, bytearray] = {}
        self.size = size
        self.floor = size

    def truncate(self, length: int) -> None:
        if length < self.size:
            self.floor = min(self.floor, length)
            for index in [p for p in self.pages if p * PAGE >= length]:
                del self.pages[index]
            if (page := self.pages.get(length // PAGE)) is not None:
                page[length % PAGE:] = bytes(PAGE - length % PAGE)
        self.size = length


class PowercutFS(fuse.Operations):
    use_ns = True

    def __init__(self, backing: str, seed: int):
        self.backing = os.path.realpath(backing)
        self.rng = random.Random(seed)
        self.dirty: dict[str, DirtyFile] = {}
        self._mutex = threading.Lock()
        self.cut_done = False

    def _real(self, path: str) -> str:
        return os.path.join(self.backing, path.lstrip("/"))

    @staticmethod
    def guarded(method: F) -> F:
        """Serialise with the cut; after it, refuse with EIO as a dead disk would."""

        @functools.wraps(method)
        def wrapper(self: PowercutFS, *args: Any) -> Any:
            with self._mutex:
                if self.cut_done:
                    raise fuse.FuseOSError(errno.EIO)
                try:
                    return method(self, *args)
                except OSError as exc:
                    raise fuse.FuseOSError(exc.errno or errno.EIO) from exc

        return wrapper  # type: ignore[return-value]

    # -- the data path: reads merge the dirty pages over the backing file -------------------------------

    def _backing_page(self, fh: int, index: int, floor: int) -> bytearray:
        data = bytearray(os.pread(fh, PAGE, index * PAGE).ljust(PAGE, b"\0"))
        if floor < (index + 1) * PAGE:
            start = max(0, floor - index * PAGE)
            data[start:] = bytes(PAGE - start)
        return data

    def _page(self, fh: int, dirty: DirtyFile, index: int) -> bytearray:
        page = dirty.pages.get(index)
        return page if page is not None else self._backing_page(fh, index, dirty.floor)

    def _dirty(self, path: str, fh: int) -> DirtyFile:
        if path not in self.dirty:
            self.dirty[path] = DirtyFile(os.fstat(fh).st_size)
        return self.dirty[path]

    @guarded
    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        dirty = self.dirty.get(path)
        if dirty is None:
            return os.pread(fh, size, offset)
        end = min(offset + size, dirty.size)
        out = bytearray()
        for index in range(offset // PAGE, (end + PAGE - 1) // PAGE):
            out += self._page(fh, dirty, index)
        start = offset - (offset // PAGE) * PAGE
        return bytes(out[start:start + max(0, end - offset)])

    @guarded
    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        dirty = self._dirty(path, fh)
        position = offset
        while position < offset + len(data):
            index, within = divmod(position, PAGE)
            page = self._page(fh, dirty, index)
            take = min(PAGE - within, offset + len(data) - position)
            page[within:within + take] = data[position - offset:position - offset + take]
            dirty.pages[index] = page
            position += take
        dirty.size = max(dirty.size, offset + len(data))
        return len(data)

    @guarded
    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        descriptor = os.open(self._real(path), os.O_RDONLY)
        try:
            self._dirty(path, descriptor).truncate(length)
        finally:
            os.close(descriptor)
        return 0

    @guarded
    def fsync(self, path: str, datasync: int, fh: int) -> int:
        dirty = self.dirty.pop(path, None)
        if dirty is not None:
            descriptor = os.open(self._real(path), os.O_WRONLY)
            try:
                if dirty.floor < os.fstat(descriptor).st_size:
                    os.ftruncate(descriptor, dirty.floor)
                for index, page in dirty.pages.items():
                    os.pwrite(descriptor, bytes(page[:max(0, min(PAGE, dirty.size - index * PAGE))]), index * PAGE)
                os.ftruncate(descriptor, dirty.size)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        return 0

    # -- the cut ---------------------------------------------------------------------------------------

    def cut(self) -> dict[str, Any]:
        """Fail every later operation, let a random part of the dirty data reach the backing files, drop the rest."""
        with self._mutex:
            self.cut_done = True
            counts: dict[str, Any] = {"files": len(self.dirty), "dirty_pages": 0, "whole_pages": 0, "torn_pages": 0,
                                      "torn_sectors": 0, "dropped_pages": 0, "sizes_applied": 0}
            for path, dirty in self.dirty.items():
                self._tear(path, dirty, counts)
            counts["dirty_by_file"] = {path.lstrip("/"): len(dirty.pages) for path, dirty in self.dirty.items()}
            self.dirty.clear()
            return counts

    def _tear(self, path: str, dirty: DirtyFile, counts: dict[str, int]) -> None:
        descriptor = os.open(self._real(path), os.O_WRONLY)
        try:
            if dirty.floor < os.fstat(descriptor).st_size and self.rng.random() < 0.5:
                os.ftruncate(descriptor, dirty.floor)
                counts["sizes_applied"] += 1
            for index, page in dirty.pages.items():
                counts["dirty_pages"] += 1
                fate = self.rng.choice(("whole", "torn", "dropped"))
                sectors = range(SECTORS) if fate == "whole" else (
                    sorted(self.rng.sample(range(SECTORS), self.rng.randint(1, SECTORS - 1))) if fate == "torn" else ())
                counts[f"{fate}_pages"] += 1
                counts["torn_sectors"] += len(sectors) if fate == "torn" else 0
                for sector in sectors:
                    start = index * PAGE + sector * SECTOR
                    if start < dirty.size:
                        chunk = page[sector * SECTOR:(sector + 1) * SECTOR][:dirty.size - start]
                        os.pwrite(descriptor, bytes(chunk), start)
            if dirty.size > os.fstat(descriptor).st_size and self.rng.random() < 0.5:
                os.ftruncate(descriptor, dirty.size)  # the size reached the disk, the data maybe not: zeros
                counts["sizes_applied"] += 1
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def stats(self) -> dict[str, int]:
        with self._mutex:
            return {"files": len(self.dirty), "dirty_pages": sum(len(d.pages) for d in self.dirty.values())}

    # -- passthrough: metadata is durable at once -------------------------------------------------------

    def init_with_config(self, conn_info: Any, config_3: Any) -> None:
        if config_3 is not None:
            config_3.use_ino = 1  # stat's st_ino is the backing file's (SQLite tells files apart by inode)
        print(json.dumps({"ready": True}), flush=True)

    @guarded
    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.lstat(self._real(path))
        attrs = {key: getattr(st, key) for key in ("st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size",
                                                   "st_atime_ns", "st_mtime_ns", "st_ctime_ns")}
        for key in ("st_atime", "st_mtime", "st_ctime"):
            attrs[key] = attrs.pop(f"{key}_ns")
        if (dirty := self.dirty.get(path)) is not None:
            attrs["st_size"] = dirty.size
        attrs["st_blocks"] = (attrs["st_size"] + 511) // 512
        return attrs

    @guarded
    def access(self, path: str, amode: int) -> int:
        if not os.access(self._real(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    @guarded
    def open(self, path: str, flags: int) -> int:
        descriptor = os.open(self._real(path), os.O_RDONLY)  # writes never reach this descriptor: they stay dirty
        if flags & os.O_TRUNC:  # with atomic_o_trunc the kernel sends it here, not as a truncate: dirty too
            self._dirty(path, descriptor).truncate(0)
        return descriptor

    @guarded
    def create(self, path: str, mode: int, flags: int) -> int:
        os.close(os.open(self._real(path), os.O_WRONLY | os.O_CREAT | (flags & os.O_EXCL), mode))
        return os.open(self._real(path), os.O_RDONLY)

    @guarded
    def flush(self, path: str, fh: int) -> int:
        return 0  # close() is not fsync(): the data stays dirty

    @guarded
    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0

    @guarded
    def unlink(self, path: str) -> int:
        os.unlink(self._real(path))
        self.dirty.pop(path, None)
        return 0

    @guarded
    def rename(self, old: str, new: str) -> int:
        os.rename(self._real(old), self._real(new))
        self.dirty.pop(new, None)
        if old in self.dirty:
            self.dirty[new] = self.dirty.pop(old)
        return 0

    @guarded
    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._real(path), mode)
        return 0

    @guarded
    def rmdir(self, path: str) -> int:
        os.rmdir(self._real(path))
        return 0

    @guarded
    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    @guarded
    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._real(path), uid, gid)
        return 0

    @guarded
    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        if times is None:
            os.utime(self._real(path))
            return 0
        st = os.stat(self._real(path))  # mfusepy hands UTIME_NOW and UTIME_OMIT on as nanoseconds
        now = time.time_ns()
        os.utime(self._real(path), ns=tuple(now if ns == UTIME_NOW else old if ns == UTIME_OMIT else ns
                                             for ns, old in zip(times, (st.st_atime_ns, st.st_mtime_ns), strict=True)))
        return 0

    @guarded
    def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int], int]]:
        entries = [(name, os.lstat(os.path.join(self._real(path), name))) for name in (".", "..")]
        entries += [(entry.name, entry.stat(follow_symlinks=False)) for entry in os.scandir(self._real(path))]
        # a dirent with inode 0 is skipped by readdir(3): give the backing inode, as getattr does (use_ino)
        return [(name, {"st_mode": st.st_mode, "st_ino": st.st_ino}, 0) for name, st in entries]

    @guarded
    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self._real(path))
        return {key: getattr(st, key) for key in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                                   "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}


def _control(fs: PowercutFS, mountpoint: str) -> None:
    for line in sys.stdin:
        command = line.strip()
        if command == "cut":
            print(json.dumps({"cut": fs.cut()}), flush=True)
        elif command == "stats":
            print(json.dumps({"stats": fs.stats()}), flush=True)
        elif command:
            print(json.dumps({"error": f"unknown command {command!r}: expected cut or stats"}), flush=True)
    # whoever controlled the power is gone: detach the mount (lazily, files may still be open), which ends the loop
    subprocess.run(["fusermount3", "-u", "-z", mountpoint], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("backing")
    parser.add_argument("mountpoint")
    parser.add_argument("--seed", type=int, default=0, help="seed of the RNG that tears the dirty data at a cut")
    args = parser.parse_args()
    fs = PowercutFS(args.backing, args.seed)
    threading.Thread(target=_control, args=(fs, args.mountpoint), name="control", daemon=True).start()
    fuse.FUSE(fs, args.mountpoint, foreground=True, nothreads=True, auto_unmount=True, fsname="powercut")


if __name__ == "__main__":
    main()
