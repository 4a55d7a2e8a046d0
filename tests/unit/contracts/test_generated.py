"""The checked-in and shipped schemas are what the generator makes, and valid JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from fakeqemu.contracts import generate
from fakeqemu.contracts.store import BASE_URI, PROFILES, documents
from fakeqemu.contracts.validator import registry
from fakeqemu.vocabulary import SHAPES

ROOT = Path(__file__).resolve().parents[3]
EXPECTED = generate.expected_files()


def test_there_are_nine_schemas_per_profile_and_shape() -> None:
    assert len(EXPECTED) == 9 * len(PROFILES) * len(SHAPES)


@pytest.mark.parametrize(
    "root",
    [ROOT / "contracts", ROOT / "fakeqemu" / "contracts" / "schemas"],
    ids=["repo", "package"],
)
def test_regenerating_changes_nothing(root: Path) -> None:
    assert generate.differences(root, EXPECTED) == [], "run python -m fakeqemu.contracts.generate"


def test_differences_notice_a_stale_a_missing_and_an_extra_file(tmp_path: Path) -> None:
    generate.write(tmp_path, EXPECTED)
    assert generate.differences(tmp_path, EXPECTED) == []
    (tmp_path / "11.1/new/qmp-event.json").write_text("{}\n")
    (tmp_path / "7.2/old/qmp-error.json").unlink()
    (tmp_path / "10.0/old/extra.json").write_text("{}\n")
    assert generate.differences(tmp_path, EXPECTED) == [
        "missing 7.2/old/qmp-error.json",
        "unexpected 10.0/old/extra.json",
        "stale 11.1/new/qmp-event.json",
    ]
    generate.write(tmp_path, EXPECTED)
    assert generate.differences(tmp_path, EXPECTED) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_schema_passes_check_schema(name: str) -> None:
    schema = json.loads(EXPECTED[name])
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == BASE_URI + name


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_reference_resolves_offline(profile: str, shape: str) -> None:
    # A $ref that escaped the registry would need a fetch, which the registry cannot do.
    schemas = registry(profile, shape)
    count = 0
    for schema in documents(profile, shape).values():
        resolver = schemas.resolver(base_uri=schema["$id"])
        for reference in _references(schema):
            assert resolver.lookup(reference).contents is not None
            count += 1
    assert count > 20


def test_an_unknown_reference_is_not_fetched() -> None:
    resolver = registry("11.1", "old").resolver(base_uri=BASE_URI)
    with pytest.raises(Unresolvable):
        resolver.lookup("https://json-schema.org/draft/2020-12/schema")


def _references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []
