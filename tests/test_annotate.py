"""genorisk.annotate on real annotation files (tests/data/annotation, see its MANIFEST.tsv).

Region classes are checked at positions read by hand from the Ensembl GRCh38
chr21 GFF3/GTF (the lines are quoted next to each case); ClinVar, gnomAD and
dbSNP matches against the real excerpts; consequences with bcftools csq on the
bcftools test triple (FASTA + GFF3 + VCF whose INFO/EXP holds the expected
answer); scatter/gather against a single-chunk run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from genorisk.annotate import (
    INFO_FIELDS,
    TABLE_COLUMNS,
    affected_span,
    annotate_table,
    annotation_summary,
    consequences_bcftools_csq,
    gather,
    minimal_allele,
    most_severe_csq,
    plan_chunks,
    read_gene_model,
    read_table,
    validate_resource,
    write_annotated,
    write_table,
)
from genorisk.errors import InputError
from genorisk.vcf import plan_regions

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests/data/annotation"
GFF3_CHR21 = REPO / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz"  # Ensembl, contig "21"
GTF_CHR21 = DATA / "ensembl-vep/test.gtf.gz"  # Ensembl GTF, contig "21", 24.0-27.0 Mb
GENCODE_GTF = DATA / "pypi-pyranges/gencode_human.gtf.gz"  # GENCODE v29, "chr1"
CLINVAR = DATA / "ensembl-vep/input.vcf.gz"  # ClinVar 2021-10-25 GRCh38 excerpt, contigs "1".."MT"
GNOMAD = DATA / "hail/sample.gnomad.genomes.r3.0.sites.chr1.vcf.gz"  # gnomAD v3.0, "chr1", unindexed
DBSNP = DATA / "SnpSift/db_test_39.vcf"  # dbSNP 144 GRCh37, "1", plain text
TRIPLE = DATA / "bcftools"

HEADER = "##fileformat=VCFv4.2\n{contigs}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def _write_vcf(path: Path, contigs: dict[str, int], rows: list[str]) -> Path:
    """bgzip + tabix a small sites VCF (rows: 'CHROM POS ID REF ALT', space-separated)."""
    text = HEADER.format(contigs="".join(f"##contig=<ID={c},length={n}>\n" for c, n in contigs.items()))
    for row in rows:
        chrom, pos, vid, ref, alt = row.split()
        text += f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\t.\n"
    plain = path.with_suffix("")
    plain.write_text(text)
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return path


def _indexed_copy(src: Path, tmp: Path) -> Path:
    """bgzipped + tabix-indexed copy of a resource shipped without an index."""
    dst = tmp / src.name.removesuffix(".gz")
    if src.name.endswith(".gz"):
        with open(dst, "wb") as out:
            subprocess.run(["bgzip", "-dc", str(src)], stdout=out, check=True)
    else:
        shutil.copy(src, dst)
    return Path(pysam.tabix_index(str(dst), preset="vcf", force=True))


@pytest.fixture(scope="module")
def gff3_model():
    return read_gene_model(GFF3_CHR21)


# --------------------------------------------------------------------------
# Alleles


def test_minimal_allele_and_affected_span():
    assert minimal_allele(100, "CTT", "CT") == (100, "CT", "C")
    assert minimal_allele(100, "CAG", "CTG") == (101, "A", "T")
    assert minimal_allele(100, "taa", "ta") == (100, "TA", "T")
    # bcftools csq test record 19026: the deleted bases are GCC at 19032-19034
    assert affected_span(19026, "CAGGTGGCCAG", "CAGGTGAG") == (19032, 19034)
    assert affected_span(16429, "TA", "T") == (16430, 16430)  # deletion: the deleted base
    assert affected_span(18371, "C", "CA") == (18371, 18372)  # insertion: both flanking bases
    assert affected_span(5, "A", "G") == (5, 5)


# --------------------------------------------------------------------------
# Region classes on the real Ensembl chr21 models

# (position, gene, class). Hand-read from the GFF3 (transcript ENST00000346798
# of APP on the minus strand; ENST00000270142 of SOD1 on the plus strand):
#   CDS/exon 25891722-25891868, three_prime_UTR 25880550-25881669,
#   exons 25911741-25911962 and 25954590-25954689 (intron between),
#   five_prime_UTR 26170621-26170654 (minus strand: the high end);
#   SOD1 exon/CDS 31663790-31663886, five_prime_UTR 31659622-31659769,
#   three_prime_UTR 31668579-31668931;
#   FBXW11P1 processed_pseudogene 31627127-31628600 on the minus strand, no other
#   feature from 31600000 to 31653593: upstream is above its end, not below it.
APP_CASES = [
    (25891800, "APP", "CDS"),
    (25881000, "APP", "3_prime_UTR"),
    (25930000, "APP", "intron"),
    (25891721, "APP", "splice_region"),  # intron, 1 bp from the exon
    (25891719, "APP", "splice_region"),  # intron, 3 bp
    (25891718, "APP", "intron"),  # intron, 4 bp
    (26170640, "APP", "5_prime_UTR"),
]
OTHER_CASES = [
    (31663800, "SOD1", "CDS"),
    (31659700, "SOD1", "5_prime_UTR"),
    (31668700, "SOD1", "3_prime_UTR"),
    (31665000, "SOD1", "intron"),
    (31663786, "SOD1", "intron"),
    (31663787, "SOD1", "splice_region"),
    (31663889, "SOD1", "splice_region"),
    (31663890, "SOD1", "intron"),
    (31628000, "FBXW11P1", "noncoding_exon"),
    (31630000, "FBXW11P1", "upstream"),  # 1.4 kb above the end of a minus-strand gene
    (31625000, None, "intergenic"),  # 2.1 kb below it: downstream, not upstream
    (40000, None, "intergenic"),
]


def _sites(cases, chrom="chr21"):
    return pd.DataFrame({"chrom": chrom, "pos": [c[0] for c in cases], "ref": "A", "alt": "G"})


def _check_classes(out, cases):
    for (pos, gene, cls), row in zip(cases, out.itertuples(), strict=False):
        assert (row.region_class, None if pd.isna(row.gene) else row.gene) == (cls, gene), pos


def test_region_classes_gff3(gff3_model):
    cases = APP_CASES + OTHER_CASES
    out = gff3_model.classify(_sites(cases))  # VCF says chr21, the GFF3 says 21
    _check_classes(out, cases)
    app = out[out["gene"] == "APP"]
    assert set(app["gene_id"]) == {"ENSG00000142192"}
    # All APP transcripts are tagged basic, none canonical: the smallest ID wins.
    assert set(app["transcript"]) == {"ENST00000346798"}
    assert out.loc[out["gene"] == "SOD1", "biotype"].eq("protein_coding").all()


def test_region_classes_gtf_agree_with_gff3(gff3_model):
    gtf = read_gene_model(GTF_CHR21)
    out = gtf.classify(_sites(APP_CASES, chrom="21"))
    _check_classes(out, APP_CASES)
    # Same release, same transcripts: the GTF and GFF3 models agree base by base over APP.
    pos = np.arange(25_875_000, 26_180_000, 37)
    sites = pd.DataFrame({"chrom": "21", "pos": pos, "ref": "A", "alt": "G"})
    a, b = gtf.classify(sites), gff3_model.classify(sites)
    assert (a["region_class"] == b["region_class"]).all()
    assert (a["gene"].fillna("") == b["gene"].fillna("")).all()
    # GTF CDS excludes the stop codon; its stop_codon lines are counted as CDS.
    # APP ENST00000346798: CDS 25881673-25881771 + stop_codon 25881670-25881672 (minus strand).
    stop = gtf.classify(pd.DataFrame({"chrom": "21", "pos": [25881670, 25881669], "ref": "A", "alt": "G"}))
    assert stop["region_class"].tolist() == ["CDS", "3_prime_UTR"]


def test_gencode_gtf_naming():
    model = read_gene_model(GENCODE_GTF)
    tx = model.transcripts.set_index("transcript")
    # gene_type / transcript_type and versioned IDs of GENCODE
    row = tx.loc["ENST00000456328.2"]
    assert (row["gene"], row["gene_id"], row["biotype"], row["strand"]) == (
        "DDX11L1",
        "ENSG00000223972.5",
        "processed_transcript",
        "+",
    )
    assert row["basic"]
    # GENCODE writes undirected "UTR" lines; 5'/3' comes from the CDS and the strand.
    # SAMD11 (plus strand) ENST00000342066.7: UTR 925738-925800 (first exon) before the CDS (5'),
    # UTR 944151-944575 after the stop codon (3'; NOC2L's 3' UTR starts at 944204).
    sites = pd.DataFrame({"chrom": "1", "pos": [925760, 944170], "ref": "A", "alt": "G"})
    out = model.classify(sites)  # "1" finds "chr1"
    assert out["gene"].tolist() == ["SAMD11", "SAMD11"]
    assert out["region_class"].tolist() == ["5_prime_UTR", "3_prime_UTR"]


def test_gene_model_errors(tmp_path):
    bad = tmp_path / "bad.gtf"
    bad.write_text('1\tx\texon\t10\t20\t.\t+\t.\tgene_id "G"; transcript_id "T";\n1\tx\texon\t30\n')
    with pytest.raises(InputError, match=r"bad.gtf: line 2: expected 9 tab-separated columns, found 4"):
        read_gene_model(bad)
    bad.write_text('1\tx\texon\t20\t10\t.\t+\t.\tgene_id "G"; transcript_id "T";\n')
    with pytest.raises(InputError, match=r"line 1: start 20 / end 10"):
        read_gene_model(bad)
    vcf = tmp_path / "not_a_model.gtf"
    vcf.write_text("1\tx\tgene\t10\t20\t.\t+\t.\tID=gene:G\n")
    with pytest.raises(InputError, match="no exon features"):
        read_gene_model(vcf)


# --------------------------------------------------------------------------
# ClinVar, population AF, dbSNP


def test_clinvar_exact_allele_match(tmp_path):
    # ClinVar has 21:6116503 C>T (433140, Pathogenic) and 4:86075 AC>A (441007).
    vcf = _write_vcf(
        tmp_path / "q.vcf.gz",
        {"chr4": 190214555, "chr21": 46709983},
        [
            "chr4 86075 . ACC AC",  # AC>A written with an extra shared base: same allele
            "chr4 86078 . G GA",
            "chr21 6116503 . C G,T",  # multiallelic: C>G is not in ClinVar, C>T is
            "chr21 6116504 . C T",  # next base: no match
            "chr21 10541121 . G T",
        ],
    )
    t = annotate_table(vcf, clinvar=CLINVAR)
    assert list(t.columns) == list(TABLE_COLUMNS)
    t = t.set_index(["chrom", "pos", "ref", "alt"])
    hit = t.loc[("chr21", 6116503, "C", "T")]
    assert hit["clinvar_significance"] == "Pathogenic"
    assert hit["clinvar_review_status"] == "no_assertion_criteria_provided"
    assert hit["clinvar_id"] == "433140"
    assert hit["clinvar_gene"] == "LOC102724428"
    assert pd.isna(t.loc[("chr21", 6116503, "C", "G"), "clinvar_significance"])
    assert pd.isna(t.loc[("chr21", 6116504, "C", "T"), "clinvar_id"])
    assert t.loc[("chr21", 10541121, "G", "T"), "clinvar_significance"] == "Likely_benign"
    assert t.loc[("chr4", 86075, "ACC", "AC"), "clinvar_id"] == "441007"
    assert t.loc[("chr4", 86078, "G", "GA"), "clinvar_id"] == "441008"
    assert t["population_af"].isna().all() and t["region_class"].isna().all()


def test_population_af_key_is_configurable(tmp_path):
    gnomad = _indexed_copy(GNOMAD, tmp_path)
    # gnomAD v3 chr1:10114 has T>A (AF 0), T>C (AF 2.28896e-04, AF_afr 1.76554e-04), TA>T (1.37363e-04).
    vcf = _write_vcf(
        tmp_path / "q.vcf.gz",
        {"1": 248956422},
        [
            "1 10114 . T A,C",
            "1 10114 . TAA TA",
            "1 10114 . T G",
        ],
    )
    af = annotate_table(vcf, population_af=gnomad).set_index("alt")["population_af"]
    assert af["A"] == 0.0
    assert af["C"] == pytest.approx(2.28896e-04)
    assert af["TA"] == pytest.approx(1.37363e-04)
    assert np.isnan(af["G"])
    afr = annotate_table(vcf, population_af=gnomad, population_af_key="AF_afr").set_index("alt")["population_af"]
    assert afr["C"] == pytest.approx(1.76554e-04)
    assert afr["TA"] == pytest.approx(1.76803e-04)
    with pytest.raises(InputError, match=r"INFO/AF_martian is not declared"):
        annotate_table(vcf, population_af=gnomad, population_af_key="AF_martian")


def test_dbsnp_rsid(tmp_path):
    dbsnp = _indexed_copy(DBSNP, tmp_path)
    vcf = _write_vcf(
        tmp_path / "q.vcf.gz",
        {"chr1": 249250621},
        [
            "chr1 10019 . TA T",  # rs775809821
            "chr1 10108 . C A",  # dbSNP has C>T only
            "chr1 10493 . C G",  # dbSNP C>A,G (multiallelic): rs199606420
        ],
    )
    t = annotate_table(vcf, dbsnp=dbsnp)
    assert t["rsid"].fillna("-").tolist() == ["rs775809821", "-", "rs199606420"]


def test_unindexed_resource_is_refused(tmp_path):
    vcf = _write_vcf(tmp_path / "q.vcf.gz", {"chr1": 249250621}, ["chr1 10019 . TA T"])
    with pytest.raises(InputError, match=r"db_test_39.vcf: .*no .tbi/.csi index"):
        annotate_table(vcf, dbsnp=DBSNP)


# --------------------------------------------------------------------------
# bcftools csq on the bcftools test triple


def test_bcftools_csq_triple(tmp_path):
    src = TRIPLE / "splice-acceptor-donor1.vcf"
    vcf = tmp_path / "triple.vcf.gz"
    shutil.copy(src, tmp_path / src.name)
    pysam.tabix_index(str(tmp_path / src.name), preset="vcf", force=True)
    (tmp_path / (src.name + ".gz")).rename(vcf)
    (tmp_path / (src.name + ".gz.tbi")).rename(str(vcf) + ".tbi")
    gff = TRIPLE / "ENST00000341065.gff"
    fasta = TRIPLE / "ENST00000341065.fa"
    csq = consequences_bcftools_csq(vcf, fasta, gff, tmp_path / "csq.bcf")
    assert (tmp_path / "csq.bcf.csi").exists()
    expected = {}
    with pysam.VariantFile(str(src)) as vf:
        for rec in vf:
            exp = rec.info.get("EXP")
            if rec.alts and rec.alts[0] != rec.ref:
                expected[(rec.pos, rec.ref, rec.alts[0])] = exp.split("|")[0]
    got = {(r.pos, r.ref, r.alt): r.consequence for r in csq.itertuples()}
    assert got == expected
    assert got[(18826, "G", "A")] == "missense"
    assert got[(19026, "CAGGTGGCCAG", "CAGGTGAG")] == "inframe_deletion"

    # Through annotate_table: our region classes agree with bcftools' calls here.
    table = annotate_table(vcf, gene_model=gff, fasta=fasta)
    mapping = {"intron": "intron", "splice_region": "splice_region", "missense": "CDS", "inframe_deletion": "CDS"}
    assert table["region_class"].tolist() == [mapping[c] for c in table["consequence"]]
    assert (table["gene"] == "SAMD11").all()


def test_csq_refuses_gtf(tmp_path):
    vcf = _write_vcf(tmp_path / "q.vcf.gz", {"21": 46709983}, ["21 25891800 . A G"])
    with pytest.raises(InputError, match="needs an Ensembl GFF3, this is a GTF"):
        consequences_bcftools_csq(vcf, TRIPLE / "ENST00000341065.fa", GTF_CHR21, tmp_path / "x.bcf")


def test_most_severe_csq():
    assert most_severe_csq(["intron|A||x", "missense&splice_region|A|T|pc|+|1A>1B|5C>T"]) == "missense"
    assert most_severe_csq(["@12345", "*stop_gained|A|T|pc"]) == "stop_gained"
    assert most_severe_csq(None) is None


# --------------------------------------------------------------------------
# Output VCF and scatter/gather on a simulated chr21 cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """600 sites on chr21 (3 samples): SNVs, indels, a multiallelic record and
    deletions long enough to cross chunk boundaries; a ClinVar-like and an AF
    VCF for some of the same alleles (plus same-position decoys)."""
    from genorisk.simulate import write_vcf

    tmp = tmp_path_factory.mktemp("cohort")
    rng = np.random.default_rng(5)
    pos = np.sort(rng.choice(np.arange(25_500_000, 32_000_000), size=600, replace=False))
    bases = np.array(list("ACGT"))
    refs = rng.choice(bases, size=600).astype(object)
    alts = np.array([rng.choice([b for b in "ACGT" if b != r]) for r in refs], dtype=object)
    for i in range(0, 600, 50):  # deletions, some long
        refs[i] = refs[i] + "".join(rng.choice(bases, size=int(rng.integers(1, 400))))
        alts[i] = refs[i][0]
    alts[7] = alts[7] + "," + next(b for b in "ACGT" if b not in (refs[7], alts[7]))
    calls = rng.integers(0, 2, size=(600, 3, 2)).astype(np.int8)
    write_vcf(tmp / "cohort.vcf.gz", pos, refs, alts, calls=calls, samples=["S1", "S2", "S3"])
    first_alt = np.array([a.split(",")[0] for a in alts], dtype=object)
    pick = np.arange(0, 600, 3)
    sig = np.array(["Pathogenic", "Benign", "Uncertain_significance"])[pick % 3]
    info = [
        f"CLNSIG={s};CLNREVSTAT=criteria_provided,_single_submitter;GENEINFO=G{i}:{i}"
        for i, s in zip(pick, sig, strict=False)
    ]
    decoy = np.array([next(b for b in "ACGT" if b not in (refs[i][0], first_alt[i])) for i in pick], dtype=object)
    # a decoy allele at the same position after each real one (different ALT: must not match)
    cl_pos = np.repeat(pos[pick], 2)
    cl_ref = np.repeat(refs[pick], 2)
    cl_alt = np.ravel(np.column_stack([first_alt[pick], decoy]))
    cl_info = [x for i in info for x in (i, i.replace("CLNSIG=", "CLNSIG=Likely_"))]
    hdr = [
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="sig">',
        '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="rev">',
        '##INFO=<ID=GENEINFO,Number=1,Type=String,Description="gene">',
    ]
    write_vcf(
        tmp / "clinvar.vcf.gz",
        cl_pos,
        cl_ref,
        cl_alt,
        ids=[str(k) for k in range(len(cl_pos))],
        info=cl_info,
        info_header=hdr,
    )
    afs = rng.random(600)
    write_vcf(
        tmp / "popfreq.vcf.gz",
        pos,
        refs,
        first_alt,
        info=[f"AF={a:.4f}" for a in afs],
        info_header=['##INFO=<ID=AF,Number=A,Type=Float,Description="AF">'],
    )
    return tmp


def test_write_annotated_header_and_bcftools_reads_it(cohort, gff3_model, tmp_path):
    vcf = cohort / "cohort.vcf.gz"
    table = annotate_table(
        vcf, gene_model=gff3_model, clinvar=cohort / "clinvar.vcf.gz", population_af=cohort / "popfreq.vcf.gz"
    )
    assert len(table) == 601  # one row per ALT allele
    n_match = table["clinvar_significance"].notna().sum()
    assert n_match == 200  # every real ClinVar allele, no decoy
    assert not table["clinvar_significance"].str.startswith("Likely_", na=False).any()
    assert table["population_af"].notna().sum() == 600  # the second ALT of the multiallelic site has none
    out = tmp_path / "annotated.bcf"
    write_annotated(vcf, table, out)
    assert Path(str(out) + ".csi").exists()
    header = subprocess.run(["bcftools", "view", "-h", str(out)], capture_output=True, text=True, check=True).stdout
    for tag, number, typ, _ in INFO_FIELDS.values():
        assert f"##INFO=<ID={tag},Number={number},Type={typ}," in header
    q = subprocess.run(
        ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%GR_REGION\t%GR_GENE\t%GR_CLNSIG\t%GR_AF\n", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(q) == 601
    got = pd.DataFrame(
        [ln.split("\t") for ln in q], columns=["chrom", "pos", "ref", "alt", "region", "gene", "clnsig", "af"]
    )
    # Sites only: no second copy of the genotypes.
    samples = subprocess.run(["bcftools", "query", "-l", str(out)], capture_output=True, text=True, check=True).stdout
    assert samples == "" and "\tFORMAT" not in header
    merged = got.assign(pos=got["pos"].astype(int)).merge(table, on=["chrom", "pos", "ref", "alt"])
    assert len(merged) == 601
    assert (merged["region"] == merged["region_class"]).all()
    assert (merged["clnsig"].replace(".", None).fillna("") == merged["clinvar_significance"].fillna("")).all()
    af = pd.to_numeric(merged["af"].replace(".", None))
    assert np.allclose(af.fillna(-1), merged["population_af"].fillna(-1), atol=1e-6)


def test_write_annotated_sets_rsid_and_keeps_other_ids(tmp_path):
    dbsnp = _indexed_copy(DBSNP, tmp_path)
    vcf = _write_vcf(
        tmp_path / "q.vcf.gz",
        {"1": 249250621},
        [
            "1 10019 . TA T",
            "1 10108 myid C A",
        ],
    )
    table = annotate_table(vcf, dbsnp=dbsnp)
    write_annotated(vcf, table, tmp_path / "out.vcf.gz")
    ids = subprocess.run(
        ["bcftools", "query", "-f", "%ID\n", str(tmp_path / "out.vcf.gz")], capture_output=True, text=True, check=True
    ).stdout.split()
    assert ids == ["rs775809821", "myid"]


def test_scatter_gather_equals_single_chunk(cohort, gff3_model, tmp_path):
    vcf = cohort / "cohort.vcf.gz"
    sources = dict(gene_model=gff3_model, clinvar=cohort / "clinvar.vcf.gz", population_af=cohort / "popfreq.vcf.gz")
    regions = plan_chunks(vcf, n_chunks=4)
    assert 3 <= len(regions) <= 5
    # Balanced: each chunk holds a fair share of the records.
    counts = [len(annotate_table(vcf, region=r)) for r in regions]
    assert sum(counts) == 601 and max(counts) < 2 * 601 / len(regions)
    tables, bcfs = [], []
    for i, region in enumerate(regions):
        t = annotate_table(vcf, region=region, **sources)
        tables.append(tmp_path / f"chunk{i}.parquet")
        bcfs.append(tmp_path / f"chunk{i}.bcf")
        write_table(t, tables[-1])
        write_annotated(vcf, t, bcfs[-1], region=region)
    gather(tables, bcfs, tmp_path / "all.parquet", tmp_path / "all.bcf")

    single = annotate_table(vcf, **sources)
    write_annotated(vcf, single, tmp_path / "single.bcf")
    pd.testing.assert_frame_equal(read_table(tmp_path / "all.parquet"), single)

    def body(path):
        return subprocess.run(["bcftools", "view", "-H", str(path)], capture_output=True, text=True, check=True).stdout

    assert body(tmp_path / "all.bcf") == body(tmp_path / "single.bcf")
    assert Path(str(tmp_path / "all.bcf") + ".csi").exists()
    # other chunk counts partition the records too, in order
    for n in (1, 2, 3, 8):
        chunks = plan_regions(vcf, n)
        assert sum(len(annotate_table(vcf, region=r)) for r in chunks) == 601


def test_gather_refuses_out_of_order_chunks(cohort, tmp_path):
    vcf = cohort / "cohort.vcf.gz"
    regions = plan_chunks(vcf, n_chunks=2)
    tables, bcfs = [], []
    for i, region in enumerate(regions):
        t = annotate_table(vcf, region=region)
        tables.append(tmp_path / f"c{i}.parquet")
        bcfs.append(tmp_path / f"c{i}.bcf")
        write_table(t, tables[-1])
        write_annotated(vcf, t, bcfs[-1], region=region)
    with pytest.raises(InputError):
        gather(tables[::-1], bcfs[::-1], tmp_path / "all.parquet", tmp_path / "all.bcf")
    assert not (tmp_path / "all.bcf").exists()


# ---------------------------------------------------------------------------
# Symbolic, breakend and * alleles: kept, classified over their span, counted
# ---------------------------------------------------------------------------


def test_symbolic_star_and_breakend_alleles_are_kept_classified_and_counted(gff3_model, tmp_path):
    plain = tmp_path / "sv.vcf"
    plain.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr21,length=46709983>\n"
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End">\n'
        '##ALT=<ID=DEL,Description="Deletion">\n##ALT=<ID=INS,Description="Insertion">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        # a deletion from intergenic sequence into APP's coding exons
        "chr21\t25879000\tsv1\tA\t<DEL>\t.\tPASS\tEND=25891800\n"
        "chr21\t25880000\t.\tA\t<INS>\t.\tPASS\t.\n"
        "chr21\t25880500\tbnd\tA\tA[chr21:30000000[\t.\tPASS\t.\n"
        "chr21\t25881000\t.\tAC\tA\t.\tPASS\t.\n"
        "chr21\t25891796\t.\tG\tA,*\t.\tPASS\t.\n"
        "chr21\t25891800\t.\tGA\tTC\t.\tPASS\t.\n"
        "chr21\t25891802\t.\tGAT\tGCT\t.\tPASS\t.\n"
        "chr21\t25891810\t.\tG\t.\t.\tPASS\t.\n"
    )
    vcf = Path(pysam.tabix_index(str(plain), preset="vcf", force=True))
    clinvar = _write_vcf(
        tmp_path / "clinvar.vcf.gz",
        {"chr21": 46709983},
        [
            "chr21 25879000 1 A <DEL>",  # symbolic: never matched by allele
            "chr21 25891796 2 G A",
        ],
    )
    table = annotate_table(vcf, gene_model=gff3_model, clinvar=clinvar)
    by_pos = table.set_index(["pos", "alt"])
    assert list(table["allele_class"]) == ["symbolic", "symbolic", "breakend", "indel", "SNV", "star", "MNV", "SNV"]
    # <DEL> 25879000..25891800 covers APP's CDS; POS alone is intergenic.
    assert by_pos.loc[(25879000, "<DEL>"), "region_class"] == "CDS"
    assert by_pos.loc[(25879000, "<DEL>"), "gene"] == "APP"
    assert by_pos.loc[(25879000, "<DEL>"), "end"] == 25891800
    assert by_pos.loc[(25880000, "<INS>"), "region_class"] == "intergenic"
    assert by_pos.loc[(25891796, "*"), "region_class"] == "CDS"
    # allele-matched sources annotate sequence alleles only
    assert by_pos.loc[(25891796, "A"), "clinvar_id"] == "2"
    assert pd.isna(by_pos.loc[(25879000, "<DEL>"), "clinvar_id"])
    assert pd.isna(by_pos.loc[(25891796, "*"), "clinvar_id"])
    # GAT>GCT trims to an SNV (A>C at 25891803)
    assert by_pos.loc[(25891802, "GCT"), "allele_class"] == "SNV"
    summary = annotation_summary(table)
    assert summary["allele_class"] == {"SNV": 2, "MNV": 1, "indel": 1, "symbolic": 2, "breakend": 1, "star": 1}
    assert summary["alleles"] == 8 and summary["clinvar_matched"] == 1

    out = tmp_path / "sv.annotated.bcf"
    write_annotated(vcf, table, out)
    q = subprocess.run(
        ["bcftools", "query", "-f", "%POS\t%ALT\t%GR_CLASS\t%GR_REGION\n", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "25879000\t<DEL>\tsymbolic\tCDS" in q
    assert "25891796\t*\tstar\tCDS" in q
    assert "25880500\tA[chr21:30000000[\tbreakend\tintergenic" in q
    assert "25891810\t.\t.\t." in q  # a record without an ALT passes through unannotated


# ---------------------------------------------------------------------------
# Resources are checked before any lookup
# ---------------------------------------------------------------------------


def test_validate_resource_accepts_a_good_resource(cohort):
    summary = validate_resource(cohort / "clinvar.vcf.gz", "ClinVar", genome_build="GRCh38")
    assert summary["records"] == 400 and summary["contigs"] == ["chr21"]


def test_validate_resource_refuses_a_foreign_index(cohort, tmp_path):
    # The AF resource with the ClinVar index: same contig, other records. A lookup
    # through it finds nothing and says nothing; the check says which file.
    for suffix in ("", ".tbi"):
        src = cohort / ("popfreq.vcf.gz" if suffix == "" else "clinvar.vcf.gz.tbi")
        shutil.copy(src, tmp_path / f"popfreq.vcf.gz{suffix}")
    with pytest.raises(InputError, match="does not belong to popfreq.vcf.gz"):
        validate_resource(tmp_path / "popfreq.vcf.gz", "population AF", genome_build="GRCh38")


def test_validate_resource_refuses_another_build(tmp_path):
    grch37 = _write_vcf(tmp_path / "b37.vcf.gz", {"1": 249250621}, ["1 1000 . A G"])
    with pytest.raises(InputError, match="GRCh37.*configured for GRCh38"):
        validate_resource(grch37, "ClinVar", genome_build="GRCh38")
    # no lengths in the header: positions past the chromosome end give it away
    plain = tmp_path / "nolen.vcf"
    plain.write_text(HEADER.format(contigs="##contig=<ID=1>\n") + "1\t249240000\t.\tA\tG\t.\tPASS\t.\n")
    nolen = pysam.tabix_index(str(plain), preset="vcf", force=True)
    with pytest.raises(InputError, match="beyond the end of 1 in GRCh38"):
        validate_resource(nolen, "dbSNP", genome_build="GRCh38")
    summary = validate_resource(nolen, "dbSNP", genome_build="GRCh37")
    assert any("no ##contig lengths" in w for w in summary["warnings"])


def test_validate_resource_older_index_is_checked_and_warned(cohort, tmp_path):
    for name in ("clinvar.vcf.gz", "clinvar.vcf.gz.tbi"):
        shutil.copy(cohort / name, tmp_path / name)
    os.utime(tmp_path / "clinvar.vcf.gz.tbi", (1_000_000_000, 1_000_000_000))
    summary = validate_resource(tmp_path / "clinvar.vcf.gz", "ClinVar", genome_build="GRCh38")
    assert any("older" in w for w in summary["warnings"])


def test_population_af_picks_the_value_of_the_matching_allele(tmp_path):
    """Number=A and Number=R keys on a multiallelic resource record: each ALT gets its own value."""
    plain = tmp_path / "af.vcf"
    plain.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=248956422>\n"
        '##INFO=<ID=AF,Number=A,Type=Float,Description="AF">\n'
        '##INFO=<ID=AFR,Number=R,Type=Float,Description="per allele incl. REF">\n'
        '##INFO=<ID=AF1,Number=1,Type=Float,Description="one">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t100\t.\tA\tC,G,T\t.\tPASS\tAF=0.1,0.2,.;AFR=0.7,0.1,0.2,0;AF1=0.5\n"
        "chr1\t200\t.\tAT\tA\t.\tPASS\tAF=0.05;AFR=0.95,0.05;AF1=0.25\n"
    )
    resource = pysam.tabix_index(str(plain), preset="vcf", force=True)
    query = _write_vcf(
        tmp_path / "q.vcf.gz",
        {"chr1": 248956422},
        ["chr1 100 . A G", "chr1 100 . A T", "chr1 200 . ATT AT", "chr1 300 . A C"],
    )
    got = {
        key: annotate_table(query, population_af=resource, population_af_key=key)["population_af"].tolist()
        for key in ("AF", "AFR")
    }
    # ATT>AT trims to AT>A, the resource's deletion at 200
    assert got["AF"][0] == 0.2 and np.isnan(got["AF"][1]) and got["AF"][2] == 0.05 and np.isnan(got["AF"][3])
    assert got["AFR"][0] == 0.2 and got["AFR"][1] == 0.0 and got["AFR"][2] == 0.05 and np.isnan(got["AFR"][3])
    af1 = annotate_table(query, population_af=resource, population_af_key="AF1")["population_af"].tolist()
    assert af1[:3] == [0.5, 0.5, 0.25]


def test_gene_model_without_the_chunks_contig_leaves_variants_intergenic(tmp_path):
    """A chr21 gene model and a chunk on chrX: no error, the variants get no gene."""
    vcf = _write_vcf(tmp_path / "x.vcf.gz", {"chrX": 156040895}, ["chrX 10000100 . A G"])
    table = annotate_table(vcf, gene_model=GFF3_CHR21)
    assert table["region_class"].tolist() == ["intergenic"] and table["gene"].isna().all()


def test_rare_damaging_counts_sequence_alleles_only():
    """A '*' or symbolic allele in a CDS is not a damaging allele of its own."""
    from genorisk.features import rare_damaging

    table = pd.DataFrame(
        {
            "allele_class": ["SNV", "star", "symbolic", "indel"],
            "region_class": ["CDS"] * 4,
            "gene": ["APP"] * 4,
            "consequence": pd.array([None] * 4, dtype="str"),
            "population_af": [0.001, 0.001, 0.001, 0.2],
            "clinvar_significance": pd.array([None] * 4, dtype="str"),
        }
    )
    assert rare_damaging(table, max_af=0.01).tolist() == [True, False, False, False]


def test_validate_resource_sampled_check_for_large_files(cohort, tmp_path):
    """Above the size limit the check samples records at random BGZF blocks: a
    good index finds them all, a foreign one misses them."""
    good = validate_resource(cohort / "popfreq.vcf.gz", "population AF", full_check_max_bytes=0)
    assert good["check"] == "sampled" and good["records"] is None and good["contigs"] == ["chr21"]
    for suffix in ("", ".tbi"):
        src = cohort / ("popfreq.vcf.gz" if suffix == "" else "clinvar.vcf.gz.tbi")
        shutil.copy(src, tmp_path / f"popfreq.vcf.gz{suffix}")
    with pytest.raises(InputError, match="does not belong to popfreq.vcf.gz"):
        validate_resource(tmp_path / "popfreq.vcf.gz", "population AF", full_check_max_bytes=0)


def test_resource_rows_are_filtered_to_the_query_as_they_stream(cohort):
    """A dense resource is not held in memory: only records that can match a
    query allele (its minimal position within the record's REF) are kept."""
    from genorisk.annotate.lookup import resource_alleles

    every = resource_alleles(cohort / "popfreq.vcf.gz", "AF", "chr21", 1, 46_709_983, [("value", "%INFO/AF")])
    assert len(every) == 600
    deletion = every.loc[every["kref"].str.len() > 1].iloc[0]
    wanted = np.array(sorted([int(every["kpos"].iloc[3]), int(deletion["kpos"]) + 1]))
    some = resource_alleles(
        cohort / "popfreq.vcf.gz", "AF", "chr21", 1, 46_709_983, [("value", "%INFO/AF")], targets=wanted
    )
    # the SNV at the first target, and the deletion whose REF covers the second
    assert len(some) == 2 and int(deletion["kpos"]) in some["kpos"].tolist()
