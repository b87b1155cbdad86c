# Shared setup, run when the workflow is parsed (before any job): the config,
# the sample sheet, the phenotype table and the truth file are checked here,
# patients are cut into batches, and the input functions live here.
import copy
import json
import re
import sys
from pathlib import Path

from genorisk.config import (
    cohort_genotype_form,
    cohort_vcf_parts,
    config_traits,
    read_patient_sheet,
    read_phenotypes,
    read_truth,
    validate_config,
)
from genorisk.errors import ConfigError, InputError
from genorisk.model import ModelConfig
from genorisk.model.bundle import (
    agreed_settings,
    bundle_covariates,
    bundle_folders,
    bundle_trait,
    config_settings,
)
from genorisk.scores import resolve_score_entries
from genorisk.simulate.config import CHROM as SIM_CHROM, CHROM_X as SIM_CHROM_X
from genorisk.store.shards import cohort_shards, simulated_extents, vcf_index_path
from genorisk.patient_files import patient_vcf_key

CONFIG_SOURCE = (
    ", ".join(map(str, workflow.overwrite_configfiles)) or "config/config.yaml"
)


def stop(what, err):
    """End the run at start-up with one line naming the file, the place and the problem."""
    sys.exit(f"genorisk: {what}: {err}")


# The config as written, before defaults are filled: a score-only run takes a setting
# the config leaves out from its bundles (RUN_SETTINGS below).
GIVEN_CONFIG = copy.deepcopy(config)
try:
    validate_config(config, source=CONFIG_SOURCE)
    # The model settings the feature rules need (the dosage columns kept per fold).
    MODEL_CONFIG = ModelConfig.from_dict(config["model"], source=CONFIG_SOURCE)
except ConfigError as err:
    stop("invalid config", err)

# Rule threads and memory come from the workflow profile (workflow/profiles/default,
# found next to workflow/Snakefile). Without it every job would get one thread.
if "train_model" not in workflow.resource_settings.overwrite_threads:
    stop(
        "workflow profile not loaded",
        "threads and memory of each job are set in workflow/profiles/default. Run snakemake "
        "from the repository root (or with --snakefile <repo>/workflow/Snakefile) and without "
        "--workflow-profile; give a cluster profile with --profile workflow/profiles/slurm",
    )

OUTDIR = config["outdir"].rstrip("/")
SIM = config.get("simulate")
SIM_DIR = SIM["outdir"].rstrip("/") if SIM else None

# Two entries: a training run (cohort: train per trait, publish each trait's bundle
# under model/<trait>/, then score) and a score-only run (bundles: patients scored
# from bundles alone, on a machine without the cohort). The patient path reads only
# bundle folders either way, so both give the same reports.
SCORE_ONLY = config["bundles"] is not None
if SCORE_ONLY == bool(config.get("cohort")):
    stop(
        "invalid config",
        f"{CONFIG_SOURCE}: give either cohort (train and score) or bundles (score only), "
        + ("not both" if SCORE_ONLY else "found neither"),
    )
if SCORE_ONLY and SIM:
    stop(
        "invalid config",
        f"{CONFIG_SOURCE}: simulate needs a cohort; a score-only run (bundles) has none",
    )
try:
    # Trait id -> settings (genorisk.model.trait_settings), in config order; in a
    # score-only run from each bundle's bundle.json. BUNDLES: trait id -> bundle folder.
    if SCORE_ONLY:
        BUNDLES = bundle_folders(config["bundles"], source=CONFIG_SOURCE)
        TRAITS = {t: bundle_trait(folder) for t, folder in BUNDLES.items()}
        COVARIATES = bundle_covariates(BUNDLES.values())
    else:
        COVARIATES = config["cohort"]["covariates"]
        TRAITS = {
            t["id"]: t
            for t in config_traits(
                config["traits"], covariates=COVARIATES, source=CONFIG_SOURCE
            )
        }
        BUNDLES = {t: f"{OUTDIR}/model/{t}" for t in TRAITS}
    # The training settings that shape patients' reports (genorisk.model.bundle.RUN_SETTINGS:
    # genome_build, features.burden_max_af, features.min_match_rate, ancestry.outlier_rate),
    # dotted key -> value. A training run records its config's in each bundle.json; a
    # score-only run takes them from its bundles, which must agree (and the config, where
    # it gives one), so its reports equal the training run's. The patient rules read them here.
    RUN_SETTINGS = (
        agreed_settings(BUNDLES, config, given=GIVEN_CONFIG, source=CONFIG_SOURCE)
        if SCORE_ONLY
        else config_settings(config)
    )
except (ConfigError, InputError) as err:
    stop("invalid traits or bundles", err)


def produced_by_simulation(path):
    """True for the cohort files the demo simulation writes (they need not exist before the run).

    Only for the cohort's and the resources' fixed names (SIM_FILES); which
    patients are simulated is said by the simulation, not by a path (SIM_PATIENTS).
    """
    return SIM_DIR is not None and str(Path(path)).startswith(f"{SIM_DIR}/")


def simulation_patient_list():
    """The patient IDs the simulation wrote (its patients_truth.tsv), or None before it ran."""
    listing = Path(f"{SIM_DIR}/patients_truth.tsv") if SIM else None
    if listing is None or not listing.exists():
        return None
    with listing.open() as lines:
        next(lines, None)  # header: patient_id first
        return [line.split("\t", 1)[0].strip() for line in lines if line.strip()]


# Files the demo simulation writes.
SIM_FILES = (
    {
        "cohort_vcf": f"{SIM_DIR}/cohort.vcf.gz",
        "phenotypes": f"{SIM_DIR}/phenotypes.tsv",
        "truth": f"{SIM_DIR}/truth.json",
        "clinvar": f"{SIM_DIR}/clinvar.simulated.vcf.gz",
        "popfreq": f"{SIM_DIR}/popfreq.simulated.vcf.gz",
        "pgs": f"{SIM_DIR}/PGS_SIM_DEMO.txt",
        **(
            {"ancestry_panel": f"{SIM_DIR}/ancestry_panel.vcf.gz"}
            if SIM["ancestry_panel"]
            else {}
        ),
    }
    if SIM
    else {}
)

# Input tables: checked now, not minutes later in the job that reads them.
# A table the simulation writes is checked once it exists.
try:
    PATIENTS = read_patient_sheet(
        config["patients"]["sheet"],
        covariates=COVARIATES,
        covariate_defaults=config["patients"]["covariate_defaults"],
        produced_under=SIM_DIR,
        simulated_patients=simulation_patient_list(),
    )
except ConfigError as err:
    stop("invalid patient sample sheet", err)
try:
    PHENOTYPES = None if SCORE_ONLY else config["cohort"]["phenotypes"]
    if PHENOTYPES and (
        not produced_by_simulation(PHENOTYPES) or Path(PHENOTYPES).exists()
    ):
        # A simulated table may predate a trait just added (the simulation reruns).
        read_phenotypes(
            PHENOTYPES,
            covariates=[c for c in COVARIATES],
            columns=(
                [t["column"] for t in TRAITS.values()]
                if not produced_by_simulation(PHENOTYPES)
                else []
            ),
        )
    TRUTH = None if SCORE_ONLY else config["cohort"]["truth"]
    if TRUTH and not produced_by_simulation(TRUTH):
        for _trait in TRAITS.values():
            read_truth(TRUTH, column=_trait["column"])
    elif TRUTH and Path(TRUTH).exists():
        read_truth(TRUTH)  # a simulated file may predate a trait just added
except ConfigError as err:
    stop("invalid cohort input", err)

# The cohort's genotypes: one VCF, per-chromosome VCFs, a PLINK 2 or PLINK 1 fileset,
# or BGEN. VCF inputs are validated and normalised per part: a file, or one
# chromosome of a single indexed VCF/BCF (a region query); every form then becomes
# one store of per-chromosome pgen files (rule make_store).
try:
    COHORT = config.get("cohort") or {}
    GENOTYPE_FORM = None
    VCF_PARTS, SHARDS, INPUT_PARTS = {}, [], []
    if not SCORE_ONLY:
        GENOTYPE_FORM = cohort_genotype_form(COHORT, source=CONFIG_SOURCE)
        _vcfs = COHORT.get("vcfs")
        if SIM and SIM.get("genome_wide") and isinstance(_vcfs, str):
            _simulated = [str(c) for c in SIM["genome_wide"]["chromosomes"]]
        elif SIM and not SIM.get("genome_wide") and COHORT.get("vcf"):
            # The demo's one VCF: its contigs are the simulation's, known before it runs.
            _simulated = [SIM_CHROM] + ([SIM_CHROM_X] if SIM["chrx_bp"] else [])
        else:
            _simulated = None
        _named = COHORT.get("vcf") or (_vcfs if isinstance(_vcfs, str) else None)
        _produced = bool(_named) and produced_by_simulation(_named)
        VCF_PARTS = cohort_vcf_parts(
            COHORT,
            simulated_chroms=_simulated if _produced else None,
            source=CONFIG_SOURCE,
        )
        # Store parts: one per VCF part, or the one PLINK/BGEN input, each converted by its
        # own job. Genome shards: the units the per-shard jobs (QC counts, variant
        # statistics) run on; a part's chromosome, or region chunks of it with cohort.shard_mb.
        INPUT_PARTS = list(VCF_PARTS) or ["cohort"]
        SHARDS = cohort_shards(
            GENOTYPE_FORM,
            VCF_PARTS,
            COHORT,
            build=config["genome_build"],
            shard_mb=COHORT["shard_mb"],
            simulated=simulated_extents(SIM) if _produced else None,
        )
except (ConfigError, InputError) as err:
    stop("invalid cohort genotypes", err)

#: Downstream shards, in genome order (cohort_qc_shard and cohort_variant_stats run per shard).
STORE_PARTS = [shard.name for shard in SHARDS]
#: Shards that are not a store part themselves (rule store_shard writes them).
SHARD_VIEWS = {shard.name: shard for shard in SHARDS if shard.name not in INPUT_PARTS}


def one_of(names):
    """A wildcard constraint matching exactly these names (nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def vcf_part_input(wildcards):
    """A VCF part's file, and its index when the part is a region of it."""
    part = VCF_PARTS[wildcards.part]
    files = {"vcf": part.path}
    if part.region is not None:
        files["index"] = vcf_index_path(part.path)
    return files


def store_part_input(wildcards):
    """What a store part is made from: its normalised VCF, or the PLINK/BGEN files."""
    if VCF_PARTS:
        return {
            "vcf": f"{OUTDIR}/normalized/{wildcards.part}.vcf.gz",
            "csi": f"{OUTDIR}/normalized/{wildcards.part}.vcf.gz.csi",
        }
    return {"genotypes": cohort_genotype_files()}


def cohort_genotype_files(wildcards=None):
    """The PLINK/BGEN files of the cohort (VCF forms come through their normalised parts)."""
    if GENOTYPE_FORM == "pfile":
        return [f"{COHORT['pfile']}.{ext}" for ext in ("pgen", "pvar", "psam")]
    if GENOTYPE_FORM == "bfile":
        return [f"{COHORT['bfile']}.{ext}" for ext in ("bed", "bim", "fam")]
    if GENOTYPE_FORM == "bgen":
        return [COHORT["bgen"]] + (
            [COHORT["bgen_sample"]] if COHORT["bgen_sample"] else []
        )
    return []


# Patients the demo simulation writes (named by the simulation or the sheet's
# simulated column: genorisk.config.read_patient_sheet): its rows, with the sheet's
# own columns, are the simulation's params, so editing other rows of the sheet
# does not rerun the simulation, and a user's file is never overwritten.
SIM_PATIENTS = (
    PATIENTS.loc[
        PATIENTS["simulated"],
        [
            c
            for c in PATIENTS.columns
            if c not in ("simulated", "sheet_line", "callable_bed")
        ],
    ]
    if SIM
    else PATIENTS.iloc[:0]
)

# Each distinct patient VCF is validated and normalised once (rule
# prepare_patient_vcf), however many rows of the sheet name it.
PATIENTS["vcf_key"] = [patient_vcf_key(v) for v in PATIENTS["vcf"]]

# Patients in sheet order, cut into batches: appending patients touches only
# the last batch, so a rerun scores only the batch that changed.
BATCH_SIZE = config["patients"]["batch_size"]
PATIENTS["batch"] = [f"b{i // BATCH_SIZE:05d}" for i in range(len(PATIENTS))]
BATCHES = {
    f"b{i // BATCH_SIZE:05d}": PATIENTS.iloc[i : i + BATCH_SIZE]
    for i in range(0, len(PATIENTS), BATCH_SIZE)
}


wildcard_constraints:
    batch=r"b\d{5}",
    chunk=r"\d+",
    part=r"cohort(\.[A-Za-z0-9_]+)?",
    vcf_key=r"[A-Za-z0-9._-]+-[0-9a-f]{8}",


def batch_patients(wildcards):
    """The batch's patients as plain records (params: a change reruns that batch)."""
    return patient_records(BATCHES[wildcards.batch])


def patient_records(frame):
    cols = ["patient_id", "vcf", "sample", "sheet_line"] + [
        c
        for c in ["sex", "callable_bed", "vcf_key", "batch", *COVARIATES]
        if c in frame.columns
    ]
    records = frame[list(dict.fromkeys(cols))].to_dict(orient="records")
    return [{**r, "sheet_line": int(r["sheet_line"])} for r in records]


# Only what the sample check needs: editing a patient's age does not redo the file.
PATIENT_VCFS = {
    key: {
        "vcf": rows["vcf"].iloc[0],
        "patients": [
            {"patient_id": p, "sample": s, "sheet_line": int(line), "batch": b}
            for p, s, line, b in zip(
                rows["patient_id"], rows["sample"], rows["sheet_line"], rows["batch"]
            )
        ],
    }
    for key, rows in PATIENTS.groupby("vcf_key", sort=False)
}


def patient_vcf_input(wildcards):
    """The patient VCF a prepare_patient_vcf job reads."""
    return PATIENT_VCFS[wildcards.vcf_key]["vcf"]


def patient_vcf_rows(wildcards):
    """The sheet rows naming one patient VCF (params of prepare_patient_vcf)."""
    return PATIENT_VCFS[wildcards.vcf_key]["patients"]


def batch_prepared(kind):
    """The prepared files (``status.json``, ``normalized.vcf.gz``, ``.csi``) of a batch's VCFs."""

    def files(wildcards):
        keys = dict.fromkeys(BATCHES[wildcards.batch]["vcf_key"])
        return [f"{OUTDIR}/patients/vcfs/{key}/{kind}" for key in keys]

    return files


def batch_vcfs(wildcards):
    return list(BATCHES[wildcards.batch]["vcf"])


def patient_callable_beds():
    """Callable-regions BEDs the sheet and the config name (inputs of patient_features)."""
    beds = (
        [config["patients"]["callable_bed"]]
        if config["patients"]["callable_bed"]
        else []
    )
    if "callable_bed" in PATIENTS.columns:
        beds += [b for b in PATIENTS["callable_bed"] if b]
    return list(dict.fromkeys(beds))


def patient_files(frame, name):
    """``<outdir>/patients/<patient_id>/<name>`` for each patient of a batch."""
    return [f"{OUTDIR}/patients/{pid}/{name}" for pid in frame["patient_id"]]


def patient_folders(frame):
    """``<outdir>/patients/<patient_id>`` for each patient of a batch."""
    return [f"{OUTDIR}/patients/{pid}" for pid in frame["patient_id"]]


ANNOTATION = config["annotation"]


def annotation_inputs(wildcards=None):
    """The annotation resources that are configured (each is optional)."""
    files = {}
    for key in ("gene_model", "fasta", "clinvar", "dbsnp"):
        if ANNOTATION.get(key):
            files[key] = ANNOTATION[key]
    if ANNOTATION.get("population_af"):
        files["population_af"] = ANNOTATION["population_af"]["vcf"]
    return files


def resource_vcfs(wildcards=None):
    """The indexed VCF resources and the ancestry panel that are configured, for validate_resources."""
    files = {
        k: v
        for k, v in annotation_inputs().items()
        if k in ("clinvar", "population_af", "dbsnp")
    }
    if config["ancestry"]["reference_panel"]:
        files["ancestry_panel"] = config["ancestry"]["reference_panel"]
    return files


def fasta_input(wildcards=None):
    """The reference FASTA, if configured (left-alignment and consequences)."""
    return {"fasta": ANNOTATION["fasta"]} if ANNOTATION.get("fasta") else {}


def population_af_key():
    return (ANNOTATION.get("population_af") or {}).get("info_key", "AF")


def ancestry_panel():
    """The ancestry reference panel VCF, if configured (list: empty when not)."""
    panel = config["ancestry"]["reference_panel"]
    return [panel] if panel else []


def cohort_truth():
    """The simulation truth file, if the config names one (enables the AUC ceiling)."""
    return [TRUTH] if TRUTH else []


def report_thresholds():
    """Quality thresholds of the reports' concerns (genorisk.report.QC_THRESHOLDS keys)."""
    return {
        "min_call_rate": config["report"]["min_call_rate"],
        "min_model_variant_coverage": config["report"]["min_model_variant_coverage"],
        "min_score_match_rate": RUN_SETTINGS["features.min_match_rate"],
    }


# The model artifact (genorisk.model): trained into a staging folder, published
# with the cohort reference as the trait's bundle <outdir>/model/<trait>/ only when
# complete (rule publish_model).
MODEL_FILES = {
    "model": "model.ubj",
    "schema": "features.schema.json",
    "calibrator": "calibrator.json",
    "cohort_risks": "cohort_risks.json",
    "metrics": "metrics.json",
    "card": "model_card.json",
    "card_md": "model_card.md",
    "linear_offset": "linear_offset.json",
    "interactions": "interactions.json",
}


def model_files(folder):
    return {key: f"{folder}/{name}" for key, name in MODEL_FILES.items()}


# A bundle (genorisk.model.bundle) is the model artifact plus what patient
# features need from the cohort (aggregate QC ranges and the cohort's site list,
# no individual-level data) and its manifest, bundle.json, written last.
BUNDLE_FILES = {
    **MODEL_FILES,
    "cohort_reference": "cohort_reference.json",
    "cohort_variants": "cohort_variants.parquet",
    "manifest": "bundle.json",
}


def bundle_files(folder):
    return {key: f"{folder}/{name}" for key, name in BUNDLE_FILES.items()}


def trait_bundle_files(key):
    """One bundle file (a BUNDLE_FILES key) of every trait, in trait order."""
    return [f"{BUNDLES[t]}/{BUNDLE_FILES[key]}" for t in TRAITS]


def trait_settings_of(wildcards):
    """The trait's settings (params: a change reruns that trait's jobs only)."""
    return TRAITS[wildcards.trait]


def trait_outputs(pattern):
    """``pattern`` (with ``{trait}``) for every trait, in trait order."""
    return [pattern.format(trait=t) for t in TRAITS]


def batch_rule_resources(family, names):
    """Give each per-batch rule of ``family`` the threads and resources the profile sets for ``family``.

    Per-batch rules (one per batch, so each declares its patients' files) are
    named ``<family>_<batch>``; the profile names the family once. Snakemake
    applies profile values by rule name when a rule is defined, so they are
    copied to the batch rules' names first.
    """
    settings = workflow.resource_settings
    for table in (
        settings._parsed_overwrite_threads,
        settings._parsed_overwrite_resources,
    ):
        if family in table:
            for name in names:
                table.setdefault(name, table[family])


def annotation_chunk_files(kind):
    """The chunk files (``parquet`` or ``bcf``) of every planned region, in file order."""

    def files(wildcards):
        plan = checkpoints.plan_annotation_chunks.get().output.regions
        n_regions = len(json.loads(Path(plan).read_text()))
        return [f"{OUTDIR}/annotation/chunks/{i:03d}.{kind}" for i in range(n_regions)]

    return files


def all_outputs():
    outs = [f"{OUTDIR}/qc/{part}.validation.json" for part in VCF_PARTS]
    if not SCORE_ONLY:
        outs += trait_bundle_files("manifest")
        outs.append(f"{OUTDIR}/cohort/cohort_report.html")
    outs += expand(f"{OUTDIR}/patients/batches/{{batch}}/reports.json", batch=BATCHES)
    if config["pgx"]["enabled"]:
        outs += expand(f"{OUTDIR}/patients/batches/{{batch}}/pgx.json", batch=BATCHES)
    outs.append(f"{OUTDIR}/patients/intake_check.json")
    return outs


# Polygenic scoring files: paths, or PGS Catalog IDs resolved from scores_dir (rule match_score).
try:
    SCORE_FILES = resolve_score_entries(
        config["scores"],
        scores_dir=config["scores_dir"],
        genome_build=config["genome_build"],
        source=CONFIG_SOURCE,
    )
except ConfigError as err:
    stop("invalid scores", err)


wildcard_constraints:
    score=r"[A-Za-z0-9_.\-]+",
    trait=one_of(TRAITS),


# The scores of each trait (traits[].scores; null = every configured score).
for _i, (_tid, _trait) in enumerate(TRAITS.items()):
    if SCORE_ONLY:
        break
    _unknown = [s for s in (_trait["scores"] or []) if s not in SCORE_FILES]
    if _unknown:
        stop(
            "invalid traits",
            f"{CONFIG_SOURCE}: key traits[{_i}].scores: {_unknown[0]!r} is not a configured score "
            f"(scores: {', '.join(SCORE_FILES) or 'none'})",
        )
    _trait["scores"] = (
        list(SCORE_FILES) if _trait["scores"] is None else list(_trait["scores"])
    )


def score_outputs(name, trait=None):
    """The audit, target-build scoring file or matched table of every configured score (or a trait's)."""
    scores = SCORE_FILES if trait is None else TRAITS[trait]["scores"]
    return expand(f"{OUTDIR}/scores/{{score}}.{name}", score=scores)


def trait_matched_scores(wildcards):
    """The matched tables of the trait's scores (inputs of its cohort_features)."""
    return score_outputs("matched.parquet", wildcards.trait)
