"""The genotype store: inputs checked, converted with plink2, and read back equal to the VCF reader."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.errors import InputError
from genorisk.genotypes import iter_dosage_chunks
from genorisk.store import (
    convert_to_store,
    describe_inputs,
    format_ids,
    iter_store_chunks,
    read_store_variants,
    reconcile_samples,
    store_samples,
)

pytestmark = pytest.mark.skipif(
    shutil.which("plink2") is None or shutil.which("bcftools") is None, reason="needs plink2 and bcftools"
)

N = 22  # not a multiple of 4: the .bed padding check has bits to look at
SAMPLES = [f"IND{i:02d}" for i in range(N)]
MALE = np.arange(N) % 3 == 0
SEX = {s: 1 if m else 2 for s, m in zip(SAMPLES, MALE, strict=True)}
HEADER = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=chr21,length=46709983>",
    "##contig=<ID=chrX,length=156040895>",
    '##INFO=<ID=R2,Number=1,Type=Float,Description="Imputation r2">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
]


def _write_vcf(path: Path, *, ds: bool = False, bad_ds: bool = False, samples=SAMPLES, seed: int = 7) -> Path:
    """chr21 (GT with missing and half-calls) and chrX (PAR1 diploid; non-PAR haploid males); optional DS."""
    rng = np.random.default_rng(seed)
    lines = list(HEADER)
    if ds:
        lines.append('##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">')
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples))
    records = [("chr21", 9_000_000 + 37 * i) for i in range(60)]
    records += [("chrX", 100_000 + 11 * i) for i in range(6)]  # GRCh38 PAR1
    records += [("chrX", 5_000_000 + 13 * i) for i in range(24)]
    for i, (chrom, pos) in enumerate(records):
        haploid_x = chrom == "chrX" and pos > 2_781_479
        cells = []
        for j in range(len(samples)):
            male = MALE[SAMPLES.index(samples[j])]
            if haploid_x and male:
                gt = rng.choice(["0", "1", "."], p=[0.5, 0.45, 0.05])
            else:
                gt = rng.choice(["0/0", "0/1", "1/1", "./.", "0/."], p=[0.4, 0.35, 0.2, 0.03, 0.02])
            if ds:
                ploidy = 1 if gt in ("0", "1", ".") else 2
                value = np.round(rng.uniform(0, ploidy), 4)
                if bad_ds and i == 5 and j == 3:
                    value = 2.0001
                gt = f"{gt}:{value}"
            cells.append(gt)
        vid = f"rs{i}" if i % 4 == 0 else "."
        fmt = "GT:DS" if ds else "GT"
        r2 = f"R2={rng.uniform(0, 1):.3f}"
        lines.append(f"{chrom}\t{pos}\t{vid}\tC\tT\t.\tPASS\t{r2}\t{fmt}\t" + "\t".join(cells))
    text = "\n".join(lines) + "\n"
    plain = path.with_name(path.name.removesuffix(".gz"))
    plain.write_text(text)
    if path.name.endswith(".gz"):
        subprocess.run(["bgzip", "-f", str(plain)], check=True)
        subprocess.run(["bcftools", "index", "-f", str(path)], check=True)
    return path


def _plink2(*args: str) -> None:
    subprocess.run(["plink2", *args, "--threads", "1", "--memory", "700"], check=True, capture_output=True)


def _chunks(prefix, **kw):
    return list(iter_store_chunks(prefix, **kw))


def _concat(chunks):
    return pd.concat([c.variants for c in chunks], ignore_index=True), np.concatenate([c.dosages for c in chunks])


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    d = tmp_path_factory.mktemp("store")
    vcf = _write_vcf(d / "cohort.vcf.gz")
    store = convert_to_store(vcf, d / "store", sex=SEX, build="GRCh38")
    return d, vcf, store


def _vcf_truth(vcf, **kw):
    chunks = list(iter_dosage_chunks(vcf, male=MALE, chunk_size=1000, **kw))
    variants, dosages = _concat(chunks)
    return (
        variants,
        dosages,
        np.concatenate([c.alt_allele_count for c in chunks]),
        np.concatenate([c.allele_number for c in chunks]),
    )


def test_vcf_store_equals_vcf_reader(cohort):
    _, vcf, store = cohort
    assert list(store) == ["chr21", "chrX"]
    truth_v, truth_d, truth_ac, truth_an = _vcf_truth(vcf)
    chunks = [c for prefix in store.values() for c in _chunks(prefix, chunk_size=7)]
    assert [len(c.variants) for c in _chunks(store["chr21"], chunk_size=7)] == [7] * 8 + [4]
    variants, dosages = _concat(chunks)
    pd.testing.assert_frame_equal(variants, truth_v)
    np.testing.assert_array_equal(dosages, truth_d)
    np.testing.assert_array_equal(np.concatenate([c.alt_allele_count for c in chunks]), truth_ac)
    np.testing.assert_array_equal(np.concatenate([c.allele_number for c in chunks]), truth_an)
    assert dosages.dtype == np.float32
    assert chunks[0].samples == SAMPLES
    assert store_samples(store["chrX"])["SEX"].tolist() == [SEX[s] for s in SAMPLES]


def test_sample_subset_and_order(cohort):
    _, vcf, store = cohort
    wanted = [SAMPLES[5], SAMPLES[0], SAMPLES[17]]
    male = MALE[[5, 0, 17]]
    truth = np.concatenate([c.dosages for c in iter_dosage_chunks(vcf, samples=wanted, male=male)])
    got = np.concatenate([c.dosages for p in store.values() for c in iter_store_chunks(p, samples=wanted)])
    np.testing.assert_array_equal(got, truth)


def test_male_het_on_non_par_x_is_missing(tmp_path):
    vcf = tmp_path / "het.vcf"
    lines = [
        *HEADER,
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tM1\tF1",
        "chrX\t5000000\t.\tC\tT\t.\tPASS\t.\tGT\t0/1\t0/1",
        "chrX\t60000\t.\tC\tT\t.\tPASS\t.\tGT\t0/1\t0/1",
    ]
    lines[-2:] = lines[-1:-3:-1]
    vcf.write_text("\n".join(lines) + "\n")
    store = convert_to_store(vcf, tmp_path / "s", sex={"M1": 1, "F1": 2}, build="GRCh38")
    (chunk,) = _chunks(store["chrX"])
    np.testing.assert_array_equal(chunk.dosages, [[1, 1], [np.nan, 1]])  # PAR het kept, non-PAR male het missing
    (chunk,) = _chunks(store["chrX"], male_het_missing=False)
    np.testing.assert_array_equal(chunk.dosages, [[1, 1], [1, 1]])


def test_variants_info_and_min_info(cohort):
    d, vcf, store = cohort
    table = read_store_variants(store["chr21"])
    assert list(table.columns) == ["chrom", "pos", "id", "ref", "alt", "info"]
    assert table["id"].iat[0] == "rs0" and pd.isna(table["id"].iat[1])
    assert table["info"].between(0, 1).all()
    keep = table["info"] >= 0.5
    chunks = _chunks(store["chr21"], min_info=0.5, chunk_size=4)
    variants, dosages = _concat(chunks)
    assert variants["pos"].tolist() == table.loc[keep, "pos"].tolist()
    assert [len(c.variants) for c in chunks[:-1]] == [4] * (len(chunks) - 1)
    full = np.concatenate([c.dosages for c in _chunks(store["chr21"])])
    np.testing.assert_array_equal(dosages, full[keep.to_numpy()])


@pytest.mark.integration
def test_every_input_form_gives_the_same_chunks(cohort):
    d, vcf, store = cohort
    want = {c: _concat(_chunks(p)) for c, p in store.items()}
    whole = d / "whole"
    _plink2("--vcf", str(vcf), "--vcf-half-call", "missing", "--output-chr", "chrM", "--make-pgen", "--out", str(whole))
    _plink2("--pfile", str(whole), "--output-chr", "chrM", "--make-bed", "--out", str(d / "bf"))
    _plink2(
        "--pfile",
        str(whole),
        "--output-chr",
        "chrM",
        "--export",
        "bgen-1.2",
        "bits=8",
        "ref-first",
        "--out",
        str(d / "bg"),
    )
    forms = {"pfile": whole, "bfile": d / "bf", "bgen": d / "bg.bgen"}
    for form, path in forms.items():
        got = convert_to_store(path, d / f"store_{form}", sex=SEX, build="GRCh38")
        assert list(got) == list(store), form
        for chrom, prefix in got.items():
            variants, dosages = _concat(_chunks(prefix))
            pd.testing.assert_frame_equal(variants, want[chrom][0], obj=f"{form} {chrom}")
            np.testing.assert_array_equal(dosages, want[chrom][1], err_msg=f"{form} {chrom}")


@pytest.mark.integration
def test_per_chromosome_files_and_pattern(cohort):
    d, vcf, store = cohort
    for chrom in ("chr21", "chrX"):
        part = str(d / f"part.{chrom}.vcf.gz")
        subprocess.run(["bcftools", "view", "-r", chrom, "-Oz", "-o", part, str(vcf)], check=True)
        subprocess.run(["bcftools", "index", part], check=True)
    sources = describe_inputs(str(d / "part.{chrom}.vcf.gz"))
    assert [s.chroms for s in sources] == [("chr21",), ("chrX",)]
    got = convert_to_store(sources, d / "store_parts", sex=SEX, build="GRCh38")
    for chrom, prefix in got.items():
        np.testing.assert_array_equal(_concat(_chunks(prefix))[1], _concat(_chunks(store[chrom]))[1])


def test_dosage_vcf_round_trips(tmp_path):
    vcf = _write_vcf(tmp_path / "ds.vcf.gz", ds=True)
    store = convert_to_store(vcf, tmp_path / "s", sex=SEX, build="GRCh38")
    truth_v, truth_d, _, _ = _vcf_truth(vcf)
    variants, dosages = _concat([c for p in store.values() for c in _chunks(p, male_het_missing=False)])
    pd.testing.assert_frame_equal(variants, truth_v)
    np.testing.assert_allclose(dosages, truth_d, atol=1 / 16384, rtol=0)


def test_bad_dosage_names_file_and_line_and_leaves_nothing(tmp_path):
    vcf = _write_vcf(tmp_path / "bad.vcf", ds=True, bad_ds=True)
    out = tmp_path / "s"
    with pytest.raises(InputError) as err:
        convert_to_store(vcf, out, sex=SEX)
    msg = str(err.value)
    assert str(vcf) in msg and "line 13" in msg and "invalid DS" in msg and "[0, 2]" in msg
    assert list(out.iterdir()) == []


def test_pgen_without_pvar_or_psam(cohort, tmp_path):
    _, _, store = cohort
    for missing in (".pvar", ".psam"):
        for ext in (".pgen", ".pvar", ".psam"):
            if ext != missing:
                shutil.copy(f"{store['chr21']}{ext}", tmp_path / f"c{ext}")
        (tmp_path / f"c{missing}").unlink(missing_ok=True)
        with pytest.raises(InputError, match=rf"c{missing}: {missing} of .*c\.pgen not found"):
            describe_inputs(tmp_path / "c.pgen")


def test_bed_with_short_fam(cohort, tmp_path):
    _, _, store = cohort
    _plink2("--pfile", str(store["chr21"]), "--make-bed", "--out", str(tmp_path / "b"))
    fam = (tmp_path / "b.fam").read_text().splitlines()
    assert describe_inputs(tmp_path / "b.bed")[0].samples == tuple(SAMPLES)
    (tmp_path / "b.fam").write_text("\n".join(fam[:-1]) + "\n")  # same bytes per variant: size cannot tell
    with pytest.raises(InputError, match=r"b\.bed: variant \d+: holds genotypes beyond the 21 samples of b\.fam"):
        describe_inputs(tmp_path / "b")
    (tmp_path / "b.fam").write_text("\n".join(fam[:-4]) + "\n")
    with pytest.raises(InputError, match=r"b\.bed: \d+ bytes, but b\.fam \(18 samples\)"):
        describe_inputs(tmp_path / "b")


def test_bgen_without_sample_ids(cohort, tmp_path):
    _, _, store = cohort
    _plink2("--pfile", str(store["chr21"]), "--export", "bgen-1.1", "ref-first", "--out", str(tmp_path / "g"))
    (tmp_path / "g.sample").unlink()
    with pytest.raises(InputError, match=r"g\.bgen: the BGEN stores no sample IDs .* no \.sample file"):
        describe_inputs(tmp_path / "g.bgen")


def test_files_disagreeing_on_samples(tmp_path):
    a = _write_vcf(tmp_path / "a.vcf")
    b = _write_vcf(tmp_path / "b.vcf", samples=SAMPLES[1::-1] + SAMPLES[2:])
    with pytest.raises(
        InputError,
        match=r"b\.vcf: same samples in another order .* sample 1: 'IND00' in a\.vcf, "
        r"'IND01' here",
    ):
        describe_inputs([a, b])
    c = _write_vcf(tmp_path / "c.vcf", samples=SAMPLES[:-1])
    with pytest.raises(InputError, match=r"c\.vcf: different samples"):
        describe_inputs([a, c])


def test_two_files_with_one_chromosome(tmp_path):
    a = _write_vcf(tmp_path / "a.vcf")
    shutil.copy(a, tmp_path / "copy.vcf")
    with pytest.raises(InputError, match=r"copy\.vcf: chr21: chromosome chr21 is also in .*a\.vcf"):
        describe_inputs([a, tmp_path / "copy.vcf"])


def test_reconcile_samples():
    ids = [f"S{i}" for i in range(1000)]
    np.testing.assert_array_equal(reconcile_samples(ids, ids[::-1]), np.arange(999, -1, -1))
    np.testing.assert_array_equal(reconcile_samples(ids, ["S5", "S2"], allow_extra=True), [5, 2])
    with pytest.raises(
        InputError,
        match=r"store\.psam: 2 sample_id\(s\) .* 'X1', 'X2'; 2 genotype sample\(s\) "
        r"have no row in the phenotype table: 'S998', 'S999'",
    ):
        reconcile_samples(ids, ids[:998] + ["X1", "X2"], store_path="store.psam")
    with pytest.raises(InputError, match=r"1000 genotype sample\(s\) .* 'S3', 'S4' \.\.\. and 995 more"):
        reconcile_samples(ids, [])
    with pytest.raises(InputError, match="duplicated sample_id values: 'S1'"):
        reconcile_samples(ids, ["S1", "S1"], allow_extra=True)
    assert format_ids(["a", "b"]) == "'a', 'b'"


def test_sex_must_cover_the_samples(tmp_path):
    vcf = _write_vcf(tmp_path / "a.vcf")
    with pytest.raises(InputError, match="'IND21'"):
        convert_to_store(vcf, tmp_path / "s", sex={s: SEX[s] for s in SAMPLES[:-1]})


def test_multiallelic_is_refused(tmp_path):
    vcf = tmp_path / "m.vcf"
    vcf.write_text(
        "\n".join(
            [
                *HEADER,
                "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB",
                "chr21\t100\t.\tC\tT,G\t.\tPASS\t.\tGT\t0/1\t1/2",
            ]
        )
        + "\n"
    )
    with pytest.raises(InputError, match=r"m\.vcf: chr21:100: multiallelic variant"):
        convert_to_store(vcf, tmp_path / "s")
    assert not list((tmp_path / "s").iterdir())
