"""The ``genorisk`` command: the pipeline's steps that people run outside Snakemake.

::

    genorisk validate  FILE.vcf.gz [...]       check VCF/BCF files, print what was found
    genorisk train     --features --schema --labels --out DIR
    genorisk score     --model DIR --features --out scores.json
    genorisk report    patients OUTROOT result.json [...] | cohort cohort.json out.html
    genorisk simulate  --patients sheet.tsv --gene-model chr21.gff3 --outdir DIR
    genorisk --version

``python -m genorisk`` is the same command. Exit status: 0 on success, 1 when
an input is wrong (the message names the file, the record and the problem, as
:class:`genorisk.errors.InputError` does), 2 on a command-line usage error.

Each subcommand calls the package's public functions and nothing else, so what
it does is what the workflow rule of the same step does. The stage modules are
imported only by the subcommand that needs them: ``genorisk --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InputError

log = logging.getLogger("genorisk.cli")

#: Exit status when an input (file, config, sheet) is wrong; argparse uses 2 for usage errors.
EXIT_INPUT_ERROR = 1


# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    """Validate each VCF/BCF; print a one-line summary and its warnings, or the first error."""
    from .io import write_json
    from .vcf import validate_vcf

    build = None if args.genome_build == "none" else args.genome_build
    failed = 0
    reports = []
    for path in args.vcf:
        try:
            report = validate_vcf(
                path,
                genome_build=build,
                require_samples=args.sample or None,
                require_records=args.require_records,
                require_sorted=args.require_sorted,
                check_index=not args.no_index_check,
            )
        except InputError as err:
            print(f"genorisk validate: {err}", file=sys.stderr)
            failed += 1
            continue
        reports.append(report.to_dict())
        print(validation_summary(report.to_dict()))
        for warning in report.warnings:
            print(f"  warning: {warning}")
    if args.json:
        write_json(args.json, reports[0] if len(args.vcf) == 1 and reports else reports)
    return EXIT_INPUT_ERROR if failed else 0


def validation_summary(report: Mapping[str, Any]) -> str:
    """One line describing a validation report (a ``ValidationReport.to_dict()``)."""
    parts = [
        f"{report['file_format']} ({report['compression']})",
        f"{report['n_records']} records",
        f"{len(report['samples'])} samples",
        f"{len(report['records_per_contig'])} contigs",
    ]
    if report.get("genome_build"):
        parts.append(report["genome_build"])
    parts.append("sorted" if report["sorted"] else "NOT sorted")
    if report.get("index"):
        parts.append(f"index {Path(report['index']).name}")
    parts.append(f"{len(report['warnings'])} warnings")
    return f"{report['path']}: OK: " + ", ".join(parts)


def read_config_section(path: str | None, section: str, **extra: Any) -> dict[str, Any]:
    """One section of a YAML/JSON config file (or the whole mapping), checked by the config schema.

    The same schema, defaults and messages as the workflow's start-up check
    (:func:`genorisk.config.validate_section`); ``extra`` keys are set first
    (the section's required workflow keys, such as ``simulate.outdir``).
    """
    import yaml

    from .config import validate_section

    data: Any = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise InputError(path, f"cannot read the config: {err}") from None
        if not isinstance(data, dict):
            raise InputError(path, "must be a mapping (YAML or JSON object)")
        data = data.get(section, data)
        if not isinstance(data, dict):
            raise InputError(path, f"the {section!r} section must be a mapping", record=f"key {section}")
    return validate_section(section, {**data, **extra}, source=path or "defaults")


def run_train(args: argparse.Namespace) -> int:
    """Train, evaluate and save a model (the workflow's ``train_model`` without its cohort outputs)."""
    from .config import read_truth
    from .io import read_json, sha256_file
    from .model import ModelConfig, read_feature_matrix, read_labels, save_model, train_model

    # Every input is checked before training starts (a typo under model: fails here, not after CV).
    section = read_config_section(args.config, "model")
    if args.threads:
        section["threads"] = args.threads
    config = ModelConfig.from_dict(section, source=args.config)
    truth = read_truth(args.truth) if args.truth else None
    schema = read_json(args.schema)
    features = read_feature_matrix(args.features)
    labels = read_labels(args.labels, features.index, args.label_column)
    model = train_model(features, labels, schema, config, truth=truth)
    save_model(model, args.out, training_data_sha256=sha256_file(args.features))
    return 0


def run_score(args: argparse.Namespace) -> int:
    """Score patients with a saved model or a trait's bundle; write ``{"patients": [...]}`` as JSON."""
    from .io import read_json, write_json
    from .model import load_model, read_feature_matrix, score_patients
    from .model.bundle import BUNDLE_MANIFEST, verify_bundle

    # A bundle (model/<trait>/ of a training run) is checked against its bundle.json first;
    # load_model checks the model files against the model card either way.
    if (Path(args.model) / BUNDLE_MANIFEST).exists():
        verify_bundle(args.model)
    model = load_model(args.model)
    features = read_feature_matrix(args.features)
    schema = read_json(args.schema) if args.schema else None
    results = score_patients(model, features, schema=schema, top_n=args.top_n, path=args.features)
    write_json(args.out, {"patients": results})
    return 0


def iter_result_inputs(paths: Sequence[str]) -> Iterator[Mapping | Path]:
    """Patient results named on the command line: ``.jsonl`` files yield one dict per line, others their path."""
    for name in paths:
        path = Path(name)
        if path.suffix != ".jsonl":
            yield path
            continue
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise InputError(path, f"not valid JSON: {err.msg}", record=f"line {lineno}") from None


def run_report(args: argparse.Namespace) -> int:
    """Render patient reports (``OUTROOT/<patient_id>/``) or the cohort report."""
    from .report import render_cohort_report, render_patient_reports

    if args.report_kind == "patients":
        render_patient_reports(iter_result_inputs(args.results), args.outroot, pdf=args.pdf)
    else:
        try:
            cohort = json.loads(args.cohort_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(args.cohort_json, f"cannot read the cohort summary: {err}") from None
        render_cohort_report(cohort, args.out_html, source=args.cohort_json)
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    """Simulate the demo cohort, patients and resources (the workflow's ``simulate_demo``)."""
    import pandas as pd

    from .config import read_patient_sheet
    from .simulate import SimulationConfig, simulate

    # ``outdir`` is the workflow's key for where the files go: here it is --outdir.
    section = read_config_section(args.config, "simulate", outdir=args.outdir)
    # As in the workflow: the sheet's `simulated` column, else the simulation's own patient list
    # (patients_truth.tsv of an earlier run), else a not-yet-existing VCF under --outdir, names the
    # simulated patients; never the path alone. The simulator reads their age.
    listing = Path(args.outdir) / "patients_truth.tsv"
    named = pd.read_csv(listing, sep="\t", dtype=str)["patient_id"].tolist() if listing.exists() else None
    sheet = read_patient_sheet(args.patients, covariates=("age",), produced_under=args.outdir, simulated_patients=named)
    simulated = sheet[sheet["simulated"]].drop(columns=["simulated", "sheet_line"])
    simulate(SimulationConfig.from_dict(section), simulated.reset_index(drop=True), args.outdir, args.gene_model)
    return 0


# ---------------------------------------------------------------------------
# Parser and entry point
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``genorisk`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="genorisk",
        description="Genomic variant risk pipeline: the steps you can run outside Snakemake.",
        epilog="The whole workflow runs with Snakemake (see the README). Exit status: 0 ok, 1 bad input, 2 usage.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    val = sub.add_parser("validate", help="validate VCF/BCF files", description=run_validate.__doc__)
    val.add_argument("vcf", nargs="+", help=".vcf, .vcf.gz (BGZF or gzip), .vcf.bz2 or .bcf")
    val.add_argument(
        "--genome-build",
        choices=["GRCh38", "GRCh37", "none"],
        default="GRCh38",
        help="check ##contig lengths against this build (default GRCh38; none: no build check)",
    )
    val.add_argument(
        "--sample", action="append", metavar="NAME", help="a sample that must be in the header (repeatable)"
    )
    val.add_argument("--require-records", action="store_true", help="refuse a file without records")
    val.add_argument("--require-sorted", action="store_true", help="refuse records out of order")
    val.add_argument("--no-index-check", action="store_true", help="do not validate a .tbi/.csi beside the file")
    val.add_argument("--json", metavar="OUT", help="also write the report(s) as JSON")
    val.set_defaults(run=run_validate)

    tr = sub.add_parser("train", help="train, evaluate and save a risk model", description=run_train.__doc__)
    tr.add_argument("--features", required=True, help="feature matrix (.parquet or .tsv)")
    tr.add_argument("--schema", required=True, help="the matrix's features.schema.json")
    tr.add_argument("--labels", required=True, help="TSV with sample_id and a 0/1 label column")
    tr.add_argument("--label-column", default="label", help="label column of --labels (default: label)")
    tr.add_argument("--config", help="YAML/JSON: its 'model' section (or the whole mapping)")
    tr.add_argument("--truth", help="JSON with h2, prevalence[, h2_total] of a simulated cohort (AUC ceiling)")
    tr.add_argument("--threads", type=int, help="override the config's threads")
    tr.add_argument("--out", required=True, help="model directory to write")
    tr.set_defaults(run=run_train)

    sc = sub.add_parser("score", help="score patients with a saved model", description=run_score.__doc__)
    sc.add_argument("--model", required=True, help="model directory (from train) or a trait's bundle (model/<trait>)")
    sc.add_argument("--features", required=True, help="patient feature matrix")
    sc.add_argument("--schema", help="the patients' features.schema.json (its definitions are checked)")
    sc.add_argument("--top-n", type=int, default=5, help="drivers listed per patient (default 5)")
    sc.add_argument("--out", required=True, help="JSON output")
    sc.set_defaults(run=run_score)

    rep = sub.add_parser("report", help="render patient or cohort reports", description=run_report.__doc__)
    kinds = rep.add_subparsers(dest="report_kind", required=True, metavar="KIND")
    pat = kinds.add_parser("patients", help="render patient reports into OUTROOT/<patient_id>/")
    pat.add_argument("outroot", type=Path)
    pat.add_argument("results", nargs="+", help="result.json files, or .jsonl files with one result per line")
    pat.add_argument("--pdf", action="store_true", help="also write report.pdf (needs weasyprint)")
    coh = kinds.add_parser("cohort", help="render the cohort report")
    coh.add_argument("cohort_json", type=Path, help="cohort summary JSON (results/cohort/cohort.json)")
    coh.add_argument("out_html", type=Path)
    rep.set_defaults(run=run_report)

    sim = sub.add_parser("simulate", help="simulate the demo cohort and resources", description=run_simulate.__doc__)
    sim.add_argument("--config", help="YAML: a 'simulate' section (or the mapping itself)")
    sim.add_argument(
        "--patients", required=True, help="patient sheet TSV; the patients whose vcf lies under --outdir are simulated"
    )
    sim.add_argument("--gene-model", required=True, help="Ensembl GFF3 of chr21")
    sim.add_argument("--outdir", required=True)
    sim.set_defaults(run=run_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``genorisk`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = build_parser().parse_args(argv)
    from .runner import setup_logging

    setup_logging(None, level=logging.WARNING if args.quiet else logging.INFO)
    try:
        return int(args.run(args))
    except InputError as err:
        print(f"genorisk {args.command}: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
