"""The cohort's genotype inputs, as users have them, described and checked before conversion.

Forms (:data:`FORMS`):

* ``vcf``: one VCF/BCF, a list of per-chromosome VCF/BCFs, or a path pattern
  containing ``{chrom}`` (expanded over the files that exist);
* ``pfile``: a PLINK 2 fileset (``.pgen`` + ``.pvar`` + ``.psam``);
* ``bfile``: a PLINK 1 fileset (``.bed`` + ``.bim`` + ``.fam``);
* ``bgen``: BGEN (v1.1/1.2/1.3) with its ``.sample`` file, or with sample IDs
  stored in the file.

:func:`describe_inputs` turns a user's spec into :class:`GenotypeSource` s and
refuses what plink2 and pgenlib would accept silently or report obscurely: a
fileset with a missing part, a ``.bed`` whose size does not fit the ``.fam``
and ``.bim`` line counts (a ``.fam`` a few lines short passes both), a BGEN
without sample IDs, files that disagree on samples or their order, and a
chromosome in two files.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import canonical_contig, expand_chrom_pattern, open_text

#: The input forms :func:`describe_inputs` knows.
FORMS = ("vcf", "pfile", "bfile", "bgen")

_VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")


@dataclass(frozen=True)
class GenotypeSource:
    """One input file or fileset.

    Attributes
    ----------
    form : str
        One of :data:`FORMS`.
    path : pathlib.Path
        The VCF/BCF or BGEN file, or the PLINK fileset prefix.
    samples : tuple of str
        Sample IDs in file order (IID; the VCF sample name).
    fids : tuple of str or None
        Family IDs from a ``.fam``/``.psam``/``.sample`` that has them.
    chroms : tuple of str or None
        Contigs with variants, spelled as the file spells them, in file order;
        None for BGEN (known only after import).
    sample_file : pathlib.Path or None
        The BGEN ``.sample`` file.
    """

    form: str
    path: Path
    samples: tuple[str, ...]
    fids: tuple[str, ...] | None = None
    chroms: tuple[str, ...] | None = None
    sample_file: Path | None = None

    @property
    def label(self) -> str:
        """The file users named, for messages."""
        return str(self.path) if self.form in ("vcf", "bgen") else f"{self.path} (PLINK fileset)"


def describe_inputs(
    genotypes: str | PathLike | Sequence[str | PathLike],
    *,
    form: str | None = None,
    sample_file: str | PathLike | None = None,
) -> list[GenotypeSource]:
    """Describe and check the cohort's genotype input.

    Parameters
    ----------
    genotypes : str, PathLike or sequence of them
        A VCF/BCF; a ``{chrom}`` pattern (``data/chr{chrom}.dose.vcf.gz``); a
        list of VCF/BCFs; a PLINK 2 or PLINK 1 prefix (or its ``.pgen`` /
        ``.bed``); a ``.bgen`` (or a list/pattern of them).
    form : str, optional
        One of :data:`FORMS`; by default taken from the file names.
    sample_file : str or PathLike, optional
        The ``.sample`` file of a BGEN input (default ``<bgen without .bgen>.sample``
        when it exists).

    Returns
    -------
    list of GenotypeSource
        In the order given (a pattern: in chromosome order).

    Raises
    ------
    InputError
        A missing file or fileset part, a ``.bed`` of the wrong size, a BGEN
        without sample IDs, files that disagree on the samples or their
        order, or a chromosome in two files.
    """
    paths = _expand(genotypes)
    sources = [_describe_one(p, form, sample_file) for p in paths]
    check_same_samples(sources)
    check_distinct_chroms(sources)
    return sources


def _expand(genotypes) -> list[Path]:
    items = [genotypes] if isinstance(genotypes, str | PathLike) else list(genotypes)
    if not items:
        raise InputError(None, "no genotype input given")
    out: list[Path] = []
    for item in items:
        text = str(item)
        out += list(expand_chrom_pattern(text).values()) if "{chrom}" in text else [Path(text)]
    return out


def _infer_form(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_VCF_SUFFIXES):
        return "vcf"
    if name.endswith(".bgen"):
        return "bgen"
    if name.endswith(".pgen") or Path(f"{path}.pgen").exists():
        return "pfile"
    if name.endswith(".bed") or Path(f"{path}.bed").exists():
        return "bfile"
    raise InputError(
        path,
        "cannot tell the genotype format from the name (expected .vcf[.gz], .bcf, .bgen, "
        "or a PLINK prefix with .pgen or .bed next to it); set the form explicitly",
    )


def _describe_one(path: Path, form: str | None, sample_file) -> GenotypeSource:
    form = form or _infer_form(path)
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    if form == "vcf":
        return describe_vcf(path)
    if form == "pfile":
        return describe_pfile(_strip(path, ".pgen"))
    if form == "bfile":
        return describe_bfile(_strip(path, ".bed"))
    return describe_bgen(path, sample_file)


def _strip(path: Path, suffix: str) -> Path:
    return path.with_name(path.name[: -len(suffix)]) if path.name.endswith(suffix) else path


def _need(path: Path, what: str, owner: Path | str) -> None:
    if not path.exists():
        raise InputError(path, f"{what} of {owner} not found (a fileset needs all its parts)")


def _run(cmd: list[str], path: Path) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise InputError(path, f"cannot read: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else cmd[0]}")
    return res.stdout


# ---------------------------------------------------------------------------
# Per form
# ---------------------------------------------------------------------------


def describe_vcf(path: str | PathLike) -> GenotypeSource:
    """Samples and contigs of one VCF/BCF (contigs from its index, else one ``bcftools query`` pass)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "genotype file not found")
    samples = _run(["bcftools", "query", "-l", str(path)], path).split()
    if not samples:
        raise InputError(path, "the VCF has no samples (a sites-only VCF holds no genotypes)")
    has_index = any(Path(f"{path}{ext}").exists() for ext in (".csi", ".tbi"))
    if has_index:
        listing = subprocess.run(["bcftools", "index", "-s", str(path)], capture_output=True, text=True)
        has_index = listing.returncode == 0
    if has_index:
        chroms = [line.split("\t")[0] for line in listing.stdout.splitlines() if line]
    else:
        chroms = _unique_in_order(_run(["bcftools", "query", "-f", "%CHROM\n", str(path)], path).splitlines())
    return GenotypeSource("vcf", path, tuple(samples), None, tuple(chroms))


def _unique_in_order(values) -> list[str]:
    return list(dict.fromkeys(values))


def read_psam(path: str | PathLike) -> pd.DataFrame:
    """A ``.psam`` (or ``.fam``) as ``FID`` (None when absent), ``IID`` and ``SEX`` (1 male, 2 female, 0 unknown)."""
    path = Path(path)
    with open(path) as fh:
        first = fh.readline()
    if first.startswith("#FID") or first.startswith("#IID"):
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        table.columns = [c.lstrip("#") for c in table.columns]
    else:  # .fam layout, also legal for a .psam
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, keep_default_na=False)
        if table.shape[1] < 5:
            raise InputError(
                path, f"expected 6 columns (FID IID PAT MAT SEX PHENO), found {table.shape[1]}", record="line 1"
            )
        table = table.iloc[:, :5].set_axis(["FID", "IID", "PAT", "MAT", "SEX"], axis=1)
    if "IID" not in table.columns:
        raise InputError(path, "no IID column in the header")
    sex = table["SEX"] if "SEX" in table.columns else pd.Series(["0"] * len(table))
    sex_code = pd.to_numeric(sex.replace({"NA": "0", "": "0"}), errors="coerce").fillna(0).astype(int)
    return pd.DataFrame(
        {
            "FID": table["FID"] if "FID" in table.columns else None,
            "IID": table["IID"],
            "SEX": sex_code.where(sex_code.isin([1, 2]), 0).to_numpy(),
        }
    )


def _count_lines(path: Path, skip_hash: bool) -> int:
    n = 0
    with open_text(path, "rb") as fh:
        for line in fh:
            if skip_hash and line.startswith(b"#"):
                continue
            if line.strip():
                n += 1
    return n


def _pvar_path(prefix: Path) -> Path:
    for ext in (".pvar", ".pvar.zst", ".bim"):
        if Path(f"{prefix}{ext}").exists():
            return Path(f"{prefix}{ext}")
    return Path(f"{prefix}.pvar")


def describe_pfile(prefix: str | PathLike) -> GenotypeSource:
    """Check a PLINK 2 fileset: all three parts, and their sample and variant counts against the .pgen header."""
    import pgenlib

    prefix = Path(prefix)
    pgen, pvar, psam = Path(f"{prefix}.pgen"), _pvar_path(prefix), Path(f"{prefix}.psam")
    _need(pgen, ".pgen", prefix)
    _need(pvar, ".pvar", pgen)
    _need(psam, ".psam", pgen)
    try:
        reader = pgenlib.PgenReader(str(pgen).encode())
        n_samples, n_variants = reader.get_raw_sample_ct(), reader.get_variant_ct()
        reader.close()
    except RuntimeError as err:
        raise InputError(pgen, f"not a readable .pgen: {decode_pgenlib_error(err)}") from None
    table = read_psam(psam)
    if len(table) != n_samples:
        raise InputError(psam, f"{len(table)} samples, but {pgen.name} holds {n_samples}")
    if pvar.suffix == ".zst":
        chroms = None
    else:
        chrom_col = _pvar_chroms(pvar)
        if len(chrom_col) != n_variants:
            raise InputError(pvar, f"{len(chrom_col)} variants, but {pgen.name} holds {n_variants}")
        chroms = tuple(_unique_in_order(chrom_col))
    fids = tuple(table["FID"]) if table["FID"].notna().all() else None
    return GenotypeSource("pfile", prefix, tuple(table["IID"]), fids, chroms)


def pvar_header_lines(pvar: str | PathLike) -> int:
    """Lines of a ``.pvar`` before its ``#CHROM`` line (or its first variant, in a header-less file)."""
    n = 0
    with open(pvar) as fh:
        for line in fh:
            if not line.startswith("##"):
                return n
            n += 1
    return n


def _pvar_chroms(pvar: Path) -> list[str]:
    skip = pvar_header_lines(pvar)
    header = 0 if pvar.suffix != ".bim" else None
    col = pd.read_csv(
        pvar, sep=r"\s+" if header is None else "\t", skiprows=skip, header=header, usecols=[0], dtype=str
    )
    return col.iloc[:, 0].tolist()


def describe_bfile(prefix: str | PathLike) -> GenotypeSource:
    """Check a PLINK 1 fileset: all three parts, the .bed magic, and its size against the .fam and .bim line counts.

    The size check is ours: a ``.fam`` a few lines short gives the same bytes
    per variant, and neither plink2 nor pgenlib notices.
    """
    prefix = Path(prefix)
    bed, bim, fam = Path(f"{prefix}.bed"), Path(f"{prefix}.bim"), Path(f"{prefix}.fam")
    _need(bed, ".bed", prefix)
    _need(bim, ".bim", bed)
    _need(fam, ".fam", bed)
    with open(bed, "rb") as fh:
        magic = fh.read(3)
    if magic != b"\x6c\x1b\x01":
        raise InputError(bed, "not a variant-major PLINK 1 .bed (bad magic bytes)")
    table = read_psam(fam)
    chrom_col = _pvar_chroms(bim)
    n, m = len(table), len(chrom_col)
    expected = 3 + m * ((n + 3) // 4)
    size = bed.stat().st_size
    if size != expected:
        raise InputError(
            bed,
            f"{size} bytes, but {fam.name} ({n} samples) and {bim.name} ({m} variants) need "
            f"3 + {m} x ceil({n}/4) = {expected} bytes: the .fam or .bim does not belong to this .bed",
        )
    _check_bed_padding(bed, n, m, fam)
    return GenotypeSource("bfile", prefix, tuple(table["IID"]), tuple(table["FID"]), tuple(_unique_in_order(chrom_col)))


def _check_bed_padding(bed: Path, n: int, m: int, fam: Path) -> None:
    """Refuse a .bed holding more samples than the .fam lists, within the last byte of each variant.

    PLINK writes zero bits after the last sample; a .fam 1-3 lines short
    leaves real genotypes there. (A .fam 1-3 lines too long cannot be seen.)
    """
    width = (n + 3) // 4
    if n % 4 == 0 or m == 0:
        return
    pad_mask = np.uint8((0xFF << (2 * (n % 4))) & 0xFF)
    data = np.memmap(bed, dtype=np.uint8, mode="r", offset=3, shape=(m, width))
    for v0 in range(0, m, 1 << 16):
        bad = np.flatnonzero(data[v0 : v0 + (1 << 16), width - 1] & pad_mask)
        if len(bad):
            raise InputError(
                bed,
                f"holds genotypes beyond the {n} samples of {fam.name}: the .fam is short "
                "(the .bed has more samples than it lists)",
                record=f"variant {v0 + bad[0] + 1}",
            )


# ---------------------------------------------------------------------------
# BGEN
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BgenHeader:
    """What a BGEN header says: counts, layout, compression, and the sample IDs when stored."""

    n_variants: int
    n_samples: int
    layout: int
    compression: int
    samples: tuple[str, ...] | None
    first_chrom: str | None


def read_bgen_header(path: str | PathLike) -> BgenHeader:
    """Parse a BGEN header, its sample identifier block and the first variant's chromosome.

    Raises
    ------
    InputError
        Not a BGEN file, or a truncated header.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(24)
        if len(head) < 24:
            raise InputError(path, "too short for a BGEN header")
        offset, lh, m, n, magic = struct.unpack("<IIII4s", head[:20])
        if magic not in (b"bgen", b"\0\0\0\0") or lh < 20:
            raise InputError(path, "not a BGEN file (bad magic number)")
        fh.seek(4 + lh - 4)
        (flags,) = struct.unpack("<I", fh.read(4))
        compression, layout, has_ids = flags & 3, (flags >> 2) & 15, bool(flags >> 31)
        samples = None
        if has_ids:
            fh.seek(4 + lh)
            _, k = struct.unpack("<II", fh.read(8))
            ids = []
            for _ in range(k):
                (ln,) = struct.unpack("<H", fh.read(2))
                ids.append(fh.read(ln).decode())
            samples = tuple(ids)
        fh.seek(offset + 4)
        first_chrom = None
        if m:
            if layout == 1:
                fh.read(4)
            fields = []
            for _ in range(3):  # variant id, rsid, chromosome
                raw = fh.read(2)
                if len(raw) < 2:
                    break
                (ln,) = struct.unpack("<H", raw)
                fields.append(fh.read(ln).decode(errors="replace"))
            first_chrom = fields[2] if len(fields) == 3 else None
    return BgenHeader(m, n, layout, compression, samples, first_chrom)


def read_sample_file(path: str | PathLike) -> pd.DataFrame:
    """An Oxford ``.sample`` file as ``FID`` (ID_1), ``IID`` (ID_2) and ``SEX`` (0 where absent)."""
    path = Path(path)
    lines = [ln.split() for ln in Path(path).read_text().splitlines() if ln.strip()]
    if len(lines) < 2 or len(lines[0]) < 2 or lines[0][0] != "ID_1" or lines[0][1] != "ID_2":
        raise InputError(path, "not an Oxford .sample file (the first line must start with ID_1 ID_2)", record="line 1")
    names, rows = lines[0], lines[2:]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(names)), None)
    if bad is not None:
        raise InputError(path, f"{len(rows[bad])} columns, the header has {len(names)}", record=f"line {bad + 3}")
    sex = np.zeros(len(rows), dtype=int)
    if "sex" in names:
        col = names.index("sex")
        sex = np.array([int(r[col]) if r[col] in ("1", "2") else 0 for r in rows], dtype=int)
    return pd.DataFrame({"FID": [r[0] for r in rows], "IID": [r[1] for r in rows], "SEX": sex})


def describe_bgen(path: str | PathLike, sample_file: str | PathLike | None = None) -> GenotypeSource:
    """Check a BGEN and its sample IDs: from ``sample_file`` (or ``<name>.sample``), else the ones the file stores."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "genotype file not found")
    header = read_bgen_header(path)
    sample_path = Path(sample_file) if sample_file is not None else path.with_suffix(".sample")
    if sample_file is not None and not sample_path.exists():
        raise InputError(sample_path, f".sample file of {path.name} not found")
    if sample_path.exists():
        table = read_sample_file(sample_path)
        if len(table) != header.n_samples:
            raise InputError(sample_path, f"{len(table)} samples, but {path.name} holds {header.n_samples}")
        if header.samples is not None and tuple(table["IID"]) != header.samples:
            i = next(i for i, (a, b) in enumerate(zip(table["IID"], header.samples, strict=True)) if a != b)
            raise InputError(
                sample_path,
                f"sample {i + 1} is {table['IID'][i]!r}, but {path.name} stores {header.samples[i]!r} there",
                record=f"line {i + 3}",
            )
        return GenotypeSource("bgen", path, tuple(table["IID"]), tuple(table["FID"]), None, sample_path)
    if header.samples is None:
        raise InputError(
            path,
            f"the BGEN stores no sample IDs (BGEN v1.1 never does) and no .sample file was given "
            f"(looked for {sample_path.name})",
        )
    return GenotypeSource("bgen", path, header.samples, None, None, None)


# ---------------------------------------------------------------------------
# Across files
# ---------------------------------------------------------------------------


def check_same_samples(sources: Sequence[GenotypeSource]) -> None:
    """Refuse files that disagree on the samples or their order, naming the first differing position and IDs."""
    if not sources:
        return
    first = sources[0]
    for other in sources[1:]:
        if other.samples == first.samples:
            continue
        a, b = first.samples, other.samples
        i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        where = (
            f"sample {i + 1}: {a[i] if i < len(a) else '(none)'!r} in {first.path.name}, "
            f"{b[i] if i < len(b) else '(none)'!r} here"
        )
        same_set = set(a) == set(b)
        problem = "same samples in another order" if same_set else f"different samples ({len(b)} here, {len(a)} there)"
        raise InputError(other.path, f"{problem} than {first.path}; first difference at {where}")


def check_distinct_chroms(sources: Sequence[GenotypeSource]) -> None:
    """Refuse a chromosome (by :func:`~genorisk.genome.canonical_contig`) present in two files."""
    seen: dict[str, Path] = {}
    for src in sources:
        for chrom in src.chroms or ():
            key = canonical_contig(chrom)
            if key in seen and seen[key] != src.path:
                raise InputError(
                    src.path,
                    f"chromosome {chrom} is also in {seen[key]}; each chromosome must come from one file",
                    record=chrom,
                )
            seen[key] = src.path


def decode_pgenlib_error(err: BaseException) -> str:
    """pgenlib's RuntimeError carries bytes; give its text."""
    arg = err.args[0] if err.args else err
    return arg.decode(errors="replace").strip() if isinstance(arg, bytes) else str(arg).strip()
