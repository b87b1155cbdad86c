"""The house rules of the package layout (docs/architecture.md) that a test can check."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "genorisk"


def _package_of(module: str) -> str:
    """``genorisk.qc.store`` -> ``genorisk.qc``; a top-level module is its own package."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_private_name_is_imported_across_packages():
    """A private name (``_x``) is used only inside its own package: shared helpers get public names."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        here = ".".join(rel.parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if node.level:  # relative import: inside the same package
                continue
            if not node.module.startswith("genorisk"):
                continue
            private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            if private and _package_of(node.module) != _package_of(here):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} imports {private} from {node.module}")
    assert not offenders, "\n".join(offenders)


def test_one_genome_vocabulary():
    """Contig naming, PARs and region parsing live in genorisk.genome only."""
    copies = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "genome.py":
            continue
        text = path.read_text()
        for marker in ("PAR_REGIONS = {", "def normalize_chrom(", "def contig_key(", "_REGION_RE = re.compile"):
            if marker in text:
                copies.append(f"{path.relative_to(SRC)}: {marker}")
    assert not copies, copies
