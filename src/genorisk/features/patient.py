"""Patient features: each person's features computed from the cohort's frozen schema, many persons in one read."""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genorisk import genotypes
from genorisk.callable import CallableRegions, non_reference_sites_many
from genorisk.errors import InputError
from genorisk.genome import canonical_contig
from genorisk.vcf import index_regions

log = logging.getLogger("genorisk.features")

#: A patient VCF is read through its index when the schema's positions are
#: fewer than this fraction of its records (see genorisk.vcf.index_regions:
#: measured break-even about 1% for GT-only files, 15% for WGS FORMAT fields).
INDEX_MAX_FRACTION = 0.02


def dosage_variants(schema: Mapping[str, Any]) -> pd.DataFrame:
    """The schema's dosage features as a variants table (chrom, pos, ref, alt, name), schema order."""
    rows = [dict(f["definition"], name=f["name"]) for f in schema["features"] if f["kind"] == "dosage"]
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "cohort_af", "name"])


def patient_features(
    vcf: str | Path,
    sample: str,
    schema: Mapping[str, Any],
    covariate_values: Mapping[str, Any],
    *,
    male: bool | None = None,
    use_index: bool | None = None,
    callable_regions: CallableRegions | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compute one patient's features from the cohort's schema.

    :func:`batch_patient_features` for one sample.

    Parameters
    ----------
    vcf : path
        The patient's VCF/BCF (validated; contains ``sample``).
    sample : str
        The sample name inside the VCF.
    schema : Mapping
        The cohort's feature schema; its order is the output's column order.
    covariate_values : Mapping
        Patient covariates by phenotype column (``age``, ``sex``); absent ones
        are missing.
    male : bool, optional
        Recorded sex, for the male chrX dosage scale (see
        :mod:`genorisk.genotypes`).
    use_index : bool, optional
        How the schema's variants are read. None (default): through the
        VCF's ``.tbi``/``.csi`` index when it has one and the schema's
        positions are under :data:`INDEX_MAX_FRACTION` of its records (a WGS
        file), else by one pass over the file. True: through the index
        whenever there is one. False: always one full pass. The features are
        the same either way.
    callable_regions : CallableRegions, optional
        Where the patient was sequenced well enough that an absent site is
        homozygous reference (:func:`genorisk.callable.patient_callable_regions`:
        a gVCF's reference blocks or a lab's BED). A schema allele absent
        from the VCF whose position lies inside gets dosage 0 (homozygous
        reference) for every use (dosage features, polygenic scores,
        burden/carrier genes, ancestry), unless a VCF record that is not a
        homozygous-reference call covers that position (another allele, a
        deletion, a no-call: :func:`genorisk.callable.non_reference_sites`),
        where the VCF's word stands. None (default): absent sites are
        missing, as without a gVCF or BED.

    Returns
    -------
    features : DataFrame
        One row indexed by ``sample``, columns exactly the schema's names.
    coverage : dict
        ``n_model_variants``; ``n_missing`` (absent from the VCF and not
        filled in from ``callable_regions``); ``n_reference_filled`` (absent,
        called homozygous reference from ``callable_regions``; 0 without);
        ``reference_source`` (``"gvcf"``, ``"bed"`` or None);
        ``n_uncalled`` (present but no genotype call); ``coverage`` (called,
        filled included, / total); ``call_rate`` over the model variants
        present or filled; ``polygenic_scores`` (value and this patient's
        match rate per score, filled variants counted as matched) and
        ``ancestry``.
    """
    frame, coverage = batch_patient_features(
        vcf,
        [sample],
        schema,
        [covariate_values],
        male=[male],
        use_index=use_index,
        callable_regions=[callable_regions],
    )
    return frame, coverage[0]


def batch_patient_features(
    vcf: str | Path,
    samples: Sequence[str],
    schema: Mapping[str, Any],
    covariate_values: Sequence[Mapping[str, Any]],
    *,
    male: Sequence[bool | None] | None = None,
    use_index: bool | None = None,
    callable_regions: Sequence[CallableRegions | None] | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Features of several patients of one VCF from the cohort's schema, in one read.

    :func:`schemas_patient_features` for one schema.

    Parameters
    ----------
    vcf : path
        A validated VCF/BCF holding every name of ``samples``.
    samples : sequence of str
        Sample names, one per patient (a name may repeat, for two sheet rows
        naming one sample).
    schema : Mapping
        The cohort's feature schema.
    covariate_values : sequence of mapping
        Per patient, covariates by phenotype column (see :func:`patient_features`).
    male : sequence of bool or None, optional
        Per patient, the recorded sex (None: unknown); default all unknown.
    use_index : bool, optional
        As for :func:`patient_features`.
    callable_regions : sequence of CallableRegions or None, optional
        Per patient, as for :func:`patient_features`; default None for all.

    Returns
    -------
    features : DataFrame
        One row per entry of ``samples`` (in order, indexed by the sample
        name), columns exactly the schema's names.
    coverage : list of dict
        Per patient, the ``coverage`` of :func:`patient_features`.
    """
    frames, coverages, _ = schemas_patient_features(
        vcf,
        samples,
        [schema],
        covariate_values,
        male=male,
        use_index=use_index,
        callable_regions=callable_regions,
    )
    return frames[0], coverages[0]


def schema_alleles(schema: Mapping[str, Any]) -> list[tuple]:
    """Every allele (chrom, pos, ref, alt) a schema's features read: dosages first, then scores, genes, ancestry."""
    keys = [
        (f["definition"]["chrom"], f["definition"]["pos"], f["definition"]["ref"], f["definition"]["alt"])
        for f in schema["features"]
        if f["kind"] == "dosage"
    ]
    for f in schema["features"]:
        if f["kind"] in ("pgs", "burden", "carrier"):
            keys += [(v["chrom"], v["pos"], v["ref"], v["alt"]) for v in f["definition"]["variants"]]
    if schema.get("ancestry"):
        from genorisk.ancestry import AncestryModel

        av = AncestryModel.from_dict(schema["ancestry"]).variants
        keys += list(zip(av["chrom"], av["pos"].astype(int), av["ref"], av["alt"], strict=False))
    return list(dict.fromkeys(keys))


def schemas_patient_features(
    vcf: str | Path,
    samples: Sequence[str],
    schemas: Sequence[Mapping[str, Any]],
    covariate_values: Sequence[Mapping[str, Any]],
    *,
    male: Sequence[bool | None] | None = None,
    use_index: bool | None = None,
    callable_regions: Sequence[CallableRegions | None] | None = None,
) -> tuple[list[pd.DataFrame], list[list[dict[str, Any]]], list[float]]:
    """Features of several patients of one VCF from several schemas (one per trait), in one read.

    The alleles any schema reads are read for all ``samples`` at once (one
    dosage matrix, :func:`genorisk.genotypes.read_dosages`), and absent ones
    filled in from the callable regions once; each schema's features are
    then computed from that matrix. Dosage, polygenic-score, burden and
    carrier features are computed as matrices, the ancestry projection
    person by person (a matrix product's rounding depends on its shape, and a
    patient's PCs must not depend on who shares the file). Each patient's
    features under each schema are exactly :func:`patient_features` of that
    patient alone under that schema alone.

    Parameters
    ----------
    vcf : path
        A validated VCF/BCF holding every name of ``samples``.
    samples : sequence of str
        Sample names, one per patient (a name may repeat).
    schemas : sequence of Mapping
        Feature schemas (one per trait's bundle; two may define features of
        the same name differently, so each gets its own table).
    covariate_values : sequence of mapping
        Per patient, covariates by phenotype column (see :func:`patient_features`).
    male : sequence of bool or None, optional
        Per patient, the recorded sex (None: unknown); default all unknown.
    use_index : bool, optional
        As for :func:`patient_features`.
    callable_regions : sequence of CallableRegions or None, optional
        Per patient, as for :func:`patient_features`; default None for all.
        The VCF records over the absent sites are read for every sample in
        one query (:func:`genorisk.callable.non_reference_sites_many`).

    Returns
    -------
    features : list of DataFrame
        Per schema, one row per entry of ``samples`` (in order, indexed by
        the sample name), columns exactly that schema's names.
    coverage : list of list of dict
        Per schema, per patient, the ``coverage`` of :func:`patient_features`.
    call_rate : list of float
        Per patient, the call rate over the dosage variants of all schemas
        together that are present in the VCF or filled in (0.0 when none is).
    """
    n = len(samples)
    male_of = list(male) if male is not None else [None] * n
    regions_of = list(callable_regions) if callable_regions is not None else [None] * n
    if not (len(covariate_values) == len(male_of) == len(regions_of) == n):
        raise ValueError("samples, covariate_values, male and callable_regions must have one entry per patient")
    keys = list(dict.fromkeys(k for schema in schemas for k in schema_alleles(schema)))
    row_of = {k: i for i, k in enumerate(keys)}
    key_table = pd.DataFrame(keys, columns=["chrom", "pos", "ref", "alt"])
    # A WGS patient VCF has millions of records and the schemas need a few
    # thousand positions: with an index, read only those (merged into
    # regions); without one, one pass over the file for every feature.
    regions = (
        None
        if use_index is False
        else index_regions(vcf, key_table, max_fraction=None if use_index else INDEX_MAX_FRACTION)
    )
    log.info(
        "patient features: %d schema alleles (%d schema(s)) of %d patient(s), read %s",
        len(keys),
        len(schemas),
        n,
        "by a full pass (no index)" if regions is None else f"through the index ({len(regions)} regions)",
    )
    dos, found = _read_patients(vcf, key_table, samples, male_of, regions)
    filled = np.zeros((len(keys), n), dtype=bool)
    if any(r is not None for r in regions_of):
        filled = _reference_calls(vcf, samples, key_table, found, regions_of)
        dos[filled] = 0.0
    dosage = dos.astype(np.float64)  # (n_keys, n): every use below computes in float64, as a scalar path would
    frames, coverages = [], []
    for schema in schemas:
        frame, coverage = _schema_features(schema, dosage, found, filled, row_of, samples, covariate_values, regions_of)
        frames.append(frame)
        coverages.append(coverage)
    dosage_rows = np.array(sorted({row_of[k] for schema in schemas for k in _dosage_keys(schema)}), dtype=np.int64)
    call_rate = []
    for i in range(n):
        present = found[dosage_rows] | filled[dosage_rows, i]
        called = ~np.isnan(dosage[dosage_rows, i])
        call_rate.append(float(called[present].mean()) if present.any() else 0.0)
    return frames, coverages, call_rate


def _dosage_keys(schema: Mapping[str, Any]) -> list[tuple]:
    """The (chrom, pos, ref, alt) of a schema's dosage features, schema order."""
    wanted = dosage_variants(schema)
    return list(zip(wanted["chrom"], wanted["pos"], wanted["ref"], wanted["alt"], strict=True))


def _schema_features(
    schema: Mapping[str, Any],
    dosage: np.ndarray,
    found: np.ndarray,
    filled_keys: np.ndarray,
    row_of: Mapping[tuple, int],
    samples: Sequence[str],
    covariate_values: Sequence[Mapping[str, Any]],
    regions_of: Sequence[CallableRegions | None],
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """One schema's features and coverage from the patients' dosages (see :func:`schemas_patient_features`)."""
    n = len(samples)
    pgs_entries = [f for f in schema["features"] if f["kind"] == "pgs"]
    gene_entries = [f for f in schema["features"] if f["kind"] in ("burden", "carrier")]
    wanted = dosage_variants(schema)
    at_wanted = np.array([row_of[k] for k in _dosage_keys(schema)], dtype=np.int64)
    values, filled = dosage[at_wanted], filled_keys[at_wanted]
    found_wanted = found[at_wanted]
    called = ~np.isnan(values)
    columns: dict[str, np.ndarray] = dict(zip(wanted["name"], values.astype("float32"), strict=True))
    ancestry_qc: list[dict[str, Any] | None] = [None] * n
    if schema.get("ancestry"):
        from genorisk.ancestry import AncestryModel, ancestry_distance, project

        ancestry = AncestryModel.from_dict(schema["ancestry"])
        av = ancestry.variants
        at = np.array(
            [row_of[k] for k in zip(av["chrom"], av["pos"].astype(int), av["ref"], av["alt"], strict=False)],
            dtype=np.int64,
        )
        pcs = np.empty((n, len(ancestry.pc_names)))
        for i in range(n):  # one person at a time: see schemas_patient_features
            d = dosage[at, i]
            pcs[i] = project(ancestry, d[None, :])[0]
            distance, outlier = ancestry_distance(ancestry, pcs[i][None, :])
            ancestry_qc[i] = {
                "distance": float(distance[0]),
                "outlier": bool(outlier[0]),
                "threshold": float(ancestry.distance_threshold),
                "fraction_missing": float(np.isnan(d).mean()),
                "reference_panel": bool(ancestry.has_reference_panel),
            }
        columns.update(dict(zip(ancestry.pc_names, pcs.T, strict=True)))
    for entry in gene_entries:
        at = np.array([row_of[(v["chrom"], v["pos"], v["ref"], v["alt"])] for v in entry["definition"]["variants"]])
        carried = np.nan_to_num(dosage[at.astype(np.int64)], nan=0.0)  # (n_variants, n)
        if entry["kind"] == "burden":
            # Summed per person along a contiguous row: the same pairwise sum as one person's vector.
            columns[entry["name"]] = np.asarray(np.ascontiguousarray(carried.T).sum(axis=1))
        else:
            columns[entry["name"]] = np.asarray((carried > 0).any(axis=0), dtype=np.float64)
    scores: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for entry in pgs_entries:
        value, n_called = pgs_values(entry["definition"], dosage, row_of)
        columns[entry["name"]] = value
        d = entry["definition"]
        for i in range(n):
            scores[i].append(
                {
                    "id": d["score_id"],
                    "value": float(value[i]),
                    "n_variants": d["n_variants"],
                    "n_matched": int(n_called[i]),
                    "match_rate": int(n_called[i]) / d["n_variants"] if d["n_variants"] else 0.0,
                    "n_matched_cohort": d["n_matched"],
                }
            )
    for entry in schema["features"]:
        if entry["kind"] != "covariate":
            continue
        column = entry["definition"]["column"]
        raw: list[Any] = [c.get(column) for c in covariate_values]  # as the phenotype table gives it
        if column == "sex":
            sex_code = {"male": 1.0, "female": 0.0}
            columns[entry["name"]] = np.array([sex_code.get(r, np.nan) if isinstance(r, str) else np.nan for r in raw])
        else:
            columns[entry["name"]] = np.array([np.nan if r in (None, "") else float(r) for r in raw], dtype=float)
    names = [f["name"] for f in schema["features"]]
    unknown = [name for name in names if name not in columns]
    if unknown:
        raise InputError(None, f"feature schema has features this version cannot compute for a patient: {unknown[:5]}")
    frame = pd.DataFrame(
        {name: columns[name] for name in names}, index=pd.Index(list(samples), name="sample_id"), columns=names
    )
    n_total = len(wanted)
    coverage = []
    for i, patient_regions in enumerate(regions_of):
        present = found_wanted | filled[:, i]
        coverage.append(
            {
                "n_model_variants": n_total,
                "n_missing": int((~present).sum()),
                "n_reference_filled": int(filled[:, i].sum()),
                "reference_source": None if patient_regions is None else patient_regions.source,
                "n_uncalled": int((found_wanted & ~called[:, i]).sum()),
                "coverage": float(called[:, i].sum() / n_total) if n_total else 1.0,
                "call_rate": float(called[present, i].mean()) if present.any() else 0.0,
                "polygenic_scores": scores[i],
                "ancestry": ancestry_qc[i],
            }
        )
    return frame, coverage


def _read_patients(
    vcf: str | Path,
    key_table: pd.DataFrame,
    samples: Sequence[str],
    male: Sequence[bool | None],
    regions: list[str] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Dosages (n_keys, n_patients) float32 and found (n_keys,) of the patients, one read per sex conflict.

    A read holds each sample once; a sample named by two patients with
    different recorded sexes (the male chrX scale differs) goes to a second
    read. Without a recorded male, haploid calls count 0/1, as for a female.
    Without an index route (``regions`` None), the records at the schema's
    positions of a file of several samples or a BCF are first copied out
    (:func:`_copy_schema_records`): the reader then decodes a few thousand
    lines, not every record of a batch file.
    """
    reads: list[dict[str, bool]] = []
    placed: list[tuple[int, int]] = []
    for sample, m in zip(samples, male, strict=True):
        is_male = bool(m)
        r = next((j for j, read in enumerate(reads) if read.get(sample, is_male) == is_male), len(reads))
        if r == len(reads):
            reads.append({})
        reads[r][sample] = is_male
        placed.append((r, list(reads[r]).index(sample)))
    out = np.empty((len(key_table), len(samples)), dtype=np.float32)
    found = np.zeros(len(key_table), dtype=bool)
    with tempfile.TemporaryDirectory(prefix="genorisk-schema-records-") as tmp:
        source = vcf
        # A single-sample text VCF is read in one pass as it is (its records are one sample wide).
        if regions is None and (_is_bcf(vcf) or len(genotypes.source_samples(vcf)) > 1):
            copy = Path(tmp) / "schema_records.vcf"
            if _copy_schema_records(vcf, key_table, copy):
                source = copy
        for r, read in enumerate(reads):
            names = list(read)
            table, dos = genotypes.read_dosages(
                source, key_table, samples=names, male=np.array([read[s] for s in names]), regions=regions
            )
            found = table["found"].to_numpy(bool)
            for i, (rr, column) in enumerate(placed):
                if rr == r:
                    out[:, i] = dos[:, column]
    return out, found


def _copy_schema_records(vcf: str | Path, key_table: pd.DataFrame, out: Path) -> bool:
    """Copy the header and the records whose CHROM:POS the schema reads from a VCF/BCF to ``out`` (plain VCF).

    A text VCF's lines are copied byte for byte (no re-formatting: a DS value
    keeps its digits), so reading ``out`` gives what reading ``vcf`` gives; a
    line that is not a record is copied too, for the reader to report. A BCF
    (a batch file, :func:`genorisk.patient_files.split_by_batch`) is cut by
    ``bcftools view -T`` (GT calls print exactly; a BCF whose header declares
    FORMAT/DS is not copied, as its float dosages could be printed rounded).
    Returns False, writing nothing, when not copied.
    """
    if _is_bcf(vcf):
        return _cut_bcf_schema_records(vcf, key_table, out)
    by_contig: dict[str, list[int]] = {}
    for c, p in zip(key_table["chrom"], key_table["pos"], strict=True):
        by_contig.setdefault(canonical_contig(str(c)), []).append(int(p))
    # b"CHROM\tPOS" of the wanted records, in the file's spelling of each contig (added as met).
    wanted: set[bytes] = set()
    met: set[bytes] = set()
    with open(out, "wb") as dst:
        rest = b""
        for block in _text_blocks(vcf):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()  # an unfinished line waits for the next block
            keep = []
            for line in lines:
                first = line.find(b"\t")
                second = line.find(b"\t", first + 1)
                if line[:1] == b"#" or second < 0:
                    keep.append(line)
                    continue
                chrom = line[:first]
                if chrom not in met:
                    met.add(chrom)
                    positions = by_contig.get(canonical_contig(chrom.decode(errors="replace")), [])
                    wanted.update(chrom + b"\t" + str(p).encode() for p in positions)
                if line[:second] in wanted:
                    keep.append(line)
            dst.write(b"".join(line + b"\n" for line in keep))
        if rest:
            dst.write(rest + b"\n")
    return True


def _is_bcf(path: str | Path) -> bool:
    """Whether ``path`` is a BCF (compressed or not)."""
    return next(_text_blocks(path), b"")[:3] == b"BCF"


def _cut_bcf_schema_records(vcf: str | Path, key_table: pd.DataFrame, out: Path) -> bool:
    """:func:`_copy_schema_records` of a BCF: ``bcftools view -T`` (records whose POS is a schema position)."""
    header = subprocess.run(["bcftools", "view", "-h", str(vcf)], capture_output=True, text=True)
    if header.returncode != 0 or "##FORMAT=<ID=DS," in header.stdout:
        return False
    spelled = {canonical_contig(c): c for c in re.findall(r"^##contig=<ID=([^,>]+)", header.stdout, flags=re.M)}
    targets = out.with_name(out.name + ".targets.tsv")
    lines = {
        f"{spelled[canonical_contig(str(c))]}\t{int(p)}\n"
        for c, p in zip(key_table["chrom"], key_table["pos"], strict=True)
        if canonical_contig(str(c)) in spelled
    }
    targets.write_text("".join(sorted(lines)))
    proc = subprocess.run(
        ["bcftools", "view", "--no-version", "-T", str(targets), "-Ov", "-o", str(out), str(vcf)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise InputError(vcf, f"could not cut the schema's records: {proc.stderr.strip()[-300:]}")
    return True


#: Bytes of compressed or plain VCF read at a time by :func:`_text_blocks`.
_READ_BYTES = 1 << 22


def _text_blocks(path: str | Path) -> Iterator[bytes]:
    """The decompressed bytes of a plain, gzip or BGZF file, block by block.

    zlib member by member (a BGZF file is many gzip members): about 5x
    faster than :mod:`gzip`'s reader on a batch VCF.
    """
    with open(path, "rb") as fh:
        data = fh.read(_READ_BYTES)
        if data[:2] != b"\x1f\x8b":
            while data:
                yield data
                data = fh.read(_READ_BYTES)
            return
        member = zlib.decompressobj(31)
        while data:
            yield member.decompress(data)
            while member.eof and member.unused_data:  # the next gzip member starts here
                data = member.unused_data
                member = zlib.decompressobj(31)
                yield member.decompress(data)
            data = fh.read(_READ_BYTES)
        if not member.eof:
            raise InputError(path, "the compressed file ends in the middle of a block (truncated?)")


def pgs_values(
    definition: Mapping[str, Any], dosage: np.ndarray, row_of: Mapping[tuple, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The patients' scores from a frozen definition: (values, variants called), one per column of ``dosage``.

    A missing dosage counts ``2 * cohort_af``. The terms are added in the
    definition's order (a sequential ``accumulate``, not a pairwise sum), so
    a patient's value is the same float whoever shares the file.
    """
    variants = definition["variants"]
    n = dosage.shape[1]
    if not variants:
        return np.full(n, float(definition["constant"])), np.zeros(n, dtype=np.int64)
    at = np.array([row_of[(v["chrom"], v["pos"], v["ref"], v["alt"])] for v in variants], dtype=np.int64)
    d = dosage[at]
    missing = np.isnan(d)
    mean = np.array([2.0 * v["cohort_af"] for v in variants], dtype=np.float64)
    d = np.where(missing, mean[:, None], d)
    weight = np.array([v["alt_weight"] for v in variants], dtype=np.float64)
    terms = np.vstack([np.full((1, n), definition["constant"], dtype=np.float64), weight[:, None] * d])
    return np.add.accumulate(terms, axis=0)[-1], (~missing).sum(axis=0)


def _reference_calls(
    vcf: str | Path,
    samples: Sequence[str],
    keys: pd.DataFrame,
    found: np.ndarray,
    regions: Sequence[CallableRegions | None],
) -> np.ndarray:
    """Which absent alleles (``~found``) are homozygous reference per patient, (n_keys, n_patients) bool.

    Inside the patient's callable ``regions`` and not covered by a record
    other than a homozygous-reference call of that patient's sample (see
    :func:`patient_features`); the records are read once for all samples.
    """
    chroms = keys["chrom"].astype(str).to_numpy()
    pos = keys["pos"].astype(np.int64).to_numpy()
    fill = np.zeros((len(keys), len(samples)), dtype=bool)
    inside: dict[int, np.ndarray] = {}  # patients sharing one BED share its regions object
    for i, r in enumerate(regions):
        if r is not None:
            if id(r) not in inside:
                inside[id(r)] = ~found & r.contains_sites(chroms, pos)
            fill[:, i] = inside[id(r)]
    at = np.flatnonzero(fill.any(axis=1))
    if len(at):
        names = list(dict.fromkeys(samples))
        covered = non_reference_sites_many(vcf, names, chroms[at], pos[at])
        column = {s: j for j, s in enumerate(names)}
        for i, s in enumerate(samples):
            fill[at, i] &= ~covered[:, column[s]]
    for i, r in enumerate(regions):
        if r is not None:
            log.debug(
                "patient features: %s: %d absent schema alleles called homozygous reference from the %s callable "
                "regions (%d absent outside them)",
                samples[i],
                int(fill[:, i].sum()),
                r.source,
                int((~found & ~fill[:, i]).sum()),
            )
    return fill
