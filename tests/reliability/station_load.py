"""The load generator of tests/reliability/test_load.py: N station screens driven as the browser drives them.

A station screen (ui/templates/station.html, ui/static/lineside.js) never polls on a timer: it keeps one
server-sent-event stream open on /events and, when an event concerns it, fetches its `#work` fragment again
(`hx-trigger="lineside:changed from:body"`; htmx's default queue is "last": one request in flight, at most one
waiting). lineside.js ignores the screen's own actions (`by` is its session's tag) and measurements of other lots.
Each emulated station here does the same, and also:

- records values through the entry form (`POST /lots/{lot}/measurements`, htmx, with the CSRF header and the
  form's one-time `entry` key), taking the next characteristic and the new key from each fragment it gets back;
- has a device beside it that posts a part's values through the JSON API batch path with a bearer token
  (the way a bench PC or a PLC bridge would);
- reloads the full page now and then, which reopens its event stream as a browser does.

Every response is timed on the client. Anything but the expected status is an error, kept with its text.
Must not check the store: the test does that afterwards, from the keys and uids acknowledged here.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PRODUCT, QUANTITY = "BRK-100", 600_000
# characteristic -> (nominal, spread, format, a value outside the limits)
VARIABLES = {"bore-dia": (12.0, 0.003, "{:.3f}", "12.050"), "length": (80.0, 0.02, "{:.2f}", "80.40")}
FAIL_EVERY = 500  # about one value in this many is out of tolerance: nonconformities and holds happen under load
PAGE_EVERY_S = (20.0, 40.0)  # a full page load (a reload, a navigation) per station, uniformly in this range
HTMX = {"HX-Request": "true"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_CHARACTERISTIC = re.compile(r'name="characteristic" value="([^"]+)"')
_ENTRY = re.compile(r'name="entry" value="([^"]+)"')
_LOT = re.compile(r'data-lot="([^"]*)"')
_TAG = re.compile(r'data-tag="([^"]+)"')
_UNANSWERED = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


@dataclass
class Login:
    station: str
    badge: str
    pin: str
    token: str  # the device's bearer token (`lineside token create`)
    session: str | None = None  # a session started beforehand (skips the form sign-in, whose argon2id is slow)


@dataclass
class Figures:
    """What the run saw, in lists the test summarises."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {
        "fragment": [], "reading": [], "batch": [], "page": [], "signin": [], "open_lot": []})
    errors: list[str] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    form_keys: list[tuple[str, str]] = field(default_factory=list)  # (lot, entry key) of each acknowledged value
    batch_uids: list[str] = field(default_factory=list)
    events: int = 0
    overflows: int = 0
    refreshes_skipped: int = 0
    stream_restarts: int = 0
    wal_bytes: list[tuple[float, int]] = field(default_factory=list)
    window_s: float = 0.0
    window_readings: int = 0
    generator_cpu_s: float = 0.0
    server_cpu_s: float = 0.0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class Station:
    """One screen: its cookies, what its `#work` fragment last said, and the tasks that drive it."""

    def __init__(self, url: str, login: Login, figures: Figures, rng: random.Random, rate: float):
        self.login, self.figures, self.rng, self.rate = login, figures, rng, rate
        limits = httpx.Limits(max_connections=6, max_keepalive_connections=6)  # a browser's per-host limit
        self.client = httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(60, read=None))
        self.device_client = httpx.AsyncClient(base_url=url, timeout=60)
        self.csrf = self.tag = self.lot = self.characteristic = self.entry = ""
        self.attribute = False
        self.dirty = asyncio.Event()
        self.stream: asyncio.Task[None] | None = None
        self.lots = 0

    # -- requests --------------------------------------------------------------------------------------------

    async def timed(self, kind: str, call: Callable[[], Awaitable[httpx.Response]], expect: int = 200
                    ) -> httpx.Response | None:
        began = time.perf_counter()
        try:
            try:
                response = await call()
            except _UNANSWERED as exc:
                # A browser sends a request again, once, when a kept-alive connection closes before any answer
                # (the server's keep-alive timeout racing the request); the form's entry key and the devices'
                # keys make that safe for values too.
                self.figures.retries.append(f"{self.login.station} {kind}: {type(exc).__name__}: {exc}")
                response = await call()
        except httpx.HTTPError as exc:
            self.figures.errors.append(f"{self.login.station} {kind}: {type(exc).__name__}: {exc}")
            return None
        self.figures.latencies[kind].append(time.perf_counter() - began)
        if response.status_code != expect:
            self.figures.errors.append(f"{self.login.station} {kind} {response.request.method} "
                                       f"{response.request.url.path}: {response.status_code} {response.text[:300]}")
            return None
        return response

    def seen(self, html: str) -> None:
        """What a fragment or page says: the CSRF token, the lot, and the entry form's next characteristic."""
        for pattern, name in ((_CSRF, "csrf"), (_TAG, "tag"), (_LOT, "lot")):
            if found := pattern.search(html):
                setattr(self, name, found.group(1))
        characteristic, entry = _CHARACTERISTIC.search(html), _ENTRY.search(html)
        self.characteristic = characteristic.group(1) if characteristic else ""
        self.entry = entry.group(1) if entry else ""
        self.attribute = 'name="value" value="pass"' in html

    async def sign_in(self) -> None:
        login = self.login
        self.client.cookies.set("lineside_station", login.station)
        if login.session:
            self.client.cookies.set("lineside_session", login.session)
        else:
            form = await self.timed("signin", lambda: self.client.get("/signin"))
            assert form is not None, self.figures.errors[-1:]
            token = _CSRF.search(form.text)
            assert token, "no sign-in token on /signin"
            data = {"badge": login.badge, "pin": login.pin, "station": login.station, "csrf": token.group(1),
                    "next": ""}
            done = await self.timed("signin", lambda: self.client.post("/signin/badge", data=data), expect=303)
            assert done is not None, self.figures.errors[-1:]
        await self.page()
        assert self.csrf and self.tag, f"{login.station}: the station page has no CSRF token or session tag"

    async def page(self) -> None:
        """A full page load; the browser then opens a new event stream."""
        response = await self.timed("page", lambda: self.client.get("/station"))
        if response is not None:
            self.seen(response.text)
        if self.stream is not None:
            self.stream.cancel()
            self.figures.stream_restarts += 1
        self.stream = asyncio.create_task(self.events())

    async def open_lot(self) -> None:
        self.lots += 1
        data = {"product": PRODUCT, "lot": f"LOAD-{self.login.station}-{self.lots}", "quantity": str(QUANTITY)}
        response = await self.timed("open_lot", lambda: self.client.post(
            "/station/lots", data=data, headers={**HTMX, "X-CSRF-Token": self.csrf}))
        if response is not None:
            self.seen(response.text)

    def value(self) -> str:
        failing = self.rng.randrange(FAIL_EVERY) == 0
        if self.attribute:
            return "fail" if failing else "pass"
        nominal, spread, text, bad = VARIABLES[self.characteristic]
        return bad if failing else text.format(self.rng.gauss(nominal, spread))

    async def record(self) -> None:
        if not self.characteristic:  # no entry form: the plan is complete or no lot is open here
            await self.open_lot()
            return
        lot, key = self.lot, self.entry
        data = {"characteristic": self.characteristic, "value": self.value(), "entry": key, "view": "station",
                "csrf": self.csrf}
        response = await self.timed("reading", lambda: self.client.post(
            f"/lots/{lot}/measurements", data=data, headers={**HTMX, "X-CSRF-Token": self.csrf}))
        if response is not None:
            self.figures.form_keys.append((lot, key))
            self.seen(response.text)

    async def device(self) -> None:
        """A part's two gauge values through the API batch path, as a bench PC or PLC bridge beside the station
        sends them (its own connection)."""
        if not self.lot:
            return
        values = [{"characteristic": name, "key": uuid.uuid4().hex,
                   "value": bad if self.rng.randrange(FAIL_EVERY) == 0 else fmt.format(self.rng.gauss(nominal, sd))}
                  for name, (nominal, sd, fmt, bad) in VARIABLES.items()]
        headers = {"Authorization": f"Bearer {self.login.token}", "X-Lineside-Station": self.login.station}
        response = await self.timed("batch", lambda: self.device_client.post(
            f"/api/v1/lots/{self.lot}/measurements/batch", json={"measurements": values}, headers=headers),
            expect=201)
        if response is not None:
            self.figures.batch_uids.extend(item["measurement"] for item in response.json())

    # -- the live stream and the fragment it asks for ----------------------------------------------------

    async def events(self) -> None:
        try:
            async with self.client.stream("GET", "/events") as response:
                if response.status_code != 200:
                    self.figures.errors.append(f"{self.login.station} events: {response.status_code}")
                    return
                self.dirty.set()  # lineside.js: a stream that opens again refreshes the screen
                buffer = b""
                async for chunk in response.aiter_raw():
                    buffer += chunk
                    *blocks, buffer = buffer.split(b"\n\n")
                    for block in blocks:
                        self.heard(block)
        except httpx.HTTPError as exc:
            self.figures.errors.append(f"{self.login.station} events: {type(exc).__name__}: {exc}")

    def heard(self, block: bytes) -> None:
        """lineside.js `changed()`: this screen's own actions and other lots' measurements change nothing here."""
        lines = block.split(b"\n")
        kind = next((line[7:] for line in lines if line.startswith(b"event: ")), b"")
        if kind not in (b"measurement", b"hold", b"disposition", b"lot", b"overflow"):
            return
        self.figures.events += 1
        self.figures.overflows += kind == b"overflow"
        # the cheap test first: a measurement of another lot does not even need its JSON read
        if kind == b"measurement" and self.lot and f'"lot": {json.dumps(self.lot)}'.encode() not in block:
            self.figures.refreshes_skipped += 1
            return
        data = json.loads(next(line[6:] for line in lines if line.startswith(b"data: ")))
        if data.get("by") and data["by"] == self.tag:
            self.figures.refreshes_skipped += 1
            return
        self.dirty.set()

    async def refresher(self) -> None:
        while True:
            await self.dirty.wait()
            self.dirty.clear()
            path = f"/station?lot={self.lot}" if self.lot else "/station"
            response = await self.timed("fragment", lambda p=path: self.client.get(p, headers=HTMX))  # type: ignore[misc]
            if response is not None:
                self.seen(response.text)

    async def close(self) -> None:
        if self.stream is not None:
            self.stream.cancel()
        await self.client.aclose()
        await self.device_client.aclose()


async def _every(period_s: float, rng: random.Random, action: Callable[[], Awaitable[None]]) -> None:
    """`action` at a steady rate from a random phase; when it falls behind it does not burst to catch up."""
    due = time.perf_counter() + rng.uniform(0, period_s)
    while True:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await action()
        due = max(due + period_s, time.perf_counter())


async def _pages(station: Station) -> None:
    while True:
        await asyncio.sleep(station.rng.uniform(*PAGE_EVERY_S))
        await station.page()


async def _wal(path: Path, figures: Figures, began: float) -> None:
    while True:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        figures.wal_bytes.append((time.perf_counter() - began, size))
        await asyncio.sleep(0.25)


async def run(url: str, logins: list[Login], *, duration_s: float, form_rate: float, device_rate: float,
              wal: Path, server_pid: int, seed: int = 9) -> Figures:
    """Sign every station in, open a lot at each, then drive them for `duration_s`: `form_rate` values/s through
    the screens' forms and `device_rate` values/s through the API batch path, both spread over the stations."""
    figures, rng = Figures(), random.Random(seed)
    stations = [Station(url, login, figures, random.Random(rng.random()), form_rate / len(logins))
                for login in logins]
    signing = asyncio.Semaphore(2)  # argon2id takes 64 MiB and a few hundred ms per sign-in: as a shift starts

    async def start(station: Station) -> None:
        async with signing:
            await station.sign_in()
        await station.open_lot()

    await asyncio.gather(*(start(station) for station in stations))
    tasks: list[asyncio.Task[None]] = []
    began = time.perf_counter()
    cpu, server_cpu, acked = time.process_time(), cpu_s(server_pid), len(figures.form_keys)
    tasks.append(asyncio.create_task(_wal(wal, figures, began)))
    batch_period_s = 2 * len(stations) / device_rate if device_rate else 0.0  # two values a batch
    for station in stations:
        tasks += [asyncio.create_task(_every(1 / station.rate, station.rng, station.record)),
                  asyncio.create_task(station.refresher()), asyncio.create_task(_pages(station))]
        if batch_period_s:
            tasks.append(asyncio.create_task(_every(batch_period_s, station.rng, station.device)))
    await asyncio.sleep(duration_s)
    figures.window_s = time.perf_counter() - began
    figures.window_readings = len(figures.form_keys) - acked + len(figures.batch_uids)
    figures.generator_cpu_s = time.process_time() - cpu
    figures.server_cpu_s = cpu_s(server_pid) - server_cpu
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for station in stations:
        await station.close()
    return figures
