"""The machine-readable contract (docs/contract/) matches the code, and every example is valid."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from typing import Any

import jsonschema
import pytest
from temporalio.converter import value_to_type

from devtools.contract_schema import ROOT, contract_index, differences
from models import boundary
from models.refusals import RefusedError

INDEX, TYPES = contract_index()
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def _load(kind: str, name: str) -> Any:
    return json.loads((ROOT / kind / f"{name}.json").read_text())


def test_the_committed_contract_is_what_the_code_generates() -> None:
    assert differences() == [], "run `python -m devtools.contract_schema` and commit docs/contract/"


@pytest.mark.parametrize("name", sorted(TYPES))
def test_each_example_is_valid_and_decodes_into_its_dataclass(name: str) -> None:
    schema, example = _load("schemas", name), _load("examples", name)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(example)
    cls = TYPES[name]
    if dataclasses.is_dataclass(cls):
        assert dataclasses.is_dataclass(value_to_type(cls, example))
        if cls in boundary.MESSAGES:
            boundary.parse(cls, example)  # what the workflow does with it: accepted as it stands


def _too_long(cls: type, field: str, kind: boundary.Text) -> dict[str, Any]:
    example = _load("examples", cls.__name__)
    return example | {field: "x" * (kind.max_len + 1)}


CASES = [
    (cls, name, kind)
    for cls, message in boundary.MESSAGES.items()
    if cls.__name__ in TYPES
    for name, kind in message.fields.items()
    if isinstance(kind, boundary.Text) and kind.choices is None
]


@pytest.mark.parametrize(("cls", "field", "kind"), CASES, ids=[f"{c.__name__}.{f}" for c, f, _ in CASES])
def test_schema_and_boundary_refuse_the_same_overlong_text(
    cls: type, field: str, kind: boundary.Text
) -> None:
    bad = _too_long(cls, field, kind)
    validator = jsonschema.Draft202012Validator(_load("schemas", cls.__name__), format_checker=FORMATS)
    assert not validator.is_valid(bad)
    with pytest.raises(RefusedError) as refused:
        boundary.parse(cls, bad)
    assert refused.value.refusal.code == f"{field}_too_long"


def test_a_time_without_its_offset_is_refused_by_schema_and_boundary() -> None:
    bad = _load("examples", "ViolationInput") | {"given_at": "2027-01-24 06:00:00"}
    validator = jsonschema.Draft202012Validator(_load("schemas", "ViolationInput"), format_checker=FORMATS)
    assert not validator.is_valid(bad)
    with pytest.raises(RefusedError):
        boundary.parse(TYPES["ViolationInput"], bad)


def test_the_index_names_every_update_and_signal_with_a_schema() -> None:
    account = INDEX["workflows"]["SellerAccount"]
    names = {*account["signals"].values()} | {
        v for u in account["updates"].values() for v in u.values() if v != "never"
    }
    assert names <= set(TYPES) and all((ROOT / "schemas" / f"{n}.json").exists() for n in names)
    assert typing.get_type_hints(TYPES["Refusal"]).keys() == {"rule", "code", "message", "retryable"}


def test_the_readme_contract_table_links_every_schema_and_every_link_exists() -> None:
    readme = (ROOT.parent.parent / "README.md").read_text()
    section = readme.split("## For backend services: the Temporal contract", 1)[1].split("\n## ", 1)[0]
    linked = set(re.findall(r"\]\(docs/contract/schemas/([A-Za-z]+)\.json\)", section))
    assert linked >= set(TYPES), set(TYPES) - linked
    assert all((ROOT / "schemas" / f"{name}.json").exists() for name in linked)
    account = INDEX["workflows"]["SellerAccount"]
    for name in [*account["updates"], *account["signals"]]:
        assert f"`{name}`" in section, name
