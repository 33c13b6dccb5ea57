"""Every benchmark, one after the other, each printing its figures and its ratio to a baseline
measured in the same run (`./run bench`). Pass names to run only some: photo, duplicates, onboarding, sign-in, traffic,
scale."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "photo": "photo_bench.py",
    "duplicates": "duplicate_bench.py",
    "onboarding": "onboarding_bench.py",
    "sign-in": "sign_in_bench.py",
    "traffic": "traffic_bench.py",  # issue 24: 10,000 logins and 2,100 held-open commands (dev server)
    "scale": "scale_bench.py",  # issue 28: pgvector, the candidate postings, S3 (starts its own servers)
}


def main(names: list[str]) -> int:
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}"
    )
    status = 0
    for name in names or list(BENCHES):
        script = HERE / BENCHES[name]
        if not script.exists():
            print(f"\n== {name}: not built yet")
            continue
        print(f"\n== {name}", flush=True)
        status |= subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
