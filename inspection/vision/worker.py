"""Running checks off the event loop: a thread pool with an awaitable `run_check`.

OpenCV and zxing-cpp release the GIL while they work, so a small pool runs checks in parallel and keeps
the station's event loop answering. The worker owns its pool and nothing else; it must not store
results, keep frames after a check, or import drivers/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from types import TracebackType

import numpy as np

from inspection.vision import check
from inspection.vision.calibration import Calibration
from inspection.vision.result import CheckResult
from inspection.vision.spec import CheckSpec


class VisionWorker:
    def __init__(self, max_workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="vision")

    async def run_check(self, spec: CheckSpec, image: np.ndarray, calibration: Calibration | None = None,
                        now: datetime | None = None, annotated: bool = True) -> CheckResult:
        """`check.run_check` on a pool thread; the same result, never an exception for bad input."""
        job = partial(check.run_check, spec, image, calibration, now, annotated)
        return await asyncio.get_running_loop().run_in_executor(self._pool, job)

    async def run_checks(self, specs: Sequence[CheckSpec], image: np.ndarray,
                         calibration: Calibration | None = None, now: datetime | None = None,
                         annotated: bool = True) -> list[CheckResult]:
        """Every check of one frame, in parallel, results in the order of `specs`."""
        jobs = (self.run_check(spec, image, calibration, now, annotated) for spec in specs)
        return list(await asyncio.gather(*jobs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> VisionWorker:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
