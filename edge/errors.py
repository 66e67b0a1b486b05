"""The error tree of the edge's services. Adapters map each kind to one answer (HTTP status, exit code).

    LinesideError
    ├── NotFoundError        no such lot, characteristic, hold, gauge or user
    ├── InvalidInputError    a value, unit, lot number or field that cannot be accepted
    ├── ConflictError        the state forbids it: lot not open, hold already closed, duplicate lot
    ├── CalibrationError     the gauge is past its calibration due date (ISO 9001 7.1.5)
    ├── AuthenticationError  unknown user, wrong PIN, password or token
    └── AuthorityError       the user is known but their role lacks the authority

    StoreError               the store cannot record (raised by `edge.store`; defined here so that callers
    ├── StoreSetupError      can catch it without importing the store)
    ├── StoreClosedError
    └── StorageError         the disk under the store refused a write (I/O error): nothing was recorded
        └── StorageFullError the disk is full
"""


class LinesideError(Exception):
    """Base of every error a service raises; its message names the thing at fault."""


class NotFoundError(LinesideError):
    pass


class InvalidInputError(LinesideError):
    pass


class ConflictError(LinesideError):
    pass


class CalibrationError(LinesideError):
    pass


class AuthenticationError(LinesideError):
    pass


class AuthorityError(LinesideError):
    pass


class StoreError(Exception):
    """The store cannot record or cannot be opened."""


class StoreSetupError(StoreError):
    """The store cannot be used as it is (durability settings, pending migrations)."""


class StoreClosedError(StoreError):
    """The store is closed."""


class StorageError(StoreError):
    """The disk under the store refused a write: the whole transaction was rolled back, nothing of it recorded,
    and every record acknowledged before is intact. `edge.storage` builds it; the store resumes by itself."""

    code = "storage_error"

    def __init__(self, message: str, *, path: str, free_bytes: int | None):
        super().__init__(message)
        self.path, self.free_bytes = path, free_bytes


class StorageFullError(StorageError):
    """The disk under the store is full (SQLITE_FULL, ENOSPC, a quota)."""

    code = "storage_full"
