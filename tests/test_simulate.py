"""The demo simulator: plausible population genetics, requested truth, determinism."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import allel
import numpy as np
import pandas as pd
import pytest

from genorisk.config import read_truth, validate_section
from genorisk.errors import ConfigError
from genorisk.io import read_json
from genorisk.simulate import SimulationConfig, auc_ceiling, simulate
from genorisk.vcf import validate_vcf

REPO = Path(__file__).resolve().parents[1]
GENE_MODEL = REPO / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz"

# Small, constant-size population: neutral expectations hold and it runs in seconds.
SMALL = dict(
    seed=7,
    n_cohort=1500,
    n_reference=200,
    start=25_000_001,
    end=27_000_000,
    demography="constant",
    outlier_population=None,
    h2=0.3,
    n_causal=50,
    burden_genes=2,
    burden=0.03,
    covariate_variance=0.05,
    prevalence=0.2,
)


def _patients(outdir: Path, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(1, n + 1)],
            "vcf": [str(outdir / "patients" / f"P{i}.vcf.gz") for i in range(1, n + 1)],
            "sample": [f"S{i}" for i in range(1, n + 1)],
            "age": ["50", "", "70"][:n],
        }
    )


@pytest.fixture(scope="module")
def small_sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    truth = simulate(SimulationConfig(**SMALL), _patients(out), out, GENE_MODEL)
    return out, truth


# A second disease of the same people: a smaller additive part, epistasis and gene x age, rarer.
EXTRA = dict(
    column="status_b",
    prevalence=0.1,
    h2=0.15,
    n_causal=30,
    epistasis=0.15,
    n_epistatic_pairs=12,
    gxage=0.1,
    covariate_variance=0.05,
)


@pytest.fixture(scope="module")
def extra_sim(tmp_path_factory):
    """SMALL with one extra trait (compared with small_sim: the first disease must not change)."""
    out = tmp_path_factory.mktemp("extra")
    truth = simulate(SimulationConfig(**SMALL, extra_traits=[EXTRA]), _patients(out), out, GENE_MODEL)
    return out, truth


def _digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_auc_ceiling_matches_reference_values():
    # reference.md section 5, checked there against a 2-million-person simulation.
    for h2, k, expected in [(0.2, 0.1, 0.744), (0.3, 0.05, 0.820), (0.4, 0.1, 0.839), (0.5, 0.1, 0.875)]:
        assert auc_ceiling(h2, k) == pytest.approx(expected, abs=0.0015)
    with pytest.raises(ValueError):
        auc_ceiling(0.0, 0.1)


@pytest.mark.integration
def test_outputs_are_valid_vcfs_on_grch38_chr21(small_sim):
    out, truth = small_sim
    for name in ["cohort.vcf.gz", "popfreq.simulated.vcf.gz", "clinvar.simulated.vcf.gz", "patients/P1.vcf.gz"]:
        report = validate_vcf(out / name, genome_build="GRCh38", require_records=True)
        assert report.n_records > 0
        assert (out / (name + ".tbi")).exists()
        # bcftools (htslib) agrees on the record count.
        n = subprocess.run(["bcftools", "view", "-H", str(out / name)], capture_output=True, check=True).stdout.count(
            b"\n"
        )
        assert n == report.n_records
    header = subprocess.run(
        ["bcftools", "view", "-h", str(out / "cohort.vcf.gz")], capture_output=True, text=True, check=True
    ).stdout
    assert "##contig=<ID=chr21,length=46709983" in header
    assert "SIMULATED" in header
    # Real A/C/G/T alleles, biallelic.
    body = subprocess.run(
        ["bcftools", "query", "-f", "%REF%ALT\n", str(out / "cohort.vcf.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set("".join(body)) <= set("ACGT") and all(len(x) == 2 for x in body)


@pytest.mark.integration
def test_site_frequency_spectrum_is_neutral_for_constant_size(small_sim):
    out, _ = small_sim
    callset = allel.read_vcf(str(out / "cohort.vcf.gz"), fields=["variants/POS", "calldata/GT"])
    gt = allel.GenotypeArray(callset["calldata/GT"])
    ac = gt.count_alleles()[:, :2]
    pos = callset["variants/POS"]
    n_hap = 2 * gt.n_samples
    length = SMALL["end"] - SMALL["start"] + 1
    # Watterson's theta and nucleotide diversity both estimate 4 Ne mu.
    expected = 4 * 10_000 * 1.29e-8
    theta_w = allel.watterson_theta(pos, ac, start=SMALL["start"], stop=SMALL["end"])
    pi = allel.sequence_diversity(pos, ac, start=SMALL["start"], stop=SMALL["end"])
    assert theta_w == pytest.approx(expected, rel=0.35), (theta_w, expected)
    assert pi == pytest.approx(expected, rel=0.35), (pi, expected)
    # Unfolded SFS ~ theta / i: singletons are about 1 / a_n of the segregating sites.
    # (Sites monomorphic in the cohort were dropped, as the simulator documents.)
    derived = ac[:, 1]
    a_n = np.sum(1.0 / np.arange(1, n_hap))
    singleton_share = np.mean(derived == 1)
    assert singleton_share == pytest.approx(1 / a_n, rel=0.35)
    assert length > 0


@pytest.mark.integration
def test_liability_matches_requested_h2_and_prevalence(small_sim):
    out, truth = small_sim
    cohort_truth = pd.read_csv(out / "cohort_truth.tsv", sep="\t").set_index("sample_id")
    pheno = pd.read_csv(out / "phenotypes.tsv", sep="\t").set_index("sample_id")
    # Recompute the additive genetic value from the written VCF and the truth's effects.
    causal = pd.DataFrame(truth["causal_variants"])
    callset = allel.read_vcf(
        str(out / "cohort.vcf.gz"), fields=["variants/POS", "variants/ALT", "calldata/GT", "samples"]
    )
    index = {p: i for i, p in enumerate(callset["variants/POS"])}
    rows = [index[p] for p in causal["pos"]]
    gt = allel.GenotypeArray(callset["calldata/GT"][rows])
    dos = gt.to_n_alt(fill=-1).astype(float)
    dos[dos < 0] = np.nan
    dos = np.where(np.isnan(dos), np.nanmean(dos, axis=1, keepdims=True), dos)
    g = causal["effect"].to_numpy() @ dos
    liability = cohort_truth.loc[list(callset["samples"]), "liability"].to_numpy()
    additive = cohort_truth.loc[list(callset["samples"]), "additive"].to_numpy()
    # The recomputed genetic value is the truth's (up to centring and the 0.1 % missing calls).
    assert np.corrcoef(g, additive)[0, 1] > 0.995
    # Variance of liability explained by the causal variants ~ requested h2.
    r2 = np.corrcoef(g, liability)[0, 1] ** 2
    assert r2 == pytest.approx(SMALL["h2"], abs=0.06)
    assert np.var(liability) == pytest.approx(1.0, abs=0.1)
    # Case fraction ~ K within 3 binomial standard errors; status is the threshold rule.
    k, n = SMALL["prevalence"], SMALL["n_cohort"]
    assert abs(pheno["status"].mean() - k) < 3 * np.sqrt(k * (1 - k) / n)
    above = cohort_truth["liability"] > truth["liability_threshold"]
    assert (pheno.loc[cohort_truth.index, "status"].astype(bool) == above).all()
    # Ceiling recorded and consistent with the formula.
    assert truth["auc_ceiling_genetic"] == pytest.approx(auc_ceiling(truth["h2_total"], k))


@pytest.mark.integration
def test_burden_and_clinvar_truth(small_sim):
    out, truth = small_sim
    assert len(truth["burden_genes"]) == 2
    assert truth["burden_variants"], "no rare coding variants in the burden genes"
    assert all(v["cohort_af"] < 0.01 or v["cohort_af"] > 0.99 for v in truth["burden_variants"])
    clin = subprocess.run(
        ["bcftools", "query", "-f", "%POS\t%INFO/CLNSIG\t%INFO/GENEINFO\n", str(out / "clinvar.simulated.vcf.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pathogenic = {int(line.split("\t")[0]) for line in clin if "athogenic" in line.split("\t")[1]}
    burden_pos = {v["pos"] for v in truth["burden_variants"]}
    assert pathogenic and pathogenic <= burden_pos


@pytest.mark.integration
def test_patients_get_sheet_covariates_and_sample_names(small_sim):
    out, _ = small_sim
    pt = pd.read_csv(out / "patients_truth.tsv", sep="\t")
    assert list(pt["patient_id"]) == ["P1", "P2", "P3"]
    assert pt.loc[0, "age"] == 50 and pt.loc[2, "age"] == 70
    report = validate_vcf(out / "patients/P2.vcf.gz", require_samples=["S2"])
    assert report.samples == ["S2"]


@pytest.mark.integration
def test_same_seed_gives_byte_identical_files(tmp_path):
    cfg = SimulationConfig(**{**SMALL, "n_cohort": 300, "end": 25_800_000})
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(cfg, _patients(a, 2), a, GENE_MODEL)
    simulate(cfg, _patients(b, 2).assign(vcf=lambda d: d["vcf"].str.replace(str(a), str(b))), b, GENE_MODEL)
    da, db = _digest_tree(a), _digest_tree(b)
    assert da == db and len(da) >= 12
    other = SimulationConfig(**{**SMALL, "n_cohort": 300, "end": 25_800_000, "seed": 8})
    simulate(other, _patients(c, 2), c, GENE_MODEL)
    assert _digest_tree(c)["cohort.vcf.gz"] != da["cohort.vcf.gz"]


@pytest.mark.integration
def test_truth_json_is_complete(small_sim):
    out, truth = small_sim
    on_disk = read_json(out / "truth.json")
    for key in ["h2", "h2_total", "prevalence", "auc_ceiling", "causal_variants", "variance_components", "seed"]:
        assert key in on_disk
    assert len(on_disk["causal_variants"]) == SMALL["n_causal"]


def test_config_errors_name_the_key():
    # The config schema checks the simulate section (the workflow at start-up, the CLI on reading).
    with pytest.raises(ConfigError, match="simulate.n_cohrt"):
        validate_section("simulate", {"outdir": "sim", "n_cohrt": 10})
    with pytest.raises(ConfigError, match="environment"):
        validate_section("simulate", {"outdir": "sim", "h2": 0.6, "dominance": 0.3, "covariate_variance": 0.1})
    with pytest.raises(ConfigError, match="simulate.end"):
        validate_section("simulate", {"outdir": "sim", "end": 50_000_000})
    # The dataclass is built from the validated section; an unknown key there is a programming error.
    cfg = SimulationConfig.from_dict(validate_section("simulate", {"outdir": "sim", "n_cohort": 100}))
    assert cfg.n_cohort == 100
    with pytest.raises(ValueError, match="n_cohrt"):
        SimulationConfig.from_dict({"n_cohrt": 10})


@pytest.mark.integration
def test_chrx_segment_gives_haploid_males_and_a_working_sex_check(tmp_path):
    """chrx_bp adds a non-PAR chrX segment: males haploid, females diploid; the
    cohort sex check (F, like plink --check-sex) and the single-patient check
    agree with the recorded sex; the chr21 data and phenotype are unchanged."""
    from genorisk.qc import infer_sex_single, run_qc

    base = {**SMALL, "n_cohort": 600, "end": 25_800_000}
    with_x, without_x = tmp_path / "x", tmp_path / "nox"
    patients = _patients(with_x, 2).assign(sex=["male", "female"])
    truth = simulate(SimulationConfig(**base, chrx_bp=1_000_000), patients, with_x, GENE_MODEL)
    simulate(SimulationConfig(**base), _patients(without_x, 2).assign(sex=["male", "female"]), without_x, GENE_MODEL)
    assert truth["chrx"]["n_sites"] > 1000 and truth["chrx"]["start"] > 2_781_479  # outside PAR1

    cohort = with_x / "cohort.vcf.gz"
    assert validate_vcf(cohort, genome_build="GRCh38").warnings == []
    pheno = pd.read_csv(with_x / "phenotypes.tsv", sep="\t")
    assert pheno.equals(pd.read_csv(without_x / "phenotypes.tsv", sep="\t"))
    chr21 = ["bcftools", "view", "-H", "-r", "chr21"]
    assert (
        subprocess.run([*chr21, str(cohort)], capture_output=True, check=True).stdout
        == subprocess.run([*chr21, str(without_x / "cohort.vcf.gz")], capture_output=True, check=True).stdout
    )

    gts = subprocess.run(
        ["bcftools", "query", "-r", "chrX", "-f", "[%GT\t]\n", str(cohort)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    cells = np.array([ln.rstrip("\t").split("\t") for ln in gts])
    male = (pheno["sex"] == "male").to_numpy()
    assert all(len(g) == 1 for g in cells[:, male].ravel())  # "0", "1" or "."
    assert all(len(g) == 3 for g in cells[:, ~male].ravel())  # "0|1", "./."

    qc = run_qc(cohort, recorded_sex=dict(zip(pheno["sample_id"], pheno["sex"], strict=True))).samples
    assert (qc["sex_check"] == "mismatch").sum() == 0
    assert (qc["sex_check"] == "consistent").mean() > 0.97
    assert infer_sex_single(with_x / "patients/P1.vcf.gz", "S1")["inferred_sex"] == "male"
    assert infer_sex_single(with_x / "patients/P2.vcf.gz", "S2")["inferred_sex"] == "female"


@pytest.mark.integration
def test_extra_trait_has_its_prevalence_ceiling_and_epistatic_pairs(extra_sim, small_sim):
    out, truth = extra_sim
    trait = truth["traits"]["status_b"]
    pheno = pd.read_csv(out / "phenotypes.tsv", sep="\t")
    assert list(pheno.columns) == ["sample_id", "status", "age", "sex", "status_b"]
    assert set(pheno["status_b"]) == {0, 1}
    assert trait["case_fraction"] == pytest.approx(pheno["status_b"].mean())
    assert trait["case_fraction"] == pytest.approx(EXTRA["prevalence"], abs=0.03)
    # Cases are the people whose own liability exceeds the trait's threshold.
    cohort_truth = pd.read_csv(out / "cohort_truth.tsv", sep="\t")
    above = cohort_truth["status_b_liability"] > trait["liability_threshold"]
    assert (above.astype(int) == pheno["status_b"]).all()
    requested = {"additive": "h2", "epistasis": "epistasis", "gxage": "gxage", "covariates": "covariate_variance"}
    for component, key in requested.items():
        assert cohort_truth[f"status_b_{component}"].var(ddof=0) == pytest.approx(EXTRA[key], rel=0.01)
    # Its ceiling, from its own variance components.
    components = trait["variance_components"]
    assert trait["auc_ceiling"] == pytest.approx(
        auc_ceiling(trait["h2_total"] + components["covariates"], EXTRA["prevalence"])
    )
    assert 0.5 < trait["auc_ceiling_genetic"] < trait["auc_ceiling"] < 1
    # Its own causal variants, drawn independently of the first disease's, each in the cohort VCF.
    causal = {(v["chrom"], v["pos"]) for v in trait["causal_variants"]}
    assert len(causal) == EXTRA["n_causal"]
    assert len(causal & {(v["chrom"], v["pos"]) for v in truth["causal_variants"]}) < EXTRA["n_causal"] // 3
    positions = set(allel.read_vcf(str(out / "cohort.vcf.gz"), fields=["variants/POS"])["variants/POS"].tolist())
    assert {pos for _, pos in causal} <= positions
    # Epistatic pairs: two of its causal variants each, with their weight.
    pairs = trait["epistatic_pairs"]
    assert len(pairs) == EXTRA["n_epistatic_pairs"]
    assert all((p[k]["chrom"], p[k]["pos"]) in causal for p in pairs for k in ("a", "b"))
    assert all(isinstance(p["weight"], float) for p in pairs)
    assert trait["burden_genes"] == [] and trait["burden_variants"] == []  # burden 0: none
    # Held-out labels per disease.
    patients = pd.read_csv(out / "patients_truth.tsv", sep="\t")
    assert list(patients.columns[-3:]) == ["status_b", "status_b_liability", "status_b_genetic_value"]
    assert set(patients["status_b"]) <= {0, 1}
    assert ((patients["status_b_liability"] > trait["liability_threshold"]).astype(int) == patients["status_b"]).all()
    # The genetic value is part of the liability (with covariates and noise), so they correlate.
    assert np.corrcoef(patients["status_b_genetic_value"], patients["status_b_liability"])[0, 1] > 0.3


@pytest.mark.integration
def test_extra_trait_leaves_the_first_disease_byte_identical(extra_sim, small_sim):
    (out, truth), (base, base_truth) = extra_sim, small_sim
    # Genotypes and every resource: byte for byte.
    digests, base_digests = _digest_tree(out), _digest_tree(base)
    changed = sorted(k for k in base_digests if digests[k] != base_digests[k])
    assert changed == ["cohort_truth.tsv", "patients_truth.tsv", "phenotypes.tsv", "truth.json"]
    # The first disease's columns and truth: identical; the extra trait's are appended.
    for name in ("phenotypes.tsv", "cohort_truth.tsv", "patients_truth.tsv"):
        before = pd.read_csv(base / name, sep="\t")
        after = pd.read_csv(out / name, sep="\t")
        pd.testing.assert_frame_equal(after[before.columns], before)
        assert list(after.columns[: len(before.columns)]) == list(before.columns)
    assert set(truth) - set(base_truth) == {"traits"}
    assert {k for k in base_truth if truth[k] != base_truth[k]} == {"config"}
    # Without extra traits the truth is as before them: no "traits", no "extra_traits" in the config.
    assert "traits" not in base_truth and "extra_traits" not in base_truth["config"]
    assert truth["config"]["extra_traits"] == [EXTRA | {"burden": 0.0, "dominance": 0.0}]


def test_extra_trait_config_is_checked():
    section = validate_section("simulate", {"outdir": "sim", "extra_traits": [{"column": "status_b"}]})
    cfg = SimulationConfig.from_dict(section)
    assert cfg.extra_traits[0].column == "status_b" and cfg.extra_traits[0].prevalence == 0.1
    assert cfg.trait_config(0).h2 == 0.3 and cfg.trait_config(0).burden_genes == 0
    assert cfg.trait_seed(0) == [42, 1000]
    with pytest.raises(ConfigError, match="simulate.extra_traits.0.column"):
        validate_section("simulate", {"outdir": "sim", "extra_traits": [{"column": "1bad"}]})
    with pytest.raises(ConfigError, match=r"extra_traits\[0\].column 'status' is already a phenotype column"):
        SimulationConfig(extra_traits=[{"column": "status"}])
    with pytest.raises(ConfigError, match=r"extra_traits\[1\].column 'b'"):
        SimulationConfig(extra_traits=[{"column": "b"}, {"column": "b"}])
    with pytest.raises(ConfigError, match=r"extra_traits\[0\].*must be below 0.95"):
        SimulationConfig(extra_traits=[{"column": "b", "h2": 0.5, "epistasis": 0.3, "gxage": 0.2}])
    with pytest.raises(ValueError, match="h3"):
        SimulationConfig(extra_traits=[{"column": "b", "h3": 0.1}])


@pytest.mark.integration
def test_read_truth_per_column(extra_sim, tmp_path):
    out, truth = extra_sim
    path = out / "truth.json"
    first = read_truth(path)
    assert read_truth(path, column="status") == first
    assert first["prevalence"] == SMALL["prevalence"]
    extra = read_truth(path, column="status_b")
    components = truth["traits"]["status_b"]["variance_components"]
    assert extra == pytest.approx(
        {
            "h2": components["additive"] + components["covariates"],
            "h2_total": truth["traits"]["status_b"]["h2_total"] + components["covariates"],
            "prevalence": EXTRA["prevalence"],
        }
    )
    with pytest.raises(ConfigError, match=r"truth.json.*no truth for the phenotype column 'status_c'"):
        read_truth(path, column="status_c")
    # The documented form names its own columns.
    doc = tmp_path / "truth.json"
    doc.write_text(
        '{"h2": 0.4, "prevalence": 0.1, "column": "cad", "traits": {"t2d": {"h2": 0.2, "prevalence": 0.08}}}'
    )
    assert read_truth(doc, column="cad") == {"h2": 0.4, "prevalence": 0.1}
    assert read_truth(doc, column="t2d") == {"h2": 0.2, "prevalence": 0.08}
    with pytest.raises(ConfigError, match="no truth for the phenotype column 'status'"):
        read_truth(doc, column="status")
    doc.write_text('{"h2": 0.4, "prevalence": 0.1, "traits": {"t2d": {"h2": 0.2}}}')
    with pytest.raises(ConfigError, match="key traits.t2d.prevalence"):
        read_truth(doc, column="t2d")


# Genome-wide mode: 3 chromosomes x 300 kb, 200 people (phase 1 per chromosome, then phase 2).
GENOME = dict(chromosomes=[1, 7, 21], bp_per_chromosome=300_000)
GW_SIM = {**SMALL, "n_cohort": 200, "n_reference": 50, "n_causal": 40, "h2": 0.5, "ancestry_panel": 5}


def _simulate_genome_wide(out: Path, seed: int = 7) -> dict:
    from genorisk.simulate import GenomeWideConfig, simulate_chromosome, simulate_phenotype

    cfg, genome = SimulationConfig(**{**GW_SIM, "seed": seed}), GenomeWideConfig(**GENOME)
    patients = _patients(out, 2)
    for chromosome in genome.chromosomes:
        simulate_chromosome(cfg, genome, chromosome, patients, out, GENE_MODEL)
    return simulate_phenotype(cfg, genome, patients, out)


@pytest.fixture(scope="module")
def genome_sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("genome")
    return out, _simulate_genome_wide(out)


@pytest.mark.integration
def test_genome_wide_writes_one_indexed_vcf_per_chromosome(genome_sim):
    out, truth = genome_sim
    for chromosome in GENOME["chromosomes"]:
        vcf = out / f"cohort.chr{chromosome}.vcf.gz"
        assert (out / f"cohort.chr{chromosome}.vcf.gz.tbi").exists()
        header = subprocess.run(["bcftools", "view", "-h", str(vcf)], capture_output=True, text=True, check=True).stdout
        length = {1: 248956422, 7: 159345973, 21: 46709983}[chromosome]
        assert f"##contig=<ID=chr{chromosome},length={length},assembly=GRCh38>" in header
        assert header.count("##contig=") == 1 and "SIMULATED" in header
        assert header.rstrip("\n").split("\n")[-1].count("COH") == GW_SIM["n_cohort"]
        sites = subprocess.run(
            ["bcftools", "query", "-f", "%CHROM\t%POS\n", str(vcf)], capture_output=True, text=True, check=True
        ).stdout.split("\n")[:-1]
        chroms = {s.split("\t")[0] for s in sites}
        pos = np.array([int(s.split("\t")[1]) for s in sites])
        assert chroms == {f"chr{chromosome}"} and len(pos) > 100
        assert (np.diff(pos) > 0).all()  # sorted, one record per position
        assert pos[0] >= 25_000_001 and pos[-1] <= 25_300_000
        assert validate_vcf(vcf, genome_build="GRCh38", require_records=True).n_records == len(pos)
        assert (out / f"popfreq.chr{chromosome}.simulated.vcf.gz.tbi").exists()
    patient = validate_vcf(out / "patients/P1.vcf.gz", genome_build="GRCh38", require_samples=["S1"])
    assert patient.n_records == sum(c["n_sites"] for c in truth["genome_wide"]["chromosomes"])
    for name in ["phenotypes.tsv", "cohort_truth.tsv", "patients_truth.tsv", "clinvar.simulated.vcf.gz"]:
        assert (out / name).exists()


@pytest.mark.integration
def test_genome_wide_truth_variants_exist_and_h2_is_recovered(genome_sim):
    out, truth = genome_sim
    causal = pd.DataFrame(truth["causal_variants"])
    assert len(causal) == GW_SIM["n_causal"] and causal["chrom"].nunique() == 3
    for key in ["h2", "h2_total", "prevalence", "auc_ceiling", "variance_components", "seed", "liability_threshold"]:
        assert key in truth
    cohort_truth = pd.read_csv(out / "cohort_truth.tsv", sep="\t").set_index("sample_id")
    g = np.zeros(GW_SIM["n_cohort"])
    for chrom, rows in causal.groupby("chrom"):
        callset = allel.read_vcf(
            str(out / f"cohort.{chrom}.vcf.gz"),
            fields=["variants/POS", "variants/REF", "variants/ALT", "calldata/GT", "samples"],
        )
        index = {p: i for i, p in enumerate(callset["variants/POS"])}
        at = [index[p] for p in rows["pos"]]  # every causal variant is in its chromosome's VCF
        assert list(callset["variants/REF"][at]) == list(rows["ref"])
        assert list(callset["variants/ALT"][at, 0]) == list(rows["alt"])
        dos = allel.GenotypeArray(callset["calldata/GT"][at]).to_n_alt(fill=-1).astype(float)
        dos[dos < 0] = np.nan
        dos = np.where(np.isnan(dos), np.nanmean(dos, axis=1, keepdims=True), dos)
        g += rows["effect"].to_numpy() @ dos
    liability = cohort_truth.loc[list(callset["samples"]), "liability"].to_numpy()
    additive = cohort_truth.loc[list(callset["samples"]), "additive"].to_numpy()
    assert np.corrcoef(g, additive)[0, 1] > 0.99
    r2 = np.corrcoef(g, liability)[0, 1] ** 2
    assert r2 == pytest.approx(GW_SIM["h2"], abs=0.12)
    assert truth["variance_components"]["additive"] == pytest.approx(GW_SIM["h2"])
    pgs = pd.read_csv(out / "PGS_SIM_DEMO.txt", sep="\t", comment="#")
    assert set(pgs["chr_name"].astype(str)) <= {"1", "7", "21"}


@pytest.mark.integration
def test_genome_wide_same_seed_gives_identical_files(genome_sim, tmp_path):
    out, _ = genome_sim
    again = tmp_path / "again"
    _simulate_genome_wide(again)

    def digests(root: Path) -> dict[str, str]:
        # phenotype_inputs.*.npz are intermediates (zip members carry a timestamp).
        return {k: v for k, v in _digest_tree(root).items() if not k.endswith(".npz")}

    assert digests(again) == digests(out) and len(digests(out)) >= 20
    other = tmp_path / "other"
    _simulate_genome_wide(other, seed=8)
    assert _digest_tree(other)["cohort.chr1.vcf.gz"] != _digest_tree(out)["cohort.chr1.vcf.gz"]


@pytest.mark.integration
def test_genome_wide_extra_trait_leaves_the_first_disease_unchanged(genome_sim, tmp_path):
    from genorisk.simulate import GenomeWideConfig, simulate_chromosome, simulate_phenotype

    base, base_truth = genome_sim
    out = tmp_path / "extra"
    cfg = SimulationConfig(**GW_SIM, extra_traits=[{**EXTRA, "n_causal": 20}])
    genome, patients = GenomeWideConfig(**GENOME), _patients(out, 2)
    for chromosome in genome.chromosomes:
        simulate_chromosome(cfg, genome, chromosome, patients, out, GENE_MODEL)
    truth = simulate_phenotype(cfg, genome, patients, out)
    for name in ["cohort.chr1.vcf.gz", "cohort.chr21.vcf.gz", "clinvar.simulated.vcf.gz", "PGS_SIM_DEMO.txt"]:
        assert (out / name).read_bytes() == (base / name).read_bytes()
    for name in ("phenotypes.tsv", "patients_truth.tsv"):
        before = pd.read_csv(base / name, sep="\t")
        pd.testing.assert_frame_equal(pd.read_csv(out / name, sep="\t")[before.columns], before)
    assert {k for k in base_truth if truth[k] != base_truth[k]} == {"config"}
    trait = truth["traits"]["status_b"]
    assert len(trait["causal_variants"]) == 20 and len(trait["epistatic_pairs"]) == EXTRA["n_epistatic_pairs"]
    assert {v["chrom"] for v in trait["causal_variants"]} <= {"chr1", "chr7", "chr21"}
    assert pd.read_csv(out / "phenotypes.tsv", sep="\t")["status_b"].mean() == pytest.approx(trait["case_fraction"])


def test_genome_wide_config_keys():
    from genorisk.simulate import GenomeWideConfig

    section = validate_section("simulate", {"outdir": "sim", "genome_wide": {"chromosomes": [1, 2]}})
    genome = GenomeWideConfig.from_section(section)
    assert genome is not None and genome.chromosomes == [1, 2] and genome.bp_per_chromosome == 6_000_000
    assert GenomeWideConfig.from_section(validate_section("simulate", {"outdir": "sim"})) is None
    assert SimulationConfig.from_dict(section).n_cohort == 3000  # genome_wide is not a SimulationConfig key
    with pytest.raises(ConfigError, match="simulate.genome_wide.chromosomes"):
        validate_section("simulate", {"outdir": "sim", "genome_wide": {"chromosomes": [23]}})
    with pytest.raises(ConfigError, match="simulate.genome_wide.bp_per_chromosome"):
        validate_section("simulate", {"outdir": "sim", "genome_wide": {"bp_per_chromosome": 30_000_000}})


def _called_diplotypes(vcf: Path, sample: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    from genorisk.pgx.call import call_sample

    out = call_sample(vcf, sample)
    # the call itself, not the diplotypes a missing position leaves open
    names = {
        g["gene"]: "|".join(d["name"] for d in g["diplotypes"] if not d.get("differs_at_missing_positions"))
        for g in out["genes"]
    }
    missing = {g["gene"]: [m["rsid"] for m in g["missing_positions"]] for g in out["genes"] if g["missing_positions"]}
    return names, missing


def test_demo_pgx_plan_is_called_back_from_its_records(tmp_path):
    from genorisk.simulate.pgx import DEMO_PLAN, contig_lines, demo_pgx_sites
    from genorisk.simulate.vcf_writer import write_vcf

    sites = demo_pgx_sites(len(DEMO_PLAN) + 1)
    assert sites.truth[0]["pgx_diplotypes"].split(";")[2] == "CYP2C19=*2/*17"
    assert sites.truth[len(DEMO_PLAN)] == sites.truth[0]  # the plan cycles
    for k, truth in enumerate(sites.truth[: len(DEMO_PLAN)]):
        vcf = tmp_path / f"p{k}.vcf.gz"
        write_vcf(
            vcf, sites.positions, sites.refs, sites.alts, calls=sites.calls[:, k : k + 1], samples=["S"],
            ids=sites.ids, chroms=sites.chroms, contigs=contig_lines(sites.contigs, []),
        )  # fmt: skip
        called, missing = _called_diplotypes(vcf, "S")
        expected = dict(item.split("=", 1) for item in truth["pgx_diplotypes"].split(";"))
        assert called == expected, k
        assert missing == ({"CYP2C19": ["rs12248560"]} if truth["pgx_missing"] else {})


@pytest.mark.integration
def test_patient_vcfs_carry_the_pgx_region_and_the_same_chr21_sites(small_sim):
    out, truth = small_sim
    vcf = out / "patients/P1.vcf.gz"
    report = validate_vcf(vcf, genome_build="GRCh38", require_records=True)
    header = subprocess.run(["bcftools", "view", "-h", str(vcf)], capture_output=True, text=True, check=True).stdout
    assert "##contig=<ID=chr10,length=133797422" in header
    chr21 = subprocess.run(["bcftools", "view", "-H", "-r", "chr21", str(vcf)], capture_output=True, check=True)
    cohort = subprocess.run(["bcftools", "view", "-H", str(out / "cohort.vcf.gz")], capture_output=True, check=True)
    # The chr21 sites are the cohort's: the PGx region adds records, it moves none.
    assert chr21.stdout.count(b"\n") == truth["n_sites"] == cohort.stdout.count(b"\n")
    assert report.n_records > truth["n_sites"]
    pt = pd.read_csv(out / "patients_truth.tsv", sep="\t", keep_default_na=False)
    assert pt.loc[0, "pgx_diplotypes"].split(";")[2] == "CYP2C19=*2/*17"
    called, _ = _called_diplotypes(vcf, "S1")
    assert called["CYP2C19"] == "*2/*17"
