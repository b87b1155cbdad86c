"""Patient reports rendered per second (validated report.json + self-contained report.html).

genorisk: ``genorisk report patients OUT results.jsonl`` - JSON Schema
validation, reliability assessment, two inline SVG charts, Jinja2 rendering
with autoescaping, owner-only atomic writes of two files per patient.

Reference: a plain ``json.dump`` of each result into its own folder - not a
competing tool but the floor (reading, parsing and writing the same data with
no validation and no HTML), so the ratio says what the report itself costs.

The patient count is ``RENDER_REPORTS_N`` (default 1000).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

N_PATIENTS = int(os.environ.get("RENDER_REPORTS_N", "1000"))

DESCRIPTION = f"render {N_PATIENTS:,} patient reports (HTML + validated JSON) vs plain json.dump floor"
UNITS = {"patients": N_PATIENTS}

REFERENCE = r"""
import json, os, sys
from pathlib import Path
src, out = sys.argv[1], Path(sys.argv[2])
with open(src) as fh:
    for line in fh:
        result = json.loads(line)
        folder = out / result["patient_id"]
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "result.json", "w") as dst:
            json.dump(result, dst, indent=2, sort_keys=True)
"""


def prepare(workdir: Path) -> None:
    # In a child process: importing genorisk here would grow the runner, and a
    # forked command inherits the runner's peak RSS until it execs.
    script = (
        "import json, sys\n"
        "from genorisk.report import example_result\n"
        "with open(sys.argv[1], 'w') as fh:\n"
        "    for i in range(int(sys.argv[2])):\n"
        "        fh.write(json.dumps(example_result(f'P{i:06d}', seed=i)) + '\\n')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(workdir / "results.jsonl"), str(N_PATIENTS)], check=True)


def commands(workdir: Path) -> dict[str, list[str]]:
    jsonl = str(workdir / "results.jsonl")
    return {
        "genorisk": [sys.executable, "-m", "genorisk", "report", "patients", str(workdir / "reports"), jsonl],
        "json.dump": [sys.executable, "-c", REFERENCE, jsonl, str(workdir / "floor")],
    }
