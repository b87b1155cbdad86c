"""PGS sums from the store equal ``plink2 --score`` on the original input, for every input form (issue #12 item 7).

One small cohort (two autosomes, rare and common variants, missing calls) is
written as one VCF, per-chromosome VCFs, a PLINK 2 fileset, a PLINK 1 fileset
and BGEN (converted with plink2 and split with bcftools, as in
tests/test_input_forms.py). For each form the store is built from that form
(:func:`genorisk.store.convert_to_store`) and scored with
:func:`genorisk.scores.compute_scores`; the oracle is ``plink2 --score`` run
directly on the form's own file(s), summed over files, with mean imputation of
missing calls (plink2's default). Weights are small so plink2's 6 printed
digits resolve 1e-6.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from genorisk.scores import compute_scores
from genorisk.store import convert_to_store, write_manifest
from genorisk.store.reader import pgen_dosage_flags

PLINK2 = shutil.which("plink2")
BCFTOOLS = shutil.which("bcftools")
pytestmark = pytest.mark.skipif(not (PLINK2 and BCFTOOLS), reason="plink2 and bcftools are needed")

N_SAMPLES = 300
CHROMS = {"chr1": 400, "chr2": 250}
COMP = str.maketrans("ACGT", "TGCA")
COMMON = ["--threads", "1", "--memory", "1000", "--silent"]


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


def _simulate(out: Path, seed: int = 5) -> tuple[Path, Path, pd.DataFrame, list[str]]:
    """A bgzipped VCF of hard calls (rare and common SNPs, 2 % missing) and a scoring file on every variant."""
    rng = np.random.default_rng(seed)
    samples = [f"P{i:03d}" for i in range(N_SAMPLES)]
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c},length=250000000>" for c in CHROMS]
    lines += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    lines += ["#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples)]
    rows = []
    for chrom, n in CHROMS.items():
        positions = np.sort(rng.choice(np.arange(10_000, 5_000_000), size=n, replace=False))
        for pos in positions.tolist():
            # No A/T or C/G pairs: those are strand-ambiguous and dropped by the matcher.
            ref = str(rng.choice(list("ACGT")))
            alt = str(rng.choice([b for b in "ACGT" if b != ref and b != ref.translate(COMP)]))
            # Rare variants are stored as sparse lists in the .pgen, common ones dense: both paths are used.
            freq = rng.choice([0.002, 0.01, 0.05, 0.3, 0.6])
            g = rng.binomial(2, freq, size=N_SAMPLES)
            calls = np.array(["0/0", "0/1", "1/1"])[g]
            calls[rng.random(N_SAMPLES) < 0.02] = "./."
            vid = f"{chrom}_{pos}"
            lines.append(f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\t.\tGT\t" + "\t".join(calls))
            effect = ref if rng.random() < 0.4 else alt
            other = alt if effect == ref else ref
            rows.append((chrom, pos, vid, effect, other, float(rng.normal(0, 0.001))))
    text = out / "cohort.vcf"
    text.write_text("\n".join(lines) + "\n")
    vcf = out / "cohort.vcf.gz"
    pysam.tabix_compress(str(text), str(vcf), force=True)
    pysam.tabix_index(str(vcf), preset="vcf", force=True, csi=True)
    weights = pd.DataFrame(rows, columns=["chrom", "pos", "vid", "effect", "other", "weight"])
    score = out / "score.txt"
    with open(score, "w") as fh:
        fh.write("#pgs_id=FORMS\n#genome_build=GRCh38\n")
        fh.write("chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n")
        for r in weights.itertuples():
            fh.write(f"{r.chrom.removeprefix('chr')}\t{r.pos}\t{r.effect}\t{r.other}\t{r.weight!r}\n")
    return vcf, score, weights, samples


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> dict:
    """The cohort in every form: per form, the store input and the plink2 input flags of each original file."""
    out = tmp_path_factory.mktemp("pgs_forms")
    vcf, score, weights, samples = _simulate(out)
    _run([PLINK2, "--vcf", str(vcf), "--make-pgen", "--out", str(out / "cohort"), *COMMON])
    _run([PLINK2, "--pfile", str(out / "cohort"), "--make-bed", "--out", str(out / "cohort"), *COMMON])
    _run([PLINK2, "--pfile", str(out / "cohort"), "--export", "bgen-1.2", "bits=8", "ref-first",
          "--out", str(out / "cohort"), *COMMON])  # fmt: skip
    parts = []
    for chrom in CHROMS:
        part = out / f"cohort.{chrom}.vcf.gz"
        _run([BCFTOOLS, "view", "--no-version", "-r", chrom, "-Oz", "-o", str(part), str(vcf)])
        _run([BCFTOOLS, "index", "-c", str(part)])
        parts.append(part)
    bgen, sample = out / "cohort.bgen", out / "cohort.sample"
    forms = {
        "vcf": (dict(genotypes=vcf), [["--vcf", str(vcf)]]),
        "vcfs": (dict(genotypes=[str(p) for p in parts]), [["--vcf", str(p)] for p in parts]),
        "pfile": (dict(genotypes=out / "cohort", form="pfile"), [["--pfile", str(out / "cohort")]]),
        "bfile": (dict(genotypes=out / "cohort", form="bfile"), [["--bfile", str(out / "cohort")]]),
        "bgen": (
            dict(genotypes=bgen, form="bgen", sample_file=sample),
            [["--bgen", str(bgen), "ref-first", "--sample", str(sample)]],
        ),
    }
    return {"out": out, "score": score, "weights": weights, "samples": samples, "forms": forms}


def _plink2_sums(out: Path, name: str, inputs: list[list[str]], weights: pd.DataFrame) -> pd.Series:
    """plink2 --score on each original input file (mean imputation, its default), summed over files."""
    wfile = out / "plink2_weights.tsv"
    weights[["vid", "effect", "weight"]].to_csv(wfile, sep="\t", index=False, header=["ID", "A1", "W"])
    total = None
    for i, flags in enumerate(inputs):
        prefix = out / f"p2_{name}_{i}"
        _run([PLINK2, *flags, "--score", str(wfile), "header-read", "cols=+scoresums", "--out", str(prefix), *COMMON])
        table = pd.read_csv(f"{prefix}.sscore", sep="\t")
        s = table.set_index("IID" if "IID" in table else "#IID")["W_SUM"]  # a .fam gives #FID, IID
        total = s if total is None else total + s
    assert total is not None
    return total


@pytest.mark.parametrize("form", ["vcf", "vcfs", "pfile", "bfile", "bgen"])
def test_store_sums_equal_plink2_on_the_original_input(cohort, form, tmp_path):
    store_args, plink_inputs = cohort["forms"][form]
    prefixes = convert_to_store(out_dir=tmp_path / "store", build="GRCh38", **store_args)
    assert list(prefixes) == list(CHROMS)
    manifest = write_manifest(tmp_path / "store" / "store.json", prefixes)
    result = compute_scores(manifest, [cohort["score"]], min_match_rate=1.0)
    assert int(result.summary.loc["FORMS", "n_matched"]) == len(cohort["weights"])
    want = _plink2_sums(tmp_path, form, plink_inputs, cohort["weights"])
    ours = result.sums["FORMS"]
    assert list(ours.index) == cohort["samples"]
    np.testing.assert_allclose(ours.reindex(want.index).to_numpy(), want.to_numpy(), rtol=0, atol=1e-6)
    assert np.abs(ours).max() > 0.005  # the sums are not all near zero: the comparison can fail


def test_every_form_gives_the_same_store_sums(cohort, tmp_path):
    """Beyond plink2's printed digits: the store sums of every form agree to 1e-12 with the one-VCF store's."""
    sums = {}
    for form, (store_args, _) in cohort["forms"].items():
        prefixes = convert_to_store(out_dir=tmp_path / form, build="GRCh38", **store_args)
        manifest = write_manifest(tmp_path / form / "store.json", prefixes)
        sums[form] = compute_scores(manifest, [cohort["score"]]).sums["FORMS"]
    # And the VCF path (every record read, no store) on the original VCF.
    sums["vcf path"] = compute_scores(cohort["forms"]["vcf"][0]["genotypes"], [cohort["score"]]).sums["FORMS"]
    for form, s in sums.items():
        np.testing.assert_allclose(s.to_numpy(), sums["vcf"].to_numpy(), rtol=0, atol=1e-12, err_msg=form)


@pytest.mark.parametrize("missing", ["mean", "zero"])
def test_a_sample_subset_in_another_order_equals_the_vcf_path(cohort, tmp_path, missing):
    """Sparse and dense store reads of a reordered subset: the subset's own means, as the VCF path gives them."""
    vcf = cohort["forms"]["vcf"][0]["genotypes"]
    prefixes = convert_to_store(vcf, tmp_path / "store", build="GRCh38")
    manifest = write_manifest(tmp_path / "store" / "store.json", prefixes)
    pick = cohort["samples"][::-4]
    part = compute_scores(manifest, [cohort["score"]], samples=pick, missing=missing).sums["FORMS"]
    want = compute_scores(vcf, [cohort["score"]], samples=pick, missing=missing).sums["FORMS"]
    assert list(part.index) == pick
    np.testing.assert_allclose(part.to_numpy(), want.to_numpy(), rtol=0, atol=1e-12)
    full = compute_scores(manifest, [cohort["score"]], missing=missing).sums["FORMS"]
    if missing == "zero":  # without imputation a sample's sum is its own
        np.testing.assert_allclose(part.to_numpy(), full.loc[pick].to_numpy(), rtol=0, atol=1e-12)
    else:  # the subset's means differ from the whole cohort's
        assert not np.allclose(part.to_numpy(), full.loc[pick].to_numpy(), rtol=0, atol=1e-9)


def test_imputed_dosages_equal_plink2_on_the_vcf(tmp_path):
    """DS dosages (rare variants stored as sparse dosage lists, common ones dense) with missing values."""
    rng = np.random.default_rng(8)
    samples = [f"D{i:03d}" for i in range(200)]
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr3,length=200000000>"]
    lines += ['##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">']
    lines += ["#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples)]
    rows = []
    for pos in range(1000, 1000 + 300 * 50, 50):
        freq = rng.choice([0.005, 0.02, 0.2, 0.5])
        ds = np.clip(rng.binomial(2, freq, size=len(samples)) + rng.normal(0, 0.15, len(samples)), 0, 2)
        # Half the variants are certain calls (whole DS: stored as hard calls only), half partly uncertain.
        certain = rng.random(len(samples)) < (1.0 if rng.random() < 0.5 else 0.7)
        ds = np.where(certain, np.rint(ds), ds)
        cells = np.array([f"{x:.3f}" for x in ds], dtype=object)
        cells[rng.random(len(samples)) < 0.02] = "."
        lines.append(f"chr3\t{pos}\tv{pos}\tA\tG\t.\tPASS\t.\tDS\t" + "\t".join(cells))
        effect = "A" if rng.random() < 0.4 else "G"
        rows.append(("chr3", pos, f"v{pos}", effect, "G" if effect == "A" else "A", float(rng.normal(0, 0.001))))
    text = tmp_path / "ds.vcf"
    text.write_text("\n".join(lines) + "\n")
    vcf = tmp_path / "ds.vcf.gz"
    pysam.tabix_compress(str(text), str(vcf), force=True)
    pysam.tabix_index(str(vcf), preset="vcf", force=True, csi=True)
    weights = pd.DataFrame(rows, columns=["chrom", "pos", "vid", "effect", "other", "weight"])
    score = tmp_path / "score.txt"
    with open(score, "w") as fh:
        fh.write(
            "#pgs_id=DS\n#genome_build=GRCh38\nchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
        )
        for r in weights.itertuples():
            fh.write(f"3\t{r.pos}\t{r.effect}\t{r.other}\t{r.weight!r}\n")
    prefixes = convert_to_store(vcf, tmp_path / "store", build="GRCh38", dosage="DS")
    manifest = write_manifest(tmp_path / "store" / "store.json", prefixes)
    flags = pgen_dosage_flags(f"{prefixes['chr3']}.pgen", len(weights))
    assert flags is not None and 0 < flags.sum() < len(flags)  # dosage tracks where a DS is not a whole number
    ours = compute_scores(manifest, [score], min_match_rate=1.0).sums["DS"]
    want = _plink2_sums(tmp_path, "ds", [["--vcf", str(vcf), "dosage=DS"]], weights)
    np.testing.assert_allclose(ours.reindex(want.index).to_numpy(), want.to_numpy(), rtol=0, atol=1e-6)
    assert np.abs(ours).max() > 0.005


def test_dosage_flags_read_from_a_multi_block_pgen_header(tmp_path):
    """pgen_dosage_flags marks exactly the variants whose dosages differ from their hard calls (3 header blocks)."""
    import pgenlib

    prefix = tmp_path / "dummy"
    _run([PLINK2, "--dummy", "12", "140000", "0.05", "dosage-freq=0.02", "--make-pgen", "--out", str(prefix), *COMMON])
    flags = pgen_dosage_flags(f"{prefix}.pgen", 140000)
    assert flags is not None
    reader = pgenlib.PgenReader(f"{prefix}.pgen".encode())
    dosages = np.empty((140000, 12), dtype=np.float32)
    calls = np.empty((140000, 12), dtype=np.int8)
    reader.read_dosages_range(0, 140000, dosages)
    reader.read_range(0, 140000, calls)
    reader.close()
    differ = (dosages != calls.astype(np.float32)).any(axis=1)
    assert differ.any() and not differ.all()
    assert not (differ & ~flags).any()  # every variant with a fractional dosage is flagged
    assert flags[~differ].mean() < 0.05  # and almost none whose dosages are its hard calls
