"""Polygenic scores: scoring-file parsing, pgsc_calc-style matching, and plink2 as the oracle."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from genorisk.errors import InputError
from genorisk.scores import compute_scores, is_ref_effect, read_scoring_file

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
        # Unicode padding str.strip removes, a digit separator float() reads, a multi-allele and a "." other allele.
        ("1\t100\t\xa0a\tG/T\t0.5\n1\t200\tc\x1f\t.\t1_0\n", True),
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


# ------------------------------------------------------------ builds and liftover

CHAIN = DATA / "test_hg19ToHg38.over.chain"  # chr21 GRCh37 -> GRCh38 (and chr22), made for these tests
GRCH38_CHR21 = 46_709_983


def _lift_truth(p37: int) -> tuple[int, str] | None:
    """The GRCh38 position and strand of a GRCh37 chr21 position under the test chain (None: does not lift)."""
    if 9_000_001 <= p37 <= 10_000_000:
        return p37 - 1_000_000, "+"
    if 10_001_001 <= p37 <= 10_501_000:
        return p37 - 1_001_000, "+"
    if 20_000_001 <= p37 <= 20_001_000:
        return GRCH38_CHR21 - 26_000_000 - p37 + 20_000_000 + 1, "-"
    return None


@pytest.fixture(scope="module")
def lift_case(tmp_path_factory):
    """A GRCh38 chr21 store, the same score in GRCh37 (to lift) and in GRCh38 (the truth), and the rows that fail."""
    from genorisk.store import convert_to_store, write_manifest

    d = tmp_path_factory.mktemp("lift")
    rng = np.random.default_rng(5)
    samples = [f"P{i:02d}" for i in range(30)]
    pairs = [("A", "C"), ("A", "G"), ("C", "T"), ("G", "T"), ("T", "C"), ("G", "A")]
    lifted = [*rng.choice(np.arange(9_000_001, 10_000_001), 20, replace=False)]
    lifted += [*rng.choice(np.arange(10_001_001, 10_501_001), 10, replace=False)]
    lifted += [*rng.choice(np.arange(20_000_001, 20_001_001), 6, replace=False)]
    failing = {
        "unmapped": [10_000_100, 10_000_900, 5_000_000, 40_000_000],  # chain gap, outside any chain
        "multiple": [30_000_010, 30_000_500],  # two chains cover them
    }
    records, rows37, rows38 = [], [], []
    for p37 in sorted(int(p) for p in lifted):
        p38, strand = _lift_truth(p37)
        ref, alt = pairs[rng.integers(len(pairs))]
        effect, other = (alt, ref) if rng.random() < 0.6 else (ref, alt)
        weight = float(rng.normal(0, 0.5))
        gts = ["/".join(map(str, rng.integers(0, 2, 2))) for _ in samples]
        records.append((p38, ref, alt, gts))
        rows38.append((p38, effect, other, weight))
        e37, o37 = (effect.translate(COMP), other.translate(COMP)) if strand == "-" else (effect, other)
        rows37.append((p37, e37, o37, weight))
    for positions in failing.values():
        rows37 += [(p, "A", "G", 0.25) for p in positions]
    rows37.append((20_000_300, "AT", "A", 0.5))  # an indel on the minus strand: its first base would move
    lines = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID=chr21,length={GRCH38_CHR21}>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
    ]
    for p38, ref, alt, gts in sorted(records):
        lines.append(f"chr21\t{p38}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t" + "\t".join(gts))
    (d / "t.vcf").write_text("\n".join(lines) + "\n")
    vcf = d / "t.vcf.gz"
    pysam.tabix_compress(str(d / "t.vcf"), str(vcf), force=True)
    prefixes = convert_to_store(vcf, d / "store", sex=dict.fromkeys(samples, 2), build="GRCh38")
    store = write_manifest(d / "store" / "store.json", prefixes)

    def write(path, build, rows):
        body = "".join(f"21\t{p}\t{e}\t{o}\t{w!r}\n" for p, e, o, w in rows)
        path.write_text(
            f"#pgs_id=LIFT\n#genome_build={build}\nchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
            + body
        )
        return path

    score37 = write(d / "LIFT_GRCh37.txt", "GRCh37", rows37)
    score38 = write(d / "LIFT_GRCh38.txt", "GRCh38", rows38)
    n_failed = sum(len(v) for v in failing.values()) + 1
    return store, vcf, score37, score38, n_failed, len(rows38)


def test_build_mismatch_without_chain_names_file_and_builds(lift_case):
    from genorisk.scores import target_scoring_file

    _, _, score37, _, _, _ = lift_case
    with pytest.raises(InputError) as err:
        target_scoring_file(score37, "GRCh38")
    msg = str(err.value)
    assert str(score37) in msg and "GRCh37" in msg and "GRCh38" in msg and "liftover.chain" in msg
    # A harmonised file of the other build (and no author build) is refused too.
    with pytest.raises(InputError, match=r"PGS000802_hmPOS_GRCh37.txt: header: positions are in GRCh37"):
        target_scoring_file(DATA / "PGS000802_hmPOS_GRCh37.txt", "hg38")


def test_harmonised_columns_of_the_target_build_are_used(tmp_path):
    from genorisk.scores import target_scoring_file

    sf = target_scoring_file(DATA / "PGS000001_hmPOS_GRCh38.txt", "GRCh38")
    assert sf.positions == "harmonised" and sf.build == "GRCh38"
    pd.testing.assert_frame_equal(sf.variants, read_scoring_file(DATA / "PGS000001_hmPOS_GRCh38.txt").variants)
    # Harmonised in GRCh37 but author-reported in GRCh38: the author positions are the GRCh38 ones.
    text = (DATA / "PGS000802_hmPOS_GRCh37.txt").read_text().replace("#genome_build=NR", "#genome_build=GRCh38")
    (tmp_path / "s.txt").write_text(text)
    sf = target_scoring_file(tmp_path / "s.txt", "GRCh38")
    assert sf.positions == "author"
    raw = pd.read_csv(tmp_path / "s.txt", sep="\t", comment="#")
    assert sf.variants["pos"].tolist() == raw["chr_position"].tolist()
    assert sf.variants["pos"].tolist() != raw["hm_pos"].tolist()
    # The same file for a GRCh37 cohort: the harmonised positions.
    sf37 = target_scoring_file(tmp_path / "s.txt", "GRCh37")
    assert sf37.positions == "harmonised" and sf37.variants["pos"].tolist() == raw["hm_pos"].tolist()


def test_liftover_with_a_local_chain_counts_failures(lift_case):
    from genorisk.scores import target_scoring_file

    store, vcf, score37, score38, n_failed, n_lifted = lift_case
    sf = target_scoring_file(score37, "GRCh38", chain=CHAIN)
    assert sf.positions == "lifted" and sf.build == "GRCh38"
    assert sf.lift["lift"].value_counts().to_dict() == {"lifted": n_lifted, "unmapped": n_failed - 2, "multiple": 2}
    truth = read_scoring_file(score38).variants
    ok = sf.lift["lift"].to_numpy() == "lifted"
    for c in ("chrom", "pos", "effect_allele", "other_allele", "effect_weight"):
        assert sf.variants.loc[ok, c].tolist() == truth[c].tolist(), c
    for source in (store, vcf):
        got = compute_scores(source, [sf], min_match_rate=0.5)
        want = compute_scores(source, [score38], min_match_rate=1.0)
        np.testing.assert_allclose(got.sums["LIFT"], want.sums["LIFT"], rtol=0, atol=1e-9)
        assert np.abs(want.sums["LIFT"]).max() > 0.5
        s = got.summary.loc["LIFT"]
        assert s["liftover failed"] == n_failed and s["n_matched"] == n_lifted
        assert s["n_variants"] == n_lifted + n_failed


def test_chain_for_the_wrong_builds_is_refused(lift_case, tmp_path):
    from genorisk.scores import check_chain_builds, target_scoring_file

    _, _, score37, _, _, _ = lift_case
    # The same chain in the other direction (GRCh38 -> GRCh37).
    swapped = []
    for line in CHAIN.read_text().splitlines():
        f = line.split()
        if f and f[0] == "chain":
            f = [f[0], f[1], *f[7:12], *f[2:7], f[12]]
        swapped.append(" ".join(f))
    wrong = tmp_path / "hg38ToHg19.over.chain"
    wrong.write_text("\n".join(swapped) + "\n")
    with pytest.raises(InputError) as err:
        target_scoring_file(score37, "GRCh38", chain=wrong)
    msg = str(err.value)
    assert str(wrong) in msg and "wrong builds" in msg and "lifts GRCh38 to GRCh37" in msg
    check_chain_builds(CHAIN, "GRCh37", "GRCh38")  # the right one passes
    not_chain = tmp_path / "x.chain"
    not_chain.write_text("hello\n")
    with pytest.raises(InputError, match="not a UCSC chain file"):
        check_chain_builds(not_chain, "GRCh37", "GRCh38")


def test_scoring_file_without_build_warns_or_fails_when_required(tmp_path, caplog):
    from genorisk.scores import target_scoring_file

    path = tmp_path / "nobuild.txt"
    path.write_text("chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n1\t10397\tC\tA\t0.1\n")
    with caplog.at_level("WARNING", logger="genorisk.scores"):
        sf = target_scoring_file(path, "GRCh38")
    assert sf.build is None and sf.variants["pos"].tolist() == [10397]
    assert "declares no genome build" in caplog.text and "taken to be GRCh38" in caplog.text
    with pytest.raises(InputError, match=r"nobuild.txt: header: declares no genome build .*requires"):
        target_scoring_file(path, "GRCh38", require_build=True)
    old = tmp_path / "ncbi36.txt"
    old.write_text("#genome_build=NCBI36\n" + path.read_text())
    with pytest.raises(InputError, match=r"ncbi36.txt: header: #genome_build=NCBI36: genorisk knows GRCh37/GRCh38"):
        target_scoring_file(old, "GRCh38")
    # rsIDs only: nothing to check, matched by rsID.
    assert target_scoring_file(DATA / "PGS000001.txt.gz", "GRCh38", require_build=True).positions == "none"


# ------------------------------------------------------------------ PGS Catalog IDs


def test_pgs_ids_resolve_from_scores_dir(tmp_path):
    from genorisk.errors import ConfigError
    from genorisk.scores import resolve_pgs_id, resolve_score_entries, score_name

    folder = tmp_path / "pgs"
    folder.mkdir()
    shutil.copy(DATA / "PGS000001_hmPOS_GRCh38.txt", folder)
    shutil.copy(DATA / "PGS000001.txt.gz", folder)
    assert resolve_pgs_id("PGS000001", folder, "hg38").name == "PGS000001_hmPOS_GRCh38.txt"
    assert resolve_pgs_id("PGS000001", folder, "GRCh37").name == "PGS000001.txt.gz"  # no GRCh37 harmonised file
    with pytest.raises(ConfigError) as err:
        resolve_pgs_id("PGS000002", folder, "GRCh38")
    assert f"pgscatalog-download --pgs PGS000002 --build GRCh38 -o {folder}" in str(err.value)
    assert "PGS000002_hmPOS_GRCh38.txt.gz" in str(err.value)
    with pytest.raises(ConfigError, match="scores_dir is not set"):
        resolve_pgs_id("PGS000001", None, "GRCh38")
    entries = resolve_score_entries(
        ["PGS000001", "data/PGS_SIM_DEMO.txt", "w/custom.txt.gz"], scores_dir=folder, genome_build="GRCh38"
    )
    assert entries == {
        "PGS000001": str(folder / "PGS000001_hmPOS_GRCh38.txt"),
        "PGS_SIM_DEMO": "data/PGS_SIM_DEMO.txt",
        "custom": "w/custom.txt.gz",
    }
    assert score_name("a/b/PGS000001_hmPOS_GRCh38.txt.gz") == "PGS000001_hmPOS_GRCh38"
    with pytest.raises(ConfigError, match=r"scores\[0\]: score name 'my score' .* rename the file"):
        resolve_score_entries(["w/my score.txt"], scores_dir=None, genome_build="GRCh38", source="c.yaml")
    with pytest.raises(ConfigError, match="two scores are named 'x'"):
        resolve_score_entries(["a/x.txt", "b/x.txt.gz"], scores_dir=None, genome_build="GRCh38")


# ------------------------------------------------------------------ audit on disk


def test_match_score_file_writes_audit_and_target_file(lift_case, tmp_path):
    from genorisk.scores import AUDIT_COLUMNS, audit_reason_counts, match_score_file, read_audit

    store, _, score37, score38, n_failed, n_lifted = lift_case
    audit_path, target = tmp_path / "LIFT.audit.tsv", tmp_path / "LIFT.target.tsv"
    match_score_file(store, score37, genome_build="GRCh38", chain=CHAIN, audit_path=audit_path, target_path=target)
    audit = read_audit(audit_path)
    assert tuple(audit.columns) == AUDIT_COLUMNS
    assert len(audit) == n_lifted + n_failed == len(audit_path.read_text().splitlines()) - 1
    failed = audit[audit["reason"] == "liftover failed"]
    assert len(failed) == n_failed and set(failed["lift"]) == {"unmapped", "multiple"}
    assert (failed["status"] == "unmatched").all() and failed["target_pos"].isna().all()
    matched = audit[audit["status"] == "matched"]
    assert len(matched) == n_lifted and (matched["lift"] == "lifted").all()
    assert (matched["pos"] == matched["target_pos"]).all() and (matched["source_pos"] != matched["pos"]).all()
    counts = audit_reason_counts([audit_path]).loc["LIFT"]
    assert counts["liftover failed"] == n_failed and counts["n_matched"] == n_lifted
    assert counts["not in target"] == 0 and counts["match_rate"] == pytest.approx(n_lifted / (n_lifted + n_failed))
    # The target-build file reads back as the same score, failures included.
    back = read_scoring_file(target)
    assert back.score_id == "LIFT" and back.source_name == "LIFT_GRCh37.txt" and back.lift_failed.sum() == n_failed
    again = compute_scores(store, [target], min_match_rate=0.5)
    want = compute_scores(store, [score38], min_match_rate=1.0)
    np.testing.assert_allclose(again.sums["LIFT"], want.sums["LIFT"], rtol=0, atol=1e-12)
    assert again.summary.loc["LIFT", "liftover failed"] == n_failed


def test_audit_reasons_on_disk(sim, tmp_path):
    """Every reason the matcher gives is written per variant, and a failed match rate keeps its audit aside."""
    from genorisk.scores import audit_reason_counts, audit_table, match_scores, read_audit, write_audit

    vcf, score, sex, samples, male, w = sim
    res = match_scores(vcf, [score])
    path = write_audit(audit_table(res, [read_scoring_file(score)]), tmp_path / "SIM.audit.tsv")
    audit = read_audit(path).set_index("pos")
    truth = w.set_index("pos")
    assert (audit.loc[truth.index[truth.kind == "ambiguous"], "reason"] == "strand-ambiguous dropped").all()
    assert (audit.loc[truth.index[truth.kind == "multi"], "reason"] == "multiallelic dropped").all()
    counts = audit_reason_counts([path]).loc["SIM"]
    assert counts["strand-ambiguous dropped"] == (w.kind == "ambiguous").sum()
    assert counts["multiallelic dropped"] == (w.kind == "multi").sum()
    assert counts["n_matched"] == res.summary.loc["SIM", "n_matched"]


def test_failed_match_rate_keeps_the_audit_aside(lift_case, tmp_path):
    from genorisk.scores import match_score_file

    store, _, score37, _, _, _ = lift_case
    audit_path = tmp_path / "LIFT.audit.tsv"
    with pytest.raises(InputError, match=r"liftover failed; per-variant audit in .*LIFT.audit.failed.tsv"):
        match_score_file(
            store,
            score37,
            genome_build="GRCh38",
            chain=CHAIN,
            audit_path=audit_path,
            target_path=tmp_path / "t.tsv",
            min_match_rate=0.99,
        )
    assert not audit_path.exists() and not (tmp_path / "t.tsv").exists()
    assert (tmp_path / "LIFT.audit.failed.tsv").exists()


# ------------------------------------------------------- store: only matched variants read


@pytest.fixture(scope="module")
def sim_store(sim, tmp_path_factory):
    from genorisk.store import convert_to_store, write_manifest

    vcf, score, sex, samples, male, w = sim
    d = tmp_path_factory.mktemp("simstore")
    sexes = {s: 1 if m else 2 for s, m in zip(samples, male, strict=True)}
    # The store holds biallelic records: split as the workflow's normalisation does.
    split = d / "split.vcf.gz"
    subprocess.run(["bcftools", "norm", "-m-any", "-Oz", "-o", str(split), str(vcf)], check=True, capture_output=True)
    pysam.tabix_index(str(split), preset="vcf", force=True, csi=True)
    prefixes = convert_to_store(split, d / "store", sex=sexes, build="GRCh38")
    return write_manifest(d / "store" / "store.json", prefixes), prefixes, split


@pytest.mark.skipif(PLINK2 is None, reason="plink2 not installed")
def test_store_scores_agree_with_plink2_on_the_store(sim, sim_store, tmp_path):
    """compute_scores from the store (matched variants only) equals plink2 --score on the same pgen files."""
    vcf, score, sex, samples, male, w = sim
    manifest, prefixes, split = sim_store
    res = compute_scores(manifest, [score], male=male)
    audit = res.audit[res.audit["match_type"].notna()]
    pairs = zip(audit.match_type, audit.target_ref, audit.target_alt, strict=True)
    effect = [r if is_ref_effect(t) else a for t, r, a in pairs]
    total = None
    for chrom, prefix in prefixes.items():
        mine = audit["target_chrom"] == chrom
        # Split records share their ID: plink2 names every variant CHROM:POS:REF:ALT here (plink2's chr spelling).
        code = chrom.removeprefix("chr")
        ids = [
            f"{code}:{p}:{r}:{a}"
            for p, r, a in zip(audit.target_pos[mine], audit.target_ref[mine], audit.target_alt[mine], strict=True)
        ]
        wfile = tmp_path / f"w_{chrom}.txt"
        pd.DataFrame(
            {"ID": ids, "A1": np.array(effect, dtype=object)[mine.to_numpy()], "S": audit.effect_weight[mine]}
        ).to_csv(wfile, sep="\t", index=False)
        out = tmp_path / f"p2_{chrom}"
        subprocess.run(
            [PLINK2, "--pfile", str(prefix), "--set-all-var-ids", "@:#:$r:$a", "--new-id-max-allele-len", "1000"]
            + ["--score", str(wfile), "header-read", "cols=+scoresums"]
            + ["--memory", "1000", "--threads", "1", "--out", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        s = pd.read_csv(f"{out}.sscore", sep="\t").set_index("#IID")["S_SUM"]
        total = s if total is None else total + s
    ours = res.sums["SIM"].reindex(total.index)
    np.testing.assert_allclose(ours.to_numpy(), total.to_numpy(), rtol=1e-5, atol=1e-6)
    assert np.abs(ours).max() > 0.02
    # And the VCF path (every variant of the same records read) gives the same sums and audit.
    full = compute_scores(split, [score], male=male)
    np.testing.assert_allclose(res.sums.to_numpy(), full.sums.to_numpy(), rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(res.audit, full.audit)
    assert res.summary.loc["SIM", "n_matched"] > 0.8 * len(w)


def test_store_scores_for_a_sample_subset_in_another_order(sim, sim_store):
    """Reading a subset of samples, reordered, gives those samples' sums (males' chrX included)."""
    vcf, score, sex, samples, male, w = sim
    manifest, _, split = sim_store
    pick = samples[::-3]
    keep = np.array([samples.index(s) for s in pick])
    # Without imputation a sample's sum is its own: the subset's sums are the full read's.
    full = compute_scores(manifest, [score], male=male, missing="zero")
    part = compute_scores(manifest, [score], male=male[keep], samples=pick, missing="zero")
    assert list(part.sums.index) == pick
    np.testing.assert_allclose(part.sums["SIM"], full.sums["SIM"].loc[pick], rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(part.audit, full.audit)
    # With mean imputation (the subset's means), as the VCF path gives for the same subset.
    part = compute_scores(manifest, [score], male=male[keep], samples=pick)
    want = compute_scores(split, [score], male=male[keep], samples=pick)
    np.testing.assert_allclose(part.sums["SIM"], want.sums["SIM"], rtol=0, atol=1e-9)


def test_matched_table_sums_equal_compute_scores(sim, sim_store, tmp_path):
    """match_score's matched table, summed without the scoring file, gives compute_scores' sums exactly.

    Two scores at once (one with dominant, recessive and dosage-weight rows),
    chrX with males, a reordered sample subset, both missing-call policies.
    """
    from genorisk.scores import (
        MATCHED_COLUMNS,
        match_score_file,
        read_matched_score,
        score_matched,
        write_matched_score,
    )

    vcf, score, sex, samples, male, w = sim
    manifest, _, _ = sim_store
    model = tmp_path / "model_score.txt"
    with open(model, "w") as fh:
        fh.write("#pgs_id=MODEL\n#genome_build=GRCh38\n")
        fh.write(
            "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\tis_dominant\tis_recessive"
            "\tdosage_0_weight\tdosage_1_weight\tdosage_2_weight\n"
        )
        for i, r in enumerate(w.itertuples()):
            dom, rec = i % 5 == 1, i % 5 == 2
            doses = "\t0.01\t-0.02\t0.03" if i % 7 == 3 and not (dom or rec) else "\t\t\t"
            fh.write(
                f"{r.chrom.removeprefix('chr')}\t{r.pos}\t{r.effect}\t{r.other}\t{r.weight!r}\t{dom}\t{rec}{doses}\n"
            )
    paths = []
    for f in (score, model):
        name = Path(f).stem
        out = tmp_path / f"{name}.matched.parquet"
        res = match_score_file(
            manifest,
            f,
            genome_build="GRCh38",
            audit_path=tmp_path / f"{name}.audit.tsv",
            target_path=tmp_path / f"{name}.target.tsv",
            matched_path=out,
            min_match_rate=0.5,
        )
        m = read_matched_score(out)
        assert tuple(m.variants.columns) == MATCHED_COLUMNS
        assert len(m.variants) == int(res.summary["n_matched"].iat[0]) > 0.8 * len(w)
        assert m.scores[0]["source_file"] == Path(f).name and m.scores[0]["n_variants"] == len(w)
        paths.append(out)
    # The matched rows in the audit's order, with the audit's targets.
    audit = pd.read_csv(tmp_path / "sim_score.audit.tsv", sep="\t", dtype={"target_chrom": str})
    hit = audit[audit["status"] == "matched"]
    m = read_matched_score(paths[0]).variants
    assert m["target_pos"].tolist() == hit["target_pos"].astype(int).tolist()
    assert m["match_type"].tolist() == hit["match_type"].tolist()
    pick = samples[::-3]
    keep = np.array([samples.index(s) for s in pick])
    for missing in ("mean", "zero"):
        for sel, sex_of in ((None, male), (pick, male[keep]), (None, None)):
            want = compute_scores(
                manifest, [score, model], male=sex_of, samples=sel, missing=missing, min_match_rate=0.5
            )
            got = score_matched(manifest, paths, male=sex_of, samples=sel, missing=missing)
            pd.testing.assert_frame_equal(got, want.sums, check_exact=True)
    assert np.abs(got.to_numpy()).max() > 0.02
    # A table from another store is refused, not summed.
    stale = read_matched_score(paths[0])
    stale.store_variants = {c: n + 1 for c, n in stale.store_variants.items()}
    with pytest.raises(InputError, match="rerun the matching"):
        score_matched(manifest, [stale])
    bad = tmp_path / "bad.parquet"
    write_matched_score(bad, stale.variants, res.summary.iloc[:0], [], match={}, store_variants={})
    (tmp_path / "plain.parquet").write_bytes(b"")
    with pytest.raises(InputError, match="matched score"):
        read_matched_score(tmp_path / "plain.parquet")


def test_pgs_features_from_the_matched_table_equal_those_from_the_scoring_file(sim, sim_store, tmp_path):
    """cohort_features' PGS columns and frozen definitions: the same from match_score's table as from its file."""
    from genorisk.features.cohort import pgs_features
    from genorisk.scores import match_score_file

    vcf, score, sex, samples, male, w = sim
    manifest, _, _ = sim_store
    out = {k: tmp_path / f"SIM.{k}" for k in ("audit.tsv", "target.tsv", "matched.parquet")}
    match_score_file(
        manifest,
        score,
        genome_build="GRCh38",
        audit_path=out["audit.tsv"],
        target_path=out["target.tsv"],
        matched_path=out["matched.parquet"],
        min_match_rate=0.5,
    )
    pick = pd.Index(samples[::-2])
    keep = np.array([samples.index(s) for s in pick])
    freqs = pd.DataFrame({"chrom": ["chr1"], "pos": [1], "ref": ["A"], "alt": ["C"], "af": [0.5]})
    kw = {"male": male[keep], "min_match_rate": 0.5}
    got, got_entries = pgs_features(manifest, pick, [out["matched.parquet"]], freqs, **kw)
    want, want_entries = pgs_features(manifest, pick, [out["target.tsv"]], freqs, **kw)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert json.dumps(got_entries) == json.dumps(want_entries)  # cohort_af NaN where the table has none
    assert len(got_entries[0]["definition"]["variants"]) > 0.8 * len(w)
    assert got_entries[0]["definition"]["file"] == Path(score).name
    with pytest.raises(InputError, match="match rate"):
        pgs_features(manifest, pick, [out["matched.parquet"]], freqs, male=male[keep], min_match_rate=0.99)
    with pytest.raises(InputError, match="rerun match_score"):
        pgs_features(manifest, pick, [out["matched.parquet"]], freqs, min_info=0.3, **kw)
