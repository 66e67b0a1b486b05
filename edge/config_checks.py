"""Checks of the line configuration that span entries: duplicate ids and references to unknown ones.

Works on the raw TOML dictionary, so it can report cross-reference problems even when some fields are also
invalid. Also turns pydantic's list indices into the ids an integrator wrote. Must not raise on odd input.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any


def entry_path(raw: Any, loc: tuple[Any, ...]) -> str:
    """`products[BRK-100].plans[A].characteristics[bore].upper` rather than `products.0.plans.0...`."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, list):
            item = node[key] if key < len(node) else None
            name = _name_of(item)
            parts[-1 if parts else 0:] = [f"{parts[-1] if parts else ''}[{_ref(name) if name else key}]"]
            node = item
        elif isinstance(node, dict) and isinstance(key, str) and key in node:
            parts.append(_key(key))
            node = node[key]
        elif isinstance(key, str) and not _is_union_tag(key):
            parts.append(_key(key))
            node = None
    return ".".join(parts) or "(top level)"


def _key(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted, so that a problem stays one line."""
    return key if _BARE.fullmatch(key) else json.dumps(key)


_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _ref(value: Any) -> str:
    """An id (or name) in brackets: as written, unless a line break or a bracket in it would mislead."""
    text = str(value)
    return text if text.isprintable() and "]" not in text else json.dumps(text)


def _name_of(item: Any) -> str | None:
    if isinstance(item, dict):
        for field in ("id", "revision", "name"):
            if isinstance(item.get(field), str | int):
                return str(item[field])
    return None


def _is_union_tag(key: str) -> bool:
    # pydantic inserts the member's name for unions: "serial_gauge", "AqlSampling", "function-before[...]"
    return key in ("serial_gauge", "modbus_plc", "camera") or key[:1].isupper() or "[" in key


def _entries(raw: Any, key: str) -> list[dict[str, Any]]:
    value = raw.get(key) if isinstance(raw, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _duplicates(items: list[dict[str, Any]], field: str, where: str) -> Iterator[str]:
    counts = Counter(str(item.get(field)) for item in items if item.get(field) is not None)
    for value, count in counts.items():
        if count > 1:
            yield f"{where}[{_ref(value)}]: duplicate {field} {value!r} ({count} entries)"


def cross_reference_problems(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return ["(top level): the configuration must be a TOML table"]
    problems = list(_duplicates(_entries(raw, "stations"), "id", "stations"))
    problems += _duplicates(_entries(raw, "devices"), "id", "devices")
    problems += _duplicates(_entries(raw, "gauges"), "id", "gauges")
    problems += _duplicates(_entries(raw, "products"), "id", "products")
    problems += _device_problems(raw)
    problems += _gauge_problems(raw)
    for product in _entries(raw, "products"):
        problems += _product_problems(raw, product)
    return problems


def _ids(raw: Any, key: str) -> set[str]:
    return {str(item.get("id")) for item in _entries(raw, key)}


def _device_problems(raw: Any) -> Iterator[str]:
    stations = _ids(raw, "stations")
    for device in _entries(raw, "devices"):
        station = device.get("station")
        if station is not None and str(station) not in stations:
            yield f"devices[{_ref(device.get('id'))}].station: unknown station {station!r}"
        yield from _duplicates(_entries(device, "tags"), "name", f"devices[{_ref(device.get('id'))}].tags")
        if device.get("kind") == "modbus_plc":
            yield from _plc_problems(device)
        if device.get("kind") == "serial_gauge" and device.get("protocol") == "pattern":
            yield from _pattern_problems(device)


def _plc_problems(device: dict[str, Any]) -> Iterator[str]:
    from drivers.base import DeviceConfigError
    from drivers.registers import Tag

    where = f"devices[{_ref(device.get('id'))}]"
    tags = {t["name"]: t for t in _entries(device, "tags") if isinstance(t.get("name"), str)}  # others: pydantic's
    for name, tag in tags.items():
        try:
            Tag(str(name), tag.get("table"), int(tag.get("address", 0)), tag.get("type", "uint16"),
                int(tag.get("length", 1)) if tag.get("type") == "string" else 0, tag.get("byte_order", "big"),
                tag.get("word_order", "big"), tag.get("scale", 1), tag.get("offset", 0), tag.get("unit", ""))
        except (DeviceConfigError, TypeError, ValueError, ArithmeticError) as exc:
            yield f"{where}.tags[{_ref(name)}]: {exc}"
    reject = device.get("reject_tag")
    coils = {name for name, tag in tags.items() if tag.get("table") == "coil"}
    if reject is not None and (not isinstance(reject, str) or reject not in coils):
        yield f"{where}.reject_tag: {reject!r} must name one of this device's coil tags"


def _pattern_problems(device: dict[str, Any]) -> Iterator[str]:
    import re

    where = f"devices[{_ref(device.get('id'))}].pattern"
    pattern = device.get("pattern")
    if not isinstance(pattern, str):
        yield f"{where}: protocol 'pattern' needs a regular expression with a named group 'value'"
        return
    try:
        if "value" not in re.compile(pattern).groupindex:
            yield f"{where}: the regular expression has no named group 'value'"
    except re.error as exc:
        yield f"{where}: not a regular expression: {exc}"


def _gauge_problems(raw: Any) -> Iterator[str]:
    devices = _ids(raw, "devices")
    for gauge in _entries(raw, "gauges"):
        device = gauge.get("device")
        if device is not None and str(device) not in devices:
            yield f"gauges[{_ref(gauge.get('id'))}].device: unknown device {device!r}"


def _product_problems(raw: Any, product: dict[str, Any]) -> Iterator[str]:
    where = f"products[{_ref(product.get('id'))}]"
    plans = _entries(product, "plans")
    yield from _duplicates(plans, "revision", f"{where}.plans")
    for plan in plans:
        at = f"{where}.plans[{_ref(plan.get('revision'))}]"
        characteristics = _entries(plan, "characteristics")
        yield from _duplicates(characteristics, "id", f"{at}.characteristics")
        for characteristic in characteristics:
            yield from _characteristic_problems(raw, characteristic, f"{at}.characteristics")


def _characteristic_problems(raw: Any, characteristic: dict[str, Any], at: str) -> Iterator[str]:
    where = f"{at}[{_ref(characteristic.get('id'))}]"
    gauge = characteristic.get("gauge")
    if gauge is not None and str(gauge) not in _ids(raw, "gauges"):
        yield f"{where}.gauge: unknown gauge {gauge!r}"
    device_id = characteristic.get("device")
    if device_id is None:
        return
    device = next((d for d in _entries(raw, "devices") if d.get("id") == device_id), None)
    if device is None:
        yield f"{where}.device: unknown device {device_id!r}"
        return
    if characteristic.get("method") == "vision" and device.get("kind") != "camera":
        yield f"{where}.device: method 'vision' needs a camera, and {device_id!r} is a {device.get('kind')}"
    tags = _entries(device, "tags")
    tag = characteristic.get("tag")
    names = {t["name"] for t in tags if isinstance(t.get("name"), str)}
    if tag is not None and (not isinstance(tag, str) or tag not in names):
        yield f"{where}.tag: device {device_id!r} has no tag {tag!r}"
    if characteristic.get("method") == "plc" and not any(t.get("trigger") for t in tags):
        yield f"{where}.device: PLC {device_id!r} has no trigger tag to say when a part's values are taken"
