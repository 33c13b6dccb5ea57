"""The OPEN-1 check as it was at an earlier commit, importable next to today's: for figures before and
after a change measured in one run, on the same photos (bench/photo_bench.py, devtools/photo_eval.py
`--against`).

identity_photo and its photo_analysis package are loaded from git into their own modules
(`baseline_open1.*`); the decoder (activities/images) and the face models are shared. A module the
old commit did not have is simply not loaded.
"""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# photo_analysis modules in import order (each imports only those before it)
MODULES = ["card_corners", "photo_cues", "card_reading", "card_print", "card_detection"]


def _source(commit: str, path: str) -> str | None:
    done = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def verify_at(commit: str) -> Callable[..., object]:
    """verify_photo as it was at `commit`."""
    prefix = f"baseline_{commit}"

    def module(name: str, source: str, path: str) -> types.ModuleType:
        source = source.replace("from activities.photo_analysis", f"from {prefix}.photo_analysis")
        source = source.replace("@activity.defn\n", "")  # its name is taken by today's activity
        mod = types.ModuleType(name)
        mod.__file__ = f"<{commit}:{path}>"
        sys.modules[name] = mod
        exec(compile(source, mod.__file__, "exec"), mod.__dict__)
        return mod

    for package_name in (prefix, f"{prefix}.photo_analysis"):
        package = types.ModuleType(package_name)
        package.__path__ = []
        sys.modules[package_name] = package
    analysis = sys.modules[f"{prefix}.photo_analysis"]
    for name in MODULES:
        path = f"activities/photo_analysis/{name}.py"
        source = _source(commit, path)
        if source is not None:
            setattr(analysis, name, module(f"{prefix}.photo_analysis.{name}", source, path))
    path = "activities/identity_photo.py"
    source = _source(commit, path)
    assert source is not None, f"no {path} at {commit}"
    return module(f"{prefix}.identity_photo", source, path).verify_photo  # type: ignore[no-any-return]
