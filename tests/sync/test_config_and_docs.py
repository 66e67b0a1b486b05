"""[sync] configuration, the example that documents it, and docs/sync.md kept complete by tests."""

from __future__ import annotations

import argparse
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.cli import _parser
from edge.config import ConfigError, SyncSettings, parse
from sync.schedule import next_run
from tests.conftest import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "sync.md").read_text()


def example_with_sync(**sync) -> dict:
    raw = tomllib.loads(EXAMPLE.read_text())
    raw["sync"] = {"hq_url": "https://hq.example", "secret": "x" * 20, **sync}
    return raw


def test_example_has_a_sync_section():
    assert parse(tomllib.loads(EXAMPLE.read_text())).sync is not None


@pytest.mark.parametrize("key", list(SyncSettings.model_fields))
def test_every_sync_key_is_in_the_example_and_the_docs(key):
    assert re.search(rf"(^|^# |or: ){key} = ", EXAMPLE.read_text(), re.M), f"{key} missing from examples/line.toml"
    assert f"`{key}`" in DOC, f"{key} missing from docs/sync.md"


@pytest.mark.parametrize(("sync", "problem"), [
    ({"secret_file": "/x"}, "sync: give exactly one of secret and secret_file"),
    ({"schedule": "every night"}, "sync: schedule 'every night' is not valid cron text"),
    ({"hq_url": "ftp://hq"}, "sync.hq_url"),
    ({"batch_records": 0}, "sync.batch_records"),
    ({"colour": "red"}, "sync.colour"),
])
def test_bad_sync_settings_are_named(sync, problem):
    with pytest.raises(ConfigError) as error:
        parse(example_with_sync(**sync))
    assert any(problem in p for p in error.value.problems), error.value.problems


def test_no_secret_at_all_is_refused():
    raw = example_with_sync()
    del raw["sync"]["secret"]
    with pytest.raises(ConfigError, match="exactly one of secret and secret_file"):
        parse(raw)


def commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """Every leaf command of the parser, as "group action"."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups and prefix:
        yield " ".join(prefix)
    for group in groups:
        for name, sub in group.choices.items():
            yield from commands(sub, (*prefix, name))


@pytest.mark.parametrize("command", [c for c in commands(_parser()) if c.split()[0] in ("sync", "hq")])
def test_every_sync_command_is_documented(command):
    assert f"`lineside {command} " in DOC, f"`lineside {command}` missing from docs/sync.md"


@pytest.mark.parametrize("code", ["bad_envelope", "unsigned", "bad_signature", "stale_timestamp", "replayed_nonce",
                                  "unknown_station", "wrong_station", "too_large", "store_unavailable"])
def test_every_error_code_is_documented(code):
    assert f"`{code}`" in DOC


def test_schedule_is_cron_in_utc():
    after = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    assert next_run("0 2 * * *", after) == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert next_run("*/15 * * * *", after) == datetime(2026, 11, 29, 20, 15, tzinfo=UTC)
