"""Polygenic scores: scoring-file parsing, pgsc_calc-style matching, and plink2 as the oracle."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from genorisk.errors import InputError
from genorisk.scores import compute_scores, read_scoring_file

DATA = Path(__file__).parent / "data" / "pgs"
PLINK2 = shutil.which("plink2")

N_SAMPLES = 200
N_AUTO = 2000
N_X = 200
COMP = str.maketrans("ACGT", "TGCA")


# ------------------------------------------------------------------ simulation


def _simulate(tmp: Path, seed: int = 11):
    """A 200-sample VCF with missing calls, multiallelic and strand-ambiguous
    sites, and chrX with haploid male calls; weights with the truth of each row."""
    rng = np.random.default_rng(seed)
    male = rng.random(N_SAMPLES) < 0.5
    samples = [f"S{i:03d}" for i in range(N_SAMPLES)]
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=250000000>",
        "##contig=<ID=chrX,length=156000000>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
    ]
    weights = []  # (chrom, pos, vid, effect, other, weight, target_effect, kind)
    bases = np.array(list("ACGT"))
    nonamb_pairs = [("A", "C"), ("A", "G"), ("C", "A"), ("C", "T"), ("G", "A"), ("G", "T"), ("T", "C"), ("T", "G")]
    amb_pairs = [("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")]
    for chrom, n_var, start in (("chr1", N_AUTO, 10_000), ("chrX", N_X, 3_000_000)):
        positions = start + np.sort(rng.choice(5_000_000, n_var, replace=False))
        for pos in positions:
            vid = f"{chrom}_{pos}"
            u = rng.random()
            multi = chrom == "chr1" and u < 0.03
            ambiguous = not multi and u < 0.08
            if multi:
                ref, a1, a2 = rng.permutation(bases)[:3]
                alts = [a1, a2]
            else:
                ref, alt = (amb_pairs if ambiguous else nonamb_pairs)[rng.integers(4 if ambiguous else 8)]
                alts = [alt]
            p_alt = rng.uniform(0.05, 0.6, len(alts))
            probs = np.concatenate([[1 - p_alt.sum() / (1 + len(alts) - 1)], p_alt / (1 + len(alts) - 1)])
            probs = probs / probs.sum()
            h = rng.choice(len(probs), size=(N_SAMPLES, 2), p=probs)
            calls = []
            for s in range(N_SAMPLES):
                if rng.random() < 0.03:
                    calls.append("." if chrom == "chrX" and male[s] else "./.")
                elif chrom == "chrX" and male[s]:
                    calls.append(str(h[s, 0]))
                else:
                    calls.append(f"{h[s, 0]}{'|' if rng.random() < 0.5 else '/'}{h[s, 1]}")
            lines.append(f"{chrom}\t{pos}\t{vid}\t{ref}\t{','.join(alts)}\t.\tPASS\t.\tGT\t" + "\t".join(calls))
            # Effect allele: REF or an ALT; reported on the other strand for some.
            effect = ref if rng.random() < 0.4 else alts[rng.integers(len(alts))]
            other = alts[0] if effect == ref else ref
            # A complementary pair (A/T, C/G) reported on the other strand is
            # indistinguishable from swapped alleles: never flip those.
            flip = effect.translate(COMP) != other and rng.random() < 0.2
            e_rep, o_rep = (effect.translate(COMP), other.translate(COMP)) if flip else (effect, other)
            kind = "multi" if multi else "ambiguous" if ambiguous else ("flip" if flip else "plain")
            assert not (ambiguous and flip)
            weights.append((chrom, pos, vid, e_rep, o_rep, float(rng.normal(0, 0.001)), effect, kind))
    vcf_txt = tmp / "sim.vcf"
    vcf_txt.write_text("\n".join(lines) + "\n")
    vcf = tmp / "sim.vcf.gz"
    pysam.tabix_compress(str(vcf_txt), str(vcf), force=True)
    w = pd.DataFrame(weights, columns=["chrom", "pos", "vid", "effect", "other", "weight", "target_effect", "kind"])
    score = tmp / "sim_score.txt"
    with open(score, "w") as fh:
        fh.write("#pgs_id=SIM\n#genome_build=GRCh38\n")
        fh.write("chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n")
        for r in w.itertuples():
            fh.write(f"{r.chrom.removeprefix('chr')}\t{r.pos}\t{r.effect}\t{r.other}\t{r.weight!r}\n")
    sex = tmp / "sex.txt"
    sex.write_text("#IID\tSEX\n" + "".join(f"{s}\t{1 if m else 2}\n" for s, m in zip(samples, male, strict=True)))
    return vcf, score, sex, samples, male, w


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return _simulate(tmp_path_factory.mktemp("sim"))


def _plink2_sums(tmp: Path, vcf: Path, sex: Path, w: pd.DataFrame, *extra: str) -> pd.Series:
    """plink2 --score sums for weights ``w`` (variant ID, target-strand effect allele)."""
    wfile = tmp / "plink_weights.txt"
    w[["vid", "target_effect", "weight"]].to_csv(wfile, sep="\t", index=False, header=["ID", "A1", "SIM"])
    out = tmp / "p2"
    cmd = [
        PLINK2,
        "--vcf",
        str(vcf),
        "--update-sex",
        str(sex),
        "--vcf-half-call",
        "missing",
        "--score",
        str(wfile),
        "header-read",
        "cols=+scoresums",
        *extra,
        "--memory",
        "1000",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = pd.read_csv(f"{out}.sscore", sep="\t")
    return s.set_index("#IID")["SIM_SUM"]


# ----------------------------------------------------------- oracle: plink2


@pytest.mark.skipif(PLINK2 is None, reason="plink2 not installed")
@pytest.mark.parametrize("missing", ["mean", "zero"])
def test_default_matching_agrees_with_plink2(sim, tmp_path, missing):
    vcf, score, sex, samples, male, w = sim
    res = compute_scores(vcf, [score], male=male, missing=missing)
    used = w[w["kind"].isin(["plain", "flip"])]
    extra = ("no-mean-imputation",) if missing == "zero" else ()
    # plink2 "no-mean-imputation" keeps the score sum of the called alleles.
    ref = _plink2_sums(tmp_path, vcf, sex, used, *extra)
    ours = res.sums["SIM"].reindex(ref.index)
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-6)
    assert np.abs(ours).max() > 0.02  # the comparison is not between zeros


@pytest.mark.skipif(PLINK2 is None, reason="plink2 not installed")
def test_keep_all_agrees_with_plink2(sim, tmp_path):
    vcf, score, sex, samples, male, w = sim
    res = compute_scores(vcf, [score], male=male, keep_ambiguous=True, keep_multiallelic=True)
    ref = _plink2_sums(tmp_path, vcf, sex, w)
    np.testing.assert_allclose(res.sums["SIM"].reindex(ref.index).to_numpy(), ref.to_numpy(), rtol=0, atol=1e-6)


def test_audit_reports_each_variant(sim):
    vcf, score, sex, samples, male, w = sim
    res = compute_scores(vcf, [score], male=male)
    a = res.audit.set_index("pos")
    truth = w.set_index("pos")
    assert len(a) == len(w)
    assert (a.loc[truth.index[truth.kind == "ambiguous"], "reason"] == "strand-ambiguous dropped").all()
    assert (a.loc[truth.index[truth.kind == "multi"], "reason"] == "multiallelic dropped").all()
    flipped = a.loc[truth.index[truth.kind == "flip"], "match_type"]
    assert flipped.str.endswith("_flip").all()
    plain = a.loc[truth.index[truth.kind == "plain"], "match_type"]
    assert plain.isin(["refalt", "altref"]).all()
    s = res.summary.loc["SIM"]
    assert s["n_matched"] == (truth.kind.isin(["plain", "flip"])).sum()
    assert s["match_rate"] == pytest.approx(s["n_matched"] / len(w))


def test_low_match_rate_fails_with_counts(sim):
    vcf, score, sex, samples, male, w = sim
    with pytest.raises(InputError) as err:
        compute_scores(vcf, [score], male=male, min_match_rate=0.99)
    msg = str(err.value)
    n_amb = (w.kind == "ambiguous").sum()
    assert "SIM:" in msg and f"{n_amb} strand-ambiguous dropped" in msg and "< 99%" in msg


def test_several_scores_in_one_pass(sim, tmp_path):
    vcf, score, sex, samples, male, w = sim
    half = tmp_path / "half.txt"
    text = score.read_text().replace("#pgs_id=SIM", "#pgs_id=HALF").splitlines()
    half.write_text("\n".join(text[:3] + [line for line in text[3:] if int(line.split("\t")[1]) % 2 == 0]) + "\n")
    both = compute_scores(vcf, [score, half], male=male, min_match_rate=0.5)
    alone = compute_scores(vcf, [half], male=male, min_match_rate=0.5)
    assert list(both.sums.columns) == ["SIM", "HALF"]
    np.testing.assert_allclose(both.sums["HALF"], alone.sums["HALF"], atol=1e-12)
    assert not np.allclose(both.sums["HALF"], both.sums["SIM"])


# ------------------------------------------------------ real scoring files


def test_reads_harmonized_catalog_file():
    sf = read_scoring_file(DATA / "PGS000001_hmPOS_GRCh38.txt")
    assert sf.score_id == "PGS000001"
    assert sf.header["HmPOS_build"] == "GRCh38"
    assert len(sf.variants) == 77
    first = sf.variants.iloc[0]
    assert (first.chrom, first.pos, first.effect_allele, first.other_allele) == ("11", 69516650, "T", "C")
    assert first.line == 21


def test_reads_gzipped_author_reported_file_by_rsid():
    sf = read_scoring_file(DATA / "PGS000001.txt.gz")
    assert len(sf.variants) == 77
    assert sf.variants["pos"].isna().all() and sf.variants["rsid"].notna().all()


def test_reads_dominant_recessive_and_dosage_weights():
    dom = read_scoring_file(DATA / "PGS000802_hmPOS_GRCh37.txt").variants
    assert dom["is_dominant"].sum() > 0 and dom["is_recessive"].sum() > 0
    assert dom.iloc[0].pos == 169492101  # hm_pos, not the author's chr_position
    nonadd = read_scoring_file(DATA / "PGS004255_hmPOS_GRCh38.txt.gz").variants
    assert nonadd["effect_weight"].isna().all()
    assert nonadd.iloc[0][["dosage_0_weight", "dosage_1_weight", "dosage_2_weight"]].tolist() == pytest.approx(
        [-0.0983381, 0.0893416, 0.4437184]
    )


def test_reads_space_delimited_and_custom_files():
    genopred = read_scoring_file(DATA / "PGS002804.txt.gz")
    assert genopred.variants.iloc[0][["chrom", "pos", "effect_allele"]].tolist() == ["22", 17054720, "C"]
    custom = read_scoring_file(DATA / "custom.txt")
    assert custom.score_id == "test" and custom.variants.iloc[0].effect_weight == pytest.approx(-0.0276)
    pgsc = read_scoring_file(DATA / "PGS001229_22.txt")
    assert pgsc.score_id == "PGS001229" and (pgsc.variants["chrom"] == "22").all()


def test_complex_hla_alleles_are_skipped_and_counted():
    sf = read_scoring_file(DATA / "complex_variants_PGS000021.txt")
    assert sf.n_complex_skipped == 8
    assert sf.variants["effect_allele"].str.fullmatch("[ACGT]+").all()


@pytest.mark.parametrize(
    "name, problem",
    [
        (
            "bad_harmonised.txt",
            "line 21: variant has no position (hm_chr/hm_pos empty (harmonisation failed)) and no rsID",
        ),
        ("invalid_scorefile.txt", "line 16: variant has no position (no chr_name/chr_position) and no rsID"),
    ],
)
def test_invalid_scoring_files_are_rejected(name, problem):
    with pytest.raises(InputError) as err:
        read_scoring_file(DATA / name)
    assert str(err.value) == f"{DATA / name}: {problem}"


def test_non_numeric_weight_names_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("chr_name\tchr_position\teffect_allele\teffect_weight\n1\t100\tA\t0.1\n1\t200\tG\tbig\n")
    with pytest.raises(InputError, match=r"bad.txt: line 3: weight is not a number"):
        read_scoring_file(bad)


def test_dominant_and_dosage_weights_are_applied(tmp_path):
    vcf = tmp_path / "t.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\tc\n"
        "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1/1\n"
        "1\t200\t.\tC\tT\t.\t.\t.\tGT\t0/0\t0/1\t1/1\n"
        "1\t300\t.\tC\tA\t.\t.\t.\tGT\t0/0\t0/1\t1/1\n"
    )
    w = tmp_path / "w.txt"
    w.write_text(
        "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\tis_dominant\tis_recessive\n"
        "1\t100\tG\tA\t1\tTrue\tFalse\n1\t200\tT\tC\t10\tFalse\tTrue\n"
    )
    nonadd = tmp_path / "n.txt"
    nonadd.write_text(
        "chr_name\tchr_position\teffect_allele\tother_allele\tdosage_0_weight\tdosage_1_weight\tdosage_2_weight\n"
        "1\t300\tC\tA\t100\t200\t400\n"
    )
    res = compute_scores(vcf, [w, nonadd], min_match_rate=1.0)
    assert res.sums.columns.tolist() == ["w", "n"]
    assert res.sums["w"].tolist() == [0.0, 1.0, 11.0]
    # effect C is REF: dosages 2, 1, 0 copies
    assert res.sums["n"].tolist() == [400.0, 200.0, 100.0]


# ------------------------------------------- fast paths agree with the reference


def _read_both(path, monkeypatch):
    """read_scoring_file through the column-wise parser, then through the row parser."""
    import genorisk.scores.scoring_file as scores

    calls = []
    columns = scores._parse_body_columns

    def spy(*args):
        out = columns(*args)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(scores, "_parse_body_columns", spy)
    fast = read_scoring_file(path)
    monkeypatch.setattr(scores, "_parse_body_columns", lambda *args: None)
    rows = read_scoring_file(path)
    return fast, rows, calls[0]


@pytest.mark.parametrize(
    "name",
    [
        "PGS000001_hmPOS_GRCh38.txt",
        "PGS000001.txt.gz",
        "PGS000802_hmPOS_GRCh37.txt",
        "PGS001229_22.txt",
        "PGS002804.txt.gz",
        "PGS004255_hmPOS_GRCh38.txt.gz",
        "complex_variants_PGS000021.txt",
        "custom.txt",
    ],
)
def test_column_parser_equals_row_parser(name, monkeypatch):
    fast, rows, used_columns = _read_both(DATA / name, monkeypatch)
    assert used_columns  # the column-wise parser handled this file
    pd.testing.assert_frame_equal(fast.variants, rows.variants)
    assert (fast.n_complex_skipped, fast.header) == (rows.n_complex_skipped, rows.header)


@pytest.mark.parametrize(
    "body, used_columns",
    [
        ("1\t100\t a \tG\t0.5\r\n1\t200\tC\t\t1e-3\r\n", True),  # padded value, empty other allele, CRLF
        ("1\t100\tA\tG\t0.5\n1\t200\tC\n", False),  # short row: no weight, an error either way
        ("1\t100\tA\tG\t0.5\n\n# note\n1\t200\tC\tT\t-2\n", False),  # blank and comment lines among variants
        ("1 100  A G 0.5\n 1 200 C T -2\n", True),  # whitespace-delimited (header below made tab-free)
        ("1\t100\tA\tG\tbig\n", False),
    ],
)
def test_column_parser_edge_cases_match_row_parser(tmp_path, monkeypatch, body, used_columns):
    sep = "\t" if "\t" in body else " "
    path = tmp_path / "w.txt"
    path.write_text(
        "#pgs_id=W\n"
        + sep.join(["chr_name", "chr_position", "effect_allele", "other_allele", "effect_weight"])
        + "\n"
        + body
    )
    try:
        fast, rows, used = _read_both(path, monkeypatch)
    except InputError as err:
        assert not used_columns
        monkeypatch.undo()
        with pytest.raises(InputError) as again:
            read_scoring_file(path)
        assert str(again.value) == str(err)
        return
    assert used == used_columns
    pd.testing.assert_frame_equal(fast.variants, rows.variants)
    assert fast.variants["effect_allele"].tolist() == ["A", "C"]


def test_rows_without_other_allele_are_not_duplicates(tmp_path):
    """Regression: under pandas 3 a NaN other allele made every such row a 'duplicate'."""
    vcf = tmp_path / "t.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\n"
        "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\n1\t200\t.\tC\tT\t.\t.\t.\tGT\t1/1\t0/1\n"
    )
    w = tmp_path / "w.txt"
    w.write_text("chr_name\tchr_position\teffect_allele\teffect_weight\n1\t100\tG\t1\n1\t200\tC\t10\n")
    res = compute_scores(vcf, [w], min_match_rate=1.0)
    assert res.audit["match_type"].tolist() == ["no_oa_alt", "no_oa_ref"]
    assert res.sums["w"].tolist() == [0.0, 11.0]


def test_small_chunks_give_the_same_scores(sim):
    """Chunk boundaries (records of one position split over chunks) change nothing."""
    vcf, score, sex, samples, male, w = sim
    kw = dict(male=male, keep_ambiguous=True, keep_multiallelic=True, min_match_rate=0.5)
    big = compute_scores(vcf, [score], **kw)
    small = compute_scores(vcf, [score], chunk_size=7, **kw)
    np.testing.assert_allclose(small.sums.to_numpy(), big.sums.to_numpy(), rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(small.audit, big.audit)
    assert (big.audit["target_alt"].str.len() == 1).all() and big.summary.loc["SIM", "n_matched"] == len(w)
