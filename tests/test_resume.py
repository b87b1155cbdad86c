"""Killed mid-run and resumed, the workflow ends with the outputs of an uninterrupted run.

Both kill points are compared with ONE uninterrupted reference run: the session
fixture ``local_demo`` (conftest.py), which the other workflow tests read too, so
this file adds only the two interrupted-and-resumed runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import SNAKEFILE, SNAKEMAKE, prepare_workdir, run_snakemake

pytestmark = pytest.mark.slow

#: The demo's traits (config/demo.yaml), each with its features and bundle.
TRAITS = ("demo_disease", "demo_interaction")
# Outputs that must be byte-identical. metrics.json, model_card.json and
# bundle.json are compared without their documented run-dependent fields (RUN_DEPENDENT).
COMPARED = [
    "results/annotation/cohort.variants.parquet",
    *(
        f"results/{rel}".format(trait=trait)
        for trait in TRAITS
        for rel in (
            "features/{trait}/cohort.parquet",
            "model/{trait}/model.ubj",
            "model/{trait}/calibrator.json",
            "model/{trait}/cohort_risks.json",
            "model/{trait}/cohort_reference.json",
            "model/{trait}/cohort_variants.parquet",
        )
    ),
    "results/patients/batches/b00000/results.json",
    "results/patients/batches/b00001/results.json",
    "results/patients/P2/report.json",
    "results/patients/P2/report.html",
]


def kill_when_started(workdir: Path, rule: str, delay: float, timeout: float = 900) -> bool:
    """Start the workflow, SIGKILL its whole process group ``delay`` s after ``rule`` starts.

    Returns whether ``rule`` had already finished when the kill came (a short job
    can finish within the polling interval: its rerun is then rightly skipped).
    """
    log = workdir / "results" / "logs" / f"{rule}.log"  # rule or rule/wildcard
    proc = subprocess.Popen(
        [
            SNAKEMAKE,
            "--snakefile",
            str(SNAKEFILE),
            "--directory",
            str(workdir),
            "--configfile",
            str(workdir / "config.yaml"),
            "--cores",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not (log.exists() and "started" in log.read_text()):
            if proc.poll() is not None:
                raise AssertionError(f"workflow ended (exit {proc.returncode}) before rule {rule} started")
            if time.monotonic() > deadline:
                raise AssertionError(f"rule {rule} did not start within {timeout} s")
            time.sleep(0.05)
        time.sleep(delay)
        assert proc.poll() is None, f"workflow finished before it could be killed during {rule}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return f"rule {rule.split('/')[0]} finished" in log.read_text()


# Documented run-dependent fields: when and how long training ran, the hash
# of model_card.md, whose "Trained <time>" line carries that time, and in
# bundle.json the hashes of both cards and its own.
RUN_DEPENDENT = {"created", "training_seconds", "model_card.md", "model_card.json", "bundle_sha256"}


def without_run_dependent(obj):
    if isinstance(obj, dict):
        return {k: without_run_dependent(v) for k, v in obj.items() if k not in RUN_DEPENDENT}
    if isinstance(obj, list):
        return [without_run_dependent(v) for v in obj]
    return obj


def card_markdown_without_time(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("Trained ")]


def assert_same_outputs(a: Path, b: Path) -> None:
    for rel in COMPARED:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"{rel} differs"
    for trait in TRAITS:
        for name in ["metrics.json", "model_card.json", "bundle.json"]:
            rel = f"results/model/{trait}/{name}"
            docs = [without_run_dependent(json.loads((d / rel).read_text())) for d in (a, b)]
            assert docs[0] == docs[1], f"{rel} differs beyond its run-dependent fields"
        md = f"results/model/{trait}/model_card.md"
        assert card_markdown_without_time(a / md) == card_markdown_without_time(b / md)


@pytest.mark.parametrize(
    "rule, delay, not_trusted",
    [
        ("annotate_chunk/000", 0.0, "results/annotation/cohort.variants.parquet"),
        ("train_model/demo_disease", 1.0, "results/model/demo_disease/bundle.json"),
    ],
    ids=["during-annotation", "during-training"],
)
def test_killed_then_resumed_matches_uninterrupted(local_demo, tmp_path, rule, delay, not_trusted):
    workdir = prepare_workdir(tmp_path / "killed")
    finished_before_kill = kill_when_started(workdir, rule, delay=delay)
    # The killed job left nothing at the final name that a rerun would trust.
    assert not (workdir / not_trusted).exists()
    # What a user does after a crash (README): release Snakemake's lock, rerun.
    run_snakemake(workdir, "--unlock")
    proc = run_snakemake(workdir, "--rerun-incomplete")
    # The killed job runs again; one that finished before the kill is rightly not rerun.
    assert finished_before_kill or rule.split("/")[0] in proc.stdout + proc.stderr
    assert not list((workdir / "results").rglob(".*.tmp*")), "temporary files left behind after the rerun"
    assert_same_outputs(workdir, local_demo)
