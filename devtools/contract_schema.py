"""The machine-readable contract: a JSON Schema for every message, result and refusal other services send
or receive, generated from the dataclasses (models/contract.py) and their boundary declarations
(models/boundary.py), and an index (`contract.json`) of the workflows, signals, updates and queries that
carry them, read from the workflow definitions themselves.

    python -m devtools.contract_schema            # writes docs/contract/schemas/, contract.json, examples/
    python -m devtools.contract_schema --check    # exit 1 if the committed files differ from the code

Nothing here is hand-kept: a field added to a dataclass, a size changed in models/limits.py or an argument
added to a workflow changes the generated files, and tests/devtools/test_contract_schema.py fails until
they are written again. Field descriptions are the dataclass fields' trailing comments.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import sys
import textwrap
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio import workflow

from devtools.contract_examples import EXAMPLES
from models import boundary
from models.contract import SIGNAL_PAYLOADS
from models.refusals import REFUSAL_ERROR_TYPE, Refusal
from security.credentials import COMMAND_ROLES
from workflows.buyer_screening import BuyerScreeningWorkflow
from workflows.registration import Registration
from workflows.seller_account import SellerAccount

ROOT = Path(__file__).resolve().parent.parent / "docs" / "contract"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_URI = "https://seller-accounts.example/contract/schemas/"
# The workflows other services start or message. The account workflow is started by Registration only:
# its input is internal (models/account_state.py), its result and messages are the contract.
WORKFLOWS = (Registration, SellerAccount, BuyerScreeningWorkflow)
INTERNAL_INPUTS = {"SellerAccount"}
WORKFLOW_IDS = {
    "Registration": "registration-<request_id>",
    "SellerAccount": "seller-<member_id>",
    "BuyerScreeningWorkflow": "buyer-<buyer_id>",
}
# The chart's states (workflows/lifecycle.py), in the order of an account's life.
STATES = ["registered", "authenticated", "exam_passed", "ten_products", "open", "dormant", "suspended", "closed"]
# Defaults read from the environment when the class is defined (SELLER_MAX_RUN_DAYS): not the contract's.
VOLATILE_DEFAULTS = {("LifecyclePolicy", "max_run_days")}
STATE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": STATES,
    "description": "The account's state after the command (the lifecycle chart's states).",
}


# ---------------------------------------------------------------- field descriptions from the source


def _field_comments(cls: type) -> dict[str, str]:
    """`name: type = default  # comment` -> {name: comment}, for the class itself (not its bases)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            line = lines[node.end_lineno - 1]  # type: ignore[operator]
            if "  # " in line:
                comments[node.target.id] = line.split("  # ", 1)[1].strip()
    return comments


def _comments(cls: type) -> dict[str, str]:
    merged: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            merged |= _field_comments(klass)
    return merged


# ---------------------------------------------------------------- types and boundary declarations


class _Schemas:
    """Builds one self-contained schema per root type; nested dataclasses go to `$defs`."""

    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}

    def of_type(self, hint: Any) -> dict[str, Any]:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if hint is type(None):
            return {"type": "null"}
        if origin in (types.UnionType, typing.Union):
            return {"anyOf": [self.of_type(a) for a in args]}
        if origin is list or origin is tuple:
            return {"type": "array", "items": self.of_type(args[0]) if args else {}}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.of_type(args[1])}
        if hint is str:
            return {"type": "string"}
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer"}
        if hint is float:
            return {"type": "number"}
        if hint is datetime:
            return {"type": "string", "format": "date-time", "pattern": _RFC3339}
        if hint is typing.Any:
            return {}
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            name = hint.__name__
            if name not in self.defs:
                self.defs[name] = {}  # placeholder: recursive types stop here
                self.defs[name] = self.dataclass(hint)
            return {"$ref": f"#/$defs/{name}"}
        raise TypeError(f"no JSON Schema for {hint!r}")

    def dataclass(self, cls: Any) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        declared = boundary.MESSAGES.get(cls)
        comments = _comments(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in dataclasses.fields(cls):
            schema = self.of_type(hints[f.name])
            if declared is not None and f.name in declared.fields:
                schema = _narrowed(schema, declared.fields[f.name])
            if f.name in comments:
                schema = {"description": comments[f.name], **schema}
            default = _default(f)
            if default is not dataclasses.MISSING:
                if (cls.__name__, f.name) not in VOLATILE_DEFAULTS:
                    schema["default"] = default
            else:
                required.append(f.name)
            properties[f.name] = schema
        out: dict[str, Any] = {"type": "object"}
        doc = inspect.getdoc(cls)
        if doc and not doc.startswith(f"{cls.__name__}("):  # the dataclass's generated signature
            out["description"] = " ".join(doc.split())
        out["properties"] = properties
        if required:
            out["required"] = required
        return out


# RFC 3339 date-time with a mandatory offset (`format` alone is not asserted by every validator).
_RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return dataclasses.MISSING
    if dataclasses.is_dataclass(value):
        return {}  # a nested message: its own fields' defaults apply
    return value


def _narrowed(schema: dict[str, Any], kind: Any) -> dict[str, Any]:
    """The boundary's checks (sizes, choices, formats, ranges) as JSON Schema keywords."""
    if isinstance(kind, boundary.Maybe):
        inner = _narrowed(_non_null(schema), kind.of)
        return {"anyOf": [inner, {"type": "null"}]}
    out = dict(schema)
    if isinstance(kind, boundary.Text):
        out["maxLength"] = kind.max_len
        if kind.min_len:
            out["minLength"] = kind.min_len
        if kind.choices is not None:
            out["enum"] = list(kind.choices)
        if kind.pattern is not None:
            out["pattern"] = kind.pattern.pattern
        if kind.ip:
            out["anyOf"] = [{"format": "ipv4"}, {"format": "ipv6"}]
    elif isinstance(kind, boundary.Int):
        out |= {"minimum": kind.lo, "maximum": kind.hi}
    elif isinstance(kind, boundary.Items):
        out["maxItems"] = kind.max_items
        if kind.min_items:
            out["minItems"] = kind.min_items
        out["items"] = _narrowed(out.get("items", {}), kind.of)
    return out


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = [s for s in schema.get("anyOf", [schema]) if s != {"type": "null"}]
    return options[0] if len(options) == 1 else {"anyOf": options}


def schema_for(hint: Any, title: str) -> dict[str, Any]:
    """A self-contained JSON Schema (2020-12) for one type of the contract."""
    builder = _Schemas()
    body = builder.dataclass(hint) if dataclasses.is_dataclass(hint) else builder.of_type(hint)
    out: dict[str, Any] = {"$schema": DIALECT, "$id": f"{BASE_URI}{title}.json", "title": title, **body}
    defs = {k: v for k, v in builder.defs.items() if k != title}
    if defs:
        out["$defs"] = dict(sorted(defs.items()))
    return out


# ---------------------------------------------------------------- the refusal (an update's failure)


def refusal_failure_schema() -> dict[str, Any]:
    """What a refused command's failure carries: ApplicationError type RuleRefusal, its details[0]."""
    schema = schema_for(Refusal, "Refusal")
    schema["description"] = (
        f"A refusal: the failure of a refused update is an ApplicationError of type `{REFUSAL_ERROR_TYPE}`, "
        "non_retryable = not retryable, message = this message, details[0] = this object. "
        "Registration and buyer screening answer it inside their result (`refusal`)."
    )
    schema["required"] = ["rule", "code", "message", "retryable"]
    return schema


# ---------------------------------------------------------------- the index of workflows and messages


def _non_optional(hint: Any) -> Any:
    """`X | None` -> X: an argument that may be null is still an X when sent."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return hint


def _name(hint: Any) -> str:
    hint = _non_optional(hint)
    if hint is None or hint is type(None):
        return "null"
    if hint is typing.NoReturn:
        return "never"
    if hint is str:
        return "State"
    return hint.__name__  # type: ignore[no-any-return]


def contract_index() -> tuple[dict[str, Any], dict[str, Any]]:
    """(contract.json, {schema name: type}) read from the workflow definitions."""
    types_: dict[str, Any] = {"Refusal": Refusal, "State": str}
    index: dict[str, Any] = {
        "task_queue": "seller-accounts",
        "refusal": {
            "error": "ApplicationError",
            "type": REFUSAL_ERROR_TYPE,
            "non_retryable": "equals not details[0].retryable",
            "details": ["Refusal"],
        },
        # Who may send each command (README *Roles*); every signal and update payload carries `auth`.
        "credential": {"field": "auth", "roles": {k: list(v) for k, v in sorted(COMMAND_ROLES.items())}},
        "workflows": {},
    }
    for cls in WORKFLOWS:
        defn = workflow._Definition.must_from_class(cls)
        entry: dict[str, Any] = {"id": WORKFLOW_IDS[defn.name or ""]}
        if defn.name not in INTERNAL_INPUTS:
            # Arguments with a default may be left out (a trailing one the workflow keeps for older callers).
            params = list(inspect.signature(defn.run_fn).parameters.values())[1:]
            arg_types = list(defn.arg_types or [])
            required = [t for t, p in zip(arg_types, params, strict=True) if p.default is p.empty]
            optional = [t for t, p in zip(arg_types, params, strict=True) if p.default is not p.empty]
            entry["args"] = [_name(t) for t in required]
            if optional:
                entry["optional_args"] = [_name(t) for t in optional]
            types_ |= {_name(t): _non_optional(t) for t in arg_types}
        else:
            entry["args"] = "internal: started by Registration"
        entry["result"] = _name(defn.ret_type)
        types_[_name(defn.ret_type)] = defn.ret_type
        if defn.signals:
            if set(defn.signals) != set(SIGNAL_PAYLOADS):
                raise ValueError(f"models.contract.SIGNAL_PAYLOADS does not name the signals of {defn.name}")
            entry["signals"] = {n: SIGNAL_PAYLOADS[n].__name__ for n in sorted(map(str, defn.signals))}
            types_ |= {t.__name__: t for t in SIGNAL_PAYLOADS.values()}
        if defn.updates:
            entry["updates"] = {}
            for n, u in sorted((str(k), v) for k, v in defn.updates.items()):
                arg: Any = u.arg_types[0] if u.arg_types else None
                entry["updates"][n] = {"arg": _name(arg), "result": _name(u.ret_type)}
                types_[_name(arg)] = arg
                if u.ret_type is not typing.NoReturn:
                    types_[_name(u.ret_type)] = u.ret_type
        if defn.queries:
            entry["queries"] = {str(n): {"result": _name(q.ret_type)} for n, q in defn.queries.items()}
            types_ |= {_name(q.ret_type): q.ret_type for q in defn.queries.values()}
        index["workflows"][defn.name] = entry
    return index, dict(sorted(types_.items()))


def generated() -> dict[str, str]:
    """Every generated file, by its path under docs/contract/, as the text to commit."""
    index, types_ = contract_index()
    files = {"contract.json": _dump(index)}
    for name, hint in types_.items():
        if name == "State":
            schema = {"$schema": DIALECT, "$id": f"{BASE_URI}State.json", "title": "State", **STATE_SCHEMA}
        elif name == "Refusal":
            schema = refusal_failure_schema()
        else:
            schema = schema_for(hint, name)
        files[f"schemas/{name}.json"] = _dump(schema)
    missing = set(types_) - set(EXAMPLES)
    if missing:
        raise ValueError(f"devtools/contract_examples.py has no example of {sorted(missing)}")
    for name in types_:
        files[f"examples/{name}.json"] = _dump(EXAMPLES[name]())
    return files


def _dump(value: Any) -> str:
    from temporalio.converter import AdvancedJSONEncoder

    return json.dumps(value, indent=2, ensure_ascii=False, cls=AdvancedJSONEncoder) + "\n"


def differences(root: Path = ROOT) -> list[str]:
    want = generated()
    have = {str(p.relative_to(root)) for p in root.glob("*/*.json")} | (
        {"contract.json"} if (root / "contract.json").exists() else set()
    )
    out = [
        f"{p}: stale" for p, text in want.items() if not (root / p).exists() or (root / p).read_text() != text
    ]
    out += [f"{p}: not generated any more" for p in sorted(have - set(want))]
    return out


def write(root: Path = ROOT) -> None:
    for stale in root.glob("*/*.json"):
        stale.unlink()
    for path, text in generated().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        problems = differences()
        print("\n".join(problems) or "docs/contract matches the code")
        sys.exit(1 if problems else 0)
    write()
    print(f"wrote {ROOT}")
