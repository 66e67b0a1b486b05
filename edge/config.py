"""The line configuration: TOML in, validated models out, every error named by the entry at fault.

Owns the schema of the line configuration and its validation, once, at load. Must not open devices, touch the
store or import pint at module level (`lineside check-config` must start fast).

    ConfigError    carries every problem found, each as "path: message" with ids, not list indices
"""

from __future__ import annotations

import datetime as dt
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

ROLES = ("operator", "inspector", "supervisor", "admin", "auditor")
METHODS = ("gauge", "plc", "vision", "manual", "attribute")
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every error as "entry: message"."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValueError(f"must be a number, not {raw!r}")
    try:
        value = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"must be a number, not {raw!r}") from None
    if not value.is_finite():
        raise ValueError(f"must be a finite number, not {raw!r}")
    return value


Number = Annotated[Decimal, BeforeValidator(_decimal)]


def _unit(raw: Any) -> str:
    from inspection.units import UnitError, check_unit

    if not isinstance(raw, str):
        raise ValueError(f"unit must be text, not {raw!r}")
    try:
        check_unit(raw)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    return raw


Unit = Annotated[str, BeforeValidator(_unit)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(Model):
    id: Identifier
    name: str = ""
    timezone: str = "UTC"


class Line(Model):
    id: Identifier
    name: str = ""


class Station(Model):
    id: Identifier
    name: str = ""
    kind: Literal["operator", "inspection", "supervisor"] = "operator"


class SerialGaugeDevice(Model):
    kind: Literal["serial_gauge"]
    id: Identifier
    station: Identifier
    url: str = Field(min_length=1, description="pyserial URL: /dev/ttyUSB0, socket://host:port, rfc2217://...")
    protocol: Literal["mitutoyo", "sylvac", "mt-sics", "pattern"]
    mode: Literal["polled", "pushed"] = "pushed"
    baudrate: int = Field(default=9600, gt=0)
    timeout_s: float = Field(default=1.0, gt=0)
    pattern: str | None = Field(default=None, description="regular expression for protocol 'pattern'")
    unit: str | None = Field(default=None, description="unit when the frames carry none")


class ModbusTag(Model):
    name: Identifier
    table: Literal["coil", "discrete", "input", "holding"]
    address: int = Field(ge=0, le=65535)
    type: Literal["int16", "uint16", "int32", "uint32", "float32", "float64", "bool", "string"] = "uint16"
    length: int = Field(default=1, ge=1, le=125, description="registers, for type 'string'")
    byte_order: Literal["big", "little"] = "big"
    word_order: Literal["big", "little"] = "big"
    scale: Number = Decimal(1)
    offset: Number = Decimal(0)
    unit: str = ""
    trigger: Literal["rising", "falling"] | None = None


class ModbusPlcDevice(Model):
    kind: Literal["modbus_plc"]
    id: Identifier
    station: Identifier
    transport: Literal["tcp", "rtu"] = "tcp"
    host: str = "127.0.0.1"
    port: int = Field(default=502, ge=1, le=65535)
    serial_url: str | None = None
    baudrate: int = Field(default=19200, gt=0)
    unit_id: int = Field(default=1, ge=0, le=247)
    scan_interval_ms: int = Field(default=100, ge=10)
    timeout_s: float = Field(default=1.0, gt=0)
    tags: list[ModbusTag] = []
    reject_tag: str | None = Field(default=None, description="a coil written true after a part that failed")


class CameraDevice(Model):
    kind: Literal["camera"]
    id: Identifier
    station: Identifier
    source: str = Field(min_length=1, description="'synthetic', a USB index, an RTSP URL, or folder:PATH")
    timeout_s: float = Field(default=5.0, gt=0, description="how long a triggered grab waits for its frame")


Device = Annotated[SerialGaugeDevice | ModbusPlcDevice | CameraDevice, Field(discriminator="kind")]


class Gauge(Model):
    id: Identifier
    type: str = Field(min_length=1, description="caliper, micrometer, indicator, scale, ...")
    resolution: Number
    unit: Unit
    calibration_due: dt.date
    device: Identifier | None = None
    serial_number: str = ""

    @model_validator(mode="after")
    def _positive_resolution(self) -> Gauge:
        if self.resolution <= 0:
            raise ValueError(f"resolution must be positive, not {self.resolution}")
        return self


class AqlSampling(Model):
    aql: Number
    level: Literal["I", "II", "III", "S-1", "S-2", "S-3", "S-4"] = "II"
    edition: Literal["z1.4", "iso2859-1:1999"] = "z1.4"
    reduced_approved: bool = Field(default=False, description="the responsible authority allows reduced inspection "
                                   "when the switching rules' other conditions hold")

    @model_validator(mode="after")
    def _aql_in_the_tables(self) -> AqlSampling:
        from inspection.sampling import SamplingError, aql_column

        try:
            aql_column(self.aql)
        except SamplingError as exc:
            raise ValueError(str(exc)) from None
        return self


class FixedSampling(Model):
    n: int = Field(ge=1)
    ac: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _ac_below_n(self) -> FixedSampling:
        if self.ac >= self.n:
            raise ValueError(f"ac ({self.ac}) must be below n ({self.n})")
        return self


RULE_SETS = {"nelson": ("nelson1", "nelson2", "nelson3", "nelson4", "nelson5", "nelson6", "nelson7", "nelson8"),
             "western_electric": ("we1", "we2", "we3", "we4")}


class SpcSettings(Model):
    """How a characteristic is charted; limits are never set here: they come from an approved baseline."""

    chart: Literal["individuals", "xbar_r"] = "individuals"
    rules: Literal["nelson", "western_electric"] | list[str] = "nelson"
    baseline: int = Field(default=25, ge=3, le=1000, description="points (values or subgroups) of the phase-I "
                          "baseline the limits are computed from")
    subgroup_size: int = Field(default=5, ge=2, le=25, description="values per subgroup, for chart 'xbar_r'")
    open_nonconformity: bool = Field(default=False, description="a run-rule signal also opens a nonconformity")

    @model_validator(mode="after")
    def _known_rules(self) -> SpcSettings:
        known = RULE_SETS["nelson"] + RULE_SETS["western_electric"]
        unknown = [rule for rule in self.rule_names if rule not in known]
        if unknown or not self.rule_names:
            raise ValueError(f"unknown run rule {unknown[0]!r}; known: nelson, western_electric, "
                             f"{', '.join(known)}" if unknown else "rules must name at least one run rule")
        return self

    @property
    def rule_names(self) -> tuple[str, ...]:
        return RULE_SETS[self.rules] if isinstance(self.rules, str) else tuple(self.rules)


class SampleSchedule(Model):
    """When an in-process sample of a characteristic is due at its station, besides the lot's sampling plan."""

    every_parts: int | None = Field(default=None, ge=1, description="a sample every N parts made")
    every_minutes: int | None = Field(default=None, ge=1, description="a sample every T minutes")
    first_off: bool = Field(default=False, description="a sample after each set-up or tool change")
    grace: float = Field(default=0.25, ge=0, le=10, description="overdue once the interval is exceeded by this "
                         "fraction of it")

    @model_validator(mode="after")
    def _some_trigger(self) -> SampleSchedule:
        if self.every_parts is None and self.every_minutes is None and not self.first_off:
            raise ValueError("a schedule needs every_parts, every_minutes or first_off")
        return self


class Characteristic(Model):
    id: Identifier
    name: str = ""
    nominal: Number | None = None
    lower: Number | None = None
    upper: Number | None = None
    unit: Unit | None = None
    resolution: Number = Decimal("0.001")
    method: Literal["gauge", "plc", "vision", "manual", "attribute"]
    gauge: Identifier | None = None
    # Left out of the plan's content when unset, so that plans approved before these keys existed stay in force.
    spc: SpcSettings | None = Field(default=None, exclude_if=lambda v: v is None,
                                    description="control chart settings (default: individuals)")
    schedule: SampleSchedule | None = Field(default=None, exclude_if=lambda v: v is None,
                                            description="in-process sampling at the station")
    device: Identifier | None = None
    tag: str | None = None
    criticality: Literal["critical", "major", "minor"] = "major"
    sampling: AqlSampling | FixedSampling = FixedSampling(n=1)
    vision: dict[str, Any] | None = Field(default=None, description="the vision check, for method 'vision'")

    @property
    def is_attribute(self) -> bool:
        """Pass/fail rather than a value: an attribute, or a vision check that reads a code."""
        return self.method == "attribute" or (self.vision is not None and self.vision.get("tool") == "code")

    @model_validator(mode="after")
    def _coherent(self) -> Characteristic:
        if self.resolution <= 0:
            raise ValueError(f"resolution must be positive, not {self.resolution}")
        if self.method == "vision" or self.vision is not None:
            _check_vision(self)
        if self.is_attribute:
            return self
        if self.unit is None:
            raise ValueError(f"a {self.method} characteristic needs a unit")
        if self.lower is None and self.upper is None:
            raise ValueError("needs a lower limit, an upper limit, or both")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"limits reversed: lower {self.lower} is above upper {self.upper}")
        if self.method == "gauge" and self.gauge is None:
            raise ValueError("method 'gauge' needs a gauge")
        return self


VISION_FORBIDDEN = ("characteristic", "lower", "upper", "resolution")


def _check_vision(characteristic: Characteristic) -> None:
    """The check spec must build (inspection.vision names the field at fault) and be the characteristic's."""
    from inspection.vision.errors import SpecError
    from inspection.vision.spec import spec_from_mapping

    if characteristic.method != "vision":
        raise ValueError(f"a vision check needs method 'vision', not {characteristic.method!r}")
    if characteristic.vision is None:
        raise ValueError("method 'vision' needs a vision table (tool, roi, params)")
    if characteristic.device is None:
        raise ValueError("method 'vision' needs a device (a camera)")
    owned = [key for key in VISION_FORBIDDEN if key in characteristic.vision]
    if owned:
        raise ValueError(f"vision: {', '.join(owned)} belong to the characteristic, not to its vision table")
    try:
        spec = spec_from_mapping({**characteristic.vision, "characteristic": characteristic.id})
    except SpecError as exc:
        raise ValueError(f"vision: {exc}") from None
    if characteristic.unit is not None and spec.tool != "code":
        _check_convertible(vision_unit(spec.tool, spec.unit), characteristic.unit)


# The unit of the value each vision tool gives, as the store records it ("fraction" and "score" are ratios).
VISION_UNITS = {"presence": "dimensionless", "colour": "dimensionless", "blob": "count"}


def vision_unit(tool: str, spec_unit: str) -> str:
    return VISION_UNITS.get(str(tool), spec_unit)


def _check_convertible(unit: str, target: str) -> None:
    from inspection.units import UnitError, convert

    try:
        convert(Decimal(1), unit, target)
    except UnitError as exc:
        raise ValueError(f"vision: the check gives {unit}, which cannot be the characteristic's {target}: "
                         f"{exc}") from None


class Plan(Model):
    revision: Identifier
    characteristics: list[Characteristic] = Field(min_length=1)


class Product(Model):
    id: Identifier
    name: str = ""
    gtin: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$", description="GS1 GTIN on its labels")
    plans: list[Plan] = Field(min_length=1)

    def plan(self, revision: str) -> Plan | None:
        return next((p for p in self.plans if p.revision == revision), None)


class HoldRules(Model):
    critical_failure: bool = Field(default=True, description="hold the lot at the first failed critical value")
    reject_number: bool = Field(default=True, description="hold when nonconforming units reach Re")
    any_failure: bool = Field(default=False, description="hold at any failed value")
    overdue_gauge: Literal["refuse", "flag"] = "refuse"


class Authority(Model):
    disposition: list[Literal["operator", "inspector", "supervisor", "admin", "auditor"]] = ["supervisor", "admin"]
    release: list[Literal["operator", "inspector", "supervisor", "admin", "auditor"]] = [
        "inspector", "supervisor", "admin"]
    approve_plan: list[Literal["operator", "inspector", "supervisor", "admin", "auditor"]] = [
        "supervisor", "admin"]
    calibrate: list[Literal["operator", "inspector", "supervisor", "admin", "auditor"]] = [
        "inspector", "supervisor", "admin"]


class Store(Model):
    path: str = "lineside.db"
    batch_max: int = Field(default=256, ge=1, le=10000, description="most writes in one group commit")


class Vision(Model):
    image_folder: str | None = Field(default=None, description="annotated images; default: images/ by the store")
    retention_bytes: int = Field(default=10 * 1024**3, ge=0, description="images beyond this are deleted, oldest "
                                 "first, never the evidence of an open nonconformity")
    max_calibration_age_days: int = Field(default=365, ge=1, description="oldest camera calibration accepted")


class Ui(Model):
    """[ui]: how the station screens behave."""

    idle_timeout_s: float = Field(default=900, gt=0, description="a session idle this long must sign in again")
    secure_cookies: bool = Field(default=False, description="true behind HTTPS")
    separator_substitute: str | None = Field(default=None, min_length=1, max_length=1,
                                             description="the character keyboard-wedge scanners send for GS")
    label_printer: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.\-]+(:\d{1,5})?$",
                                      description="host:port of a ZPL label printer for hold tags (port 9100)")


class SyncSettings(Model):
    """[sync]: pushing the outbox to headquarters (docs/sync.md). The station is "<site>.<line>"."""

    hq_url: str = Field(pattern=r"^https?://", description="HQ receiver base URL, https:// in production")
    secret: str | None = Field(default=None, min_length=16, description="the station's HMAC secret")
    secret_file: str | None = Field(default=None, description="file holding the secret (preferred to secret)")
    schedule: str = Field(default="0 2 * * *", description="cron text (UTC) of the nightly push")
    batch_records: int = Field(default=1000, ge=1, le=100_000, description="most records in one batch")
    batch_bytes: int = Field(default=4_000_000, ge=1024, description="most payload bytes in one batch")
    ca_bundle: str | None = Field(default=None, description="PEM file of CAs to trust for HQ's certificate")
    timeout_s: float = Field(default=30.0, gt=0)
    attempts: int = Field(default=6, ge=1, le=100, description="tries of one batch before the run gives up")
    backoff_s: float = Field(default=1.0, ge=0, description="first retry delay; doubles, with jitter")
    backoff_max_s: float = Field(default=300.0, ge=0)
    outbox_alarm_bytes: int = Field(default=512 * 1024 * 1024, ge=1, description="unsent bytes that raise "
                                    "the outbox alarm; set well below the free space of the store's disk")

    @model_validator(mode="after")
    def _one_secret_and_valid_schedule(self) -> SyncSettings:
        if (self.secret is None) == (self.secret_file is None):
            raise ValueError("give exactly one of secret and secret_file")
        from croniter import CroniterError, croniter

        if not croniter.is_valid(self.schedule):
            raise ValueError(f"schedule {self.schedule!r} is not valid cron text (minute hour day month weekday)")
        try:  # valid text may name no time that ever comes; the push thread would die at start
            croniter(self.schedule).get_next(float)
        except CroniterError:
            raise ValueError(f"schedule {self.schedule!r} names no time that ever comes (such as 31 February)"
                             ) from None
        return self


class LineConfig(Model):
    site: Site
    line: Line
    stations: list[Station] = Field(min_length=1)
    devices: list[Device] = []
    gauges: list[Gauge] = []
    products: list[Product] = Field(min_length=1)
    hold_rules: HoldRules = HoldRules()
    authority: Authority = Authority()
    store: Store = Store()
    vision: Vision = Vision()
    ui: Ui = Ui()
    sync: SyncSettings | None = None

    def product(self, product_id: str) -> Product | None:
        return next((p for p in self.products if p.id == product_id), None)

    def gauge(self, gauge_id: str) -> Gauge | None:
        return next((g for g in self.gauges if g.id == gauge_id), None)


def load(path: str | Path) -> LineConfig:
    """Read and validate a configuration file; raise ConfigError with every problem found."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse(raw)


def parse(raw: dict[str, Any]) -> LineConfig:
    from edge.config_checks import cross_reference_problems, entry_path

    problems: list[str] = []
    config = None
    try:
        config = LineConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{entry_path(raw, err['loc'])}: {_message(err)}" for err in exc.errors()]
    problems += cross_reference_problems(raw)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def _message(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")
