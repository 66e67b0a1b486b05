"""Evidence images: the annotated PNG of each vision check, kept beside the store in a folder per day.

Owns the image files and their rows in `images`: a file is written and fsynced before the record that names
it commits (so no acknowledged record points at nothing), its SHA-256 is in the record, and retention deletes
the oldest files once their bytes pass the configured limit, never the evidence of an open nonconformity
(the choice is `inspection.vision.select_for_deletion`). A deleted file's row stays, marked deleted by an
audited change. Must not run checks, judge values, or speak SQL outside the store's Tx and reader.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge import auth, storage
from edge.errors import ConflictError, NotFoundError
from edge.store import Store, Tx

if TYPE_CHECKING:
    from inspection.vision import Selection

log = logging.getLogger(__name__)

_LISTING = (
    "SELECT i.uid, i.path, i.bytes, EXISTS (SELECT 1 FROM vision_checks c JOIN nonconformities n "
    "ON n.measurement_uid = c.measurement_uid WHERE c.uid = i.check_uid AND n.status = 'open') AS protected "
    "FROM images i WHERE i.deleted_at IS NULL ORDER BY i.created_at, i.rowid")


@dataclass(frozen=True, slots=True)
class SavedImage:
    uid: str
    path: str  # relative to the image folder: "2026-11-29/<uid>.png"
    sha256: str
    bytes: int
    created_at: str


class ImageStore:
    """The image folder and its byte limit."""

    def __init__(self, folder: str | Path, limit_bytes: int):
        self.folder = Path(folder)
        self.limit_bytes = limit_bytes
        self._kept_bytes: int | None = None  # bytes of kept images as last counted, plus those saved since
        self._over_limit = False

    def save(self, uid: str, png: bytes, sha256: str, at: str) -> SavedImage:
        """Write the PNG durably (file and folder fsynced) under the day of `at`; the record comes after."""
        relative = f"{at[:10]}/{uid}.png"
        target = self.folder / relative
        partial = target.with_suffix(".part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as file:
                file.write(png)
                file.flush()
                os.fsync(file.fileno())
            partial.replace(target)
            _fsync_dir(target.parent)
        except OSError as exc:  # a full disk is the store's StorageFullError (507), with nothing left behind
            partial.unlink(missing_ok=True)
            raise storage.failure(exc, self.folder, what="the image folder") or exc from None
        if self._kept_bytes is not None:
            self._kept_bytes += len(png)
        return SavedImage(uid, relative, sha256, len(png), at)

    def discard(self, saved: SavedImage) -> None:
        """Remove a file whose record was not committed."""
        (self.folder / saved.path).unlink(missing_ok=True)

    def record(self, tx: Tx, saved: SavedImage, check_uid: str, actor: auth.Actor) -> None:
        row = {"uid": saved.uid, "check_uid": check_uid, "path": saved.path, "sha256": saved.sha256,
               "bytes": saved.bytes, "created_at": saved.created_at, "deleted_at": None, "deleted_reason": None}
        # Not queued for HQ: the file stays at the edge, and the check's row (which HQ gets) carries its SHA-256.
        tx.add("images", row, action="image.stored", actor=actor.name, station=actor.station, sync=False)

    def path_of(self, store: Store, uid: str) -> tuple[Path, str]:
        """The file of an image and the SHA-256 its record holds; NotFound or Conflict when it is gone."""
        row = store.query_one("SELECT path, sha256, deleted_at, deleted_reason FROM images WHERE uid = ?", (uid,))
        if row is None:
            raise NotFoundError(f"unknown image {uid[:64]!r}")
        if row["deleted_at"]:
            raise ConflictError(f"image {uid} was deleted at {row['deleted_at']}: {row['deleted_reason']}")
        return self.folder / row["path"], row["sha256"]

    def enforce_retention(self, store: Store, actor: auth.Actor) -> list[str]:
        """Delete the oldest unprotected images until their bytes are within the limit; returns their uids.

        The listing is read only when the running count says the limit may be passed (the first call counts).
        """
        from inspection.vision import select_for_deletion

        if self._kept_bytes is not None and self._kept_bytes <= self.limit_bytes:
            return []

        def job(tx: Tx) -> tuple[list[dict[str, Any]], Selection]:
            rows = tx.all(_LISTING)
            selection = select_for_deletion(((r["uid"], r["bytes"], bool(r["protected"])) for r in rows),
                                            self.limit_bytes)
            chosen = set(selection.delete)
            reason = f"retention: images over {self.limit_bytes} bytes, oldest first"
            for uid in chosen:
                tx.change("images", uid, {"deleted_at": tx.at, "deleted_reason": reason}, action="image.deleted",
                          actor=actor.name, station=actor.station, reason=reason, sync=False)
            return [r for r in rows if r["uid"] in chosen], selection

        deleted, selection = store.write(job)
        self._note(selection.kept_bytes, selection.under_limit)
        for row in deleted:  # after the commit: a crash here leaves a file its record calls deleted, never the reverse
            try:
                (self.folder / row["path"]).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("image %s marked deleted but its file remains: %s", row["uid"], exc)
        return [row["uid"] for row in deleted]


    def _note(self, kept_bytes: int, under_limit: bool) -> None:
        self._kept_bytes = kept_bytes
        if not under_limit and not self._over_limit:
            log.warning("images: %d bytes of evidence of open nonconformities alone exceed the limit of %d bytes",
                        kept_bytes, self.limit_bytes)
        self._over_limit = not under_limit


def image_folder(store_path: Path, configured: str | None) -> Path:
    """The configured folder, or `images/` beside the store; a relative one is from the working directory,
    as the store's own path is."""
    if configured is None:
        return store_path.parent / "images"
    folder = Path(configured)
    return folder if folder.is_absolute() else Path.cwd() / folder


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
