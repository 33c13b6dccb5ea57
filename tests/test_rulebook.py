"""The project holds its own rulebook (docs/RULES.md): every rule id the code cites is defined there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE_ID = re.compile(r"\b(REG|OPEN|ASSOC|ENF|DATA)-(\d+)\b")


def test_every_rule_id_cited_in_code_is_in_the_project_rulebook() -> None:
    defined = set(re.findall(r"\*\*((?:REG|OPEN|ASSOC|ENF|DATA)-\d+)", (ROOT / "docs" / "RULES.md").read_text()))
    assert len(defined) >= 20
    cited: dict[str, str] = {}
    for folder in ("workflows", "activities", "models"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".toml"}:
                for m in RULE_ID.finditer(path.read_text(encoding="utf-8")):
                    cited.setdefault(m.group(0), str(path.relative_to(ROOT)))
    unknown = {rule: where for rule, where in cited.items() if rule not in defined}
    assert not unknown, f"rule ids cited but not in docs/RULES.md: {unknown}"


def test_nothing_in_the_repository_reaches_outside_it() -> None:
    offenders = []
    for path in ROOT.rglob("*"):
        if any(part in {".git", ".venv", ".tools", ".data", "__pycache__"} for part in path.parts):
            continue
        checked = path.suffix in {".py", ".sh", ".toml", ".yml", ".cfg"} or path.name in {"run", "Dockerfile"}
        if checked and path != Path(__file__) and "../shared" in path.read_text(errors="ignore"):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders
