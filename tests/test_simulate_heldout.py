"""Held-out patients as one multi-sample batch VCF: rows of the sheet sharing a ``vcf`` path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.errors import ConfigError
from genorisk.simulate import SimulationConfig, simulate
from genorisk.simulate.run import patient_vcf_groups

REPO = Path(__file__).resolve().parents[1]
GENE_MODEL = REPO / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz"

SMALL = dict(
    seed=11,
    n_cohort=400,
    n_reference=50,
    start=25_000_001,
    end=25_600_000,
    demography="constant",
    outlier_population=None,
    h2=0.3,
    n_causal=20,
    burden_genes=1,
    burden=0.02,
    prevalence=0.2,
    ancestry_panel=0,
    pgs_gwas_n=0,
    # A second disease: held-out labels per disease.
    extra_traits=[{"column": "status_b", "prevalence": 0.3, "h2": 0.2, "n_causal": 10, "gxage": 0.1}],
)


def _sheet(out: Path, batch: bool) -> pd.DataFrame:
    ids = [f"H{i}" for i in range(1, 6)]
    vcfs = [str(out / "heldout.vcf.gz")] * 5 if batch else [str(out / f"{i}.vcf.gz") for i in ids]
    return pd.DataFrame({"patient_id": ids, "vcf": vcfs, "sample": [f"S{i}" for i in ids]})


def _genotypes(vcf: Path, sample: str) -> str:
    """The sample's calls at the chr21 sites, as bcftools prints them."""
    return subprocess.run(
        ["bcftools", "query", "-s", sample, "-r", "chr21", "-f", "%POS[\t%GT]\n", str(vcf)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture(scope="module")
def sims(tmp_path_factory):
    single = tmp_path_factory.mktemp("single")
    batch = tmp_path_factory.mktemp("batch")
    simulate(SimulationConfig(**SMALL), _sheet(single, batch=False), single, GENE_MODEL)
    simulate(SimulationConfig(**SMALL), _sheet(batch, batch=True), batch, GENE_MODEL)
    return single, batch


def test_groups_keep_sheet_order_and_first_appearance():
    sheet = pd.DataFrame({"patient_id": ["a", "b", "c", "d"], "vcf": ["x", "y", "x", "z"]})
    groups = patient_vcf_groups(sheet)
    assert [g[0] for g in groups] == ["x", "y", "z"]
    assert [g[1].tolist() for g in groups] == [[0, 2], [1], [3]]
    # Without a sample column the sample is the patient ID.
    assert [g[2] for g in groups] == [["a", "c"], ["b"], ["d"]]


def test_one_sample_named_twice_in_a_batch_is_refused_with_the_rows():
    sheet = pd.DataFrame({"patient_id": ["a", "b"], "vcf": ["x", "x"], "sample": ["S", "S"]})
    with pytest.raises(ConfigError, match=r"'S' is named twice for the VCF x \(rows 1 and 2\)"):
        patient_vcf_groups(sheet)


@pytest.mark.integration
def test_batch_vcf_holds_every_row_with_the_calls_of_its_own_file(sims):
    single, batch = sims
    vcf = batch / "heldout.vcf.gz"
    assert sorted(p.name for p in batch.glob("*.vcf.gz")) == [
        "clinvar.simulated.vcf.gz",
        "cohort.vcf.gz",
        "heldout.vcf.gz",
        "popfreq.simulated.vcf.gz",
    ]
    samples = subprocess.run(["bcftools", "query", "-l", str(vcf)], check=True, capture_output=True, text=True)
    assert samples.stdout.split() == [f"SH{i}" for i in range(1, 6)]
    # The same person's genotypes whether written alone or in the batch (the draws do not depend on it).
    for i in (1, 3, 5):
        alone = _genotypes(single / f"H{i}.vcf.gz", f"SH{i}")
        assert alone and alone == _genotypes(vcf, f"SH{i}")
    assert _genotypes(vcf, "SH1") != _genotypes(vcf, "SH2")


@pytest.mark.integration
def test_batch_truth_labels_every_held_out_person(sims):
    single, batch = sims
    truth_single = pd.read_csv(single / "patients_truth.tsv", sep="\t")
    truth_batch = pd.read_csv(batch / "patients_truth.tsv", sep="\t")
    pd.testing.assert_frame_equal(truth_single, truth_batch)
    assert truth_batch["patient_id"].tolist() == [f"H{i}" for i in range(1, 6)]
    assert set(truth_batch["status"]) <= {0, 1}
    assert set(truth_batch["status_b"]) <= {0, 1}
    threshold = pd.read_json(batch / "truth.json", typ="series")["traits"]["status_b"]["liability_threshold"]
    assert ((truth_batch["status_b_liability"] > threshold).astype(int) == truth_batch["status_b"]).all()
    assert np.isfinite(truth_batch[["liability", "genetic_value"]].to_numpy()).all()
    # The cohort is the same simulation either way.
    for name in ("cohort.vcf.gz", "phenotypes.tsv", "truth.json"):
        assert (single / name).read_bytes() == (batch / name).read_bytes()
