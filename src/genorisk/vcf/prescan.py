"""The careful normalisation path's text pass: what the input uses without declaring, and the
input rewritten as text htslib 1.16 reads without dropping records (see :func:`.normalize.normalize_vcf`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from genorisk.vcf.spec import RESERVED_FORMAT_DEFS, RESERVED_INFO_DEFS

# FORMAT keys norm must know per allele when a file leaves them undeclared.
NORM_FORMAT_DEFS = {**RESERVED_FORMAT_DEFS, "GT": ("1", "String"), "FT": ("1", "String"), "DS": ("A", "Float")}
# htslib refuses contig names in angle brackets (VCF 4.1 assembly references):
# they are written as assembly_ID in the normalised file.
ASSEMBLY_PREFIX = b"assembly_"
DECLARED_RE = re.compile(rb"##(INFO|FORMAT|FILTER|contig)=<(?:[^>]*?[<,])?\s*ID=([^,>]+)")
_NUMBER_DECL_RE = re.compile(rb"[<,]\s*Number=([^,>]+)")
_PHASING_PREFIX_RE = re.compile(rb"(^|\t)[/|]")


@dataclass
class NormPrescan:
    """What the careful normalisation path learns from one text pass over the input."""

    header: list[bytes]  # meta lines (no line ends), without the #CHROM line
    chrom_line: bytes
    n_samples: int
    undeclared: dict[str, dict[str, None]]  # kind -> keys in first-seen order
    info_without_value: set[str]
    record_contigs: dict[str, None]
    sites_only_rows: int = 0
    repeated_format_keys: int = 0  # records whose FORMAT repeats a key (the first is kept)
    assembly_contigs: dict[bytes, None] = field(default_factory=dict)  # CHROM "<ID>" (VCF 4.1 assembly)
    malformed_split_records: int = 0  # multiallelic records with a Number=A/R/G tag of the wrong length
    phasing_prefix_records: int = 0  # VCF 4.4 GT with a leading phasing mark ("|0/1"), which htslib 1.16 refuses
    empty_sample_records: int = 0  # records with an empty sample column (read as missing; htslib 1.16 miscounts)
    # Undeclared reserved keys whose values are not the spec's numbers: declared as strings.
    non_numeric: set[str] = field(default_factory=set)


def _numbers_ok(value: bytes) -> bool:
    """Comma-separated numbers or ``.``, as htslib parses a numeric field."""
    for item in value.split(b","):
        if item != b".":
            try:
                float(item)
            except ValueError:
                return False
    return True


def _value_count(value: bytes) -> int:
    return 0 if value in (b"", b".") else value.count(b",") + 1


def norm_prescan(lines: Iterable[bytes]) -> NormPrescan:
    """One pass over VCF text lines: undeclared keys, sites-only rows, malformed per-allele tags."""
    header: list[bytes] = []
    declared: dict[bytes, set[bytes]] = {b"INFO": set(), b"FORMAT": set(), b"FILTER": {b"PASS"}, b"contig": set()}
    numbers: dict[tuple[bytes, bytes], bytes] = {}
    chrom_line = b""
    scan = None
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if scan is None:
            if line.startswith(b"#CHROM"):
                chrom_line = line
                scan = NormPrescan(
                    header,
                    chrom_line,
                    max(0, line.count(b"\t") - 8),
                    {"INFO": {}, "FORMAT": {}, "FILTER": {}, "contig": {}},
                    set(),
                    {},
                )
                for kind, defs in ((b"INFO", RESERVED_INFO_DEFS), (b"FORMAT", NORM_FORMAT_DEFS)):
                    for def_key, (def_number, _type) in defs.items():
                        numbers.setdefault((kind, def_key.encode()), def_number.encode())
                per_allele = {k: n for k, n in numbers.items() if n in (b"A", b"R", b"G")}
                continue
            if line.startswith(b"##"):
                header.append(line)
                m = DECLARED_RE.match(line)
                if m:
                    declared[m.group(1)].add(m.group(2).strip())
                    number_match = _NUMBER_DECL_RE.search(line)
                    if number_match:
                        numbers[(m.group(1), m.group(2).strip())] = number_match.group(1).strip()
            continue
        if not line:
            continue
        f = line.split(b"\t", 9)
        chrom = f[0]
        if chrom.startswith(b"<"):
            scan.assembly_contigs.setdefault(chrom, None)
            chrom = ASSEMBLY_PREFIX + chrom[1:-1]
        scan.record_contigs.setdefault(chrom.decode(errors="surrogateescape"), None)
        if chrom not in declared[b"contig"]:
            scan.undeclared["contig"].setdefault(chrom.decode(errors="surrogateescape"), None)
        if f[6] not in (b".", b"PASS"):
            for flt in f[6].split(b";"):
                if flt not in declared[b"FILTER"]:
                    scan.undeclared["FILTER"].setdefault(flt.decode(errors="surrogateescape"), None)
        n_alt = f[4].count(b",") + 1
        malformed = False
        if f[7] != b".":
            for item in f[7].split(b";"):
                key, eq, value = item.partition(b"=")
                if not key:
                    continue
                if key not in declared[b"INFO"]:
                    name = key.decode(errors="surrogateescape")
                    scan.undeclared["INFO"].setdefault(name, None)
                    if not eq:
                        scan.info_without_value.add(name)
                elif n_alt > 1 and not malformed:
                    num = per_allele.get((b"INFO", key))
                    if num is not None and eq:  # a lone "." is one value too: bcftools refuses it
                        k = value.count(b",") + 1
                        malformed = k != {b"A": n_alt, b"R": n_alt + 1}.get(num, k)
        if len(f) == 8:
            if scan.n_samples:
                scan.sites_only_rows += 1
        elif len(f) > 8:
            keys = f[8].split(b":")
            if len(f) == 10 and (
                f[9][:1] == b"\t" or f[9].endswith(b"\t") or b"\t\t" in f[9] or (scan.n_samples and not f[9])
            ):
                scan.empty_sample_records += 1
            if len(f) == 10 and keys[0] == b"GT" and (f[9][:1] in (b"/", b"|") or b"\t/" in f[9] or b"\t|" in f[9]):
                scan.phasing_prefix_records += 1
            if len(set(keys)) != len(keys):
                scan.repeated_format_keys += 1
                keys = list(dict.fromkeys(keys))
            numeric_undeclared = []
            for i, key in enumerate(keys):
                if key not in declared[b"FORMAT"]:
                    name = key.decode(errors="surrogateescape")
                    scan.undeclared["FORMAT"].setdefault(name, None)
                    if NORM_FORMAT_DEFS.get(name, (".", "String"))[1] in ("Integer", "Float"):
                        numeric_undeclared.append((i, name))
            if numeric_undeclared and len(f) == 10:
                for cell in f[9].split(b"\t"):
                    sub = cell.split(b":")
                    for i, name in numeric_undeclared:
                        if i < len(sub) and not _numbers_ok(sub[i]):
                            scan.non_numeric.add(name)
            format_numbers = [(i, per_allele.get((b"FORMAT", k))) for i, k in enumerate(keys)]
            checks = [(i, num) for i, num in format_numbers if num is not None]
            if n_alt > 1 and checks and not malformed and len(f) == 10:
                n_all = n_alt + 1
                for i, num in checks:
                    longest = max(
                        (_value_count(c[i]) for c in (cell.split(b":") for cell in f[9].split(b"\t")) if len(c) > i),
                        default=0,
                    )
                    if longest == 0:
                        continue
                    ok = {b"A": (n_alt,), b"R": (n_all,), b"G": (n_all, n_all * (n_all + 1) // 2)}[num]
                    if longest not in ok:
                        malformed = True
                        break
        scan.malformed_split_records += malformed
    if scan is None:
        raise ValueError("no #CHROM line")
    if scan.sites_only_rows and b"GT" not in declared[b"FORMAT"]:
        scan.undeclared["FORMAT"].setdefault("GT", None)
    return scan


def declaration_lines(scan: NormPrescan) -> list[bytes]:
    """Header lines declaring the keys the input uses without declaring them.

    INFO keys become ``Number=.`` (``Flag`` when never given a value) so that
    splitting leaves them alone: their per-allele meaning is unknown.
    """
    out = []
    for name in scan.undeclared["contig"]:
        out.append(f"##contig=<ID={name}>")
    for name in scan.undeclared["FILTER"]:
        out.append(f'##FILTER=<ID={name},Description="Not declared in the input header (added by genorisk)">')
    for name in scan.undeclared["INFO"]:
        if name in RESERVED_INFO_DEFS:
            kind = "Number={},Type={}".format(*RESERVED_INFO_DEFS[name])
        else:
            kind = "Number=0,Type=Flag" if name in scan.info_without_value else "Number=.,Type=String"
        out.append(f'##INFO=<ID={name},{kind},Description="Not declared in the input header (added by genorisk)">')
    for name in scan.undeclared["FORMAT"]:
        spec = (".", "String") if name in scan.non_numeric else NORM_FORMAT_DEFS.get(name, (".", "String"))
        kind = "Number={},Type={}".format(*spec)
        out.append(f'##FORMAT=<ID={name},{kind},Description="Not declared in the input header (added by genorisk)">')
    return [ln.encode(errors="surrogateescape") for ln in out]


def text_for_norm(lines: Iterable[bytes], scan: NormPrescan) -> Iterator[bytes]:
    """The input as VCF text with the missing declarations added, sites-only rows
    given missing genotypes (``GT`` ``.`` per sample, as :func:`validate_vcf`
    reads them), repeated FORMAT keys dropped after their first occurrence (as
    :func:`validate_vcf` reads them), ``<ID>`` contigs spelled ``assembly_ID``
    empty sample columns written ``.`` (missing, as :func:`validate_vcf` reads
    them) and VCF 4.4 leading phasing marks dropped from GT (``|0/1`` -> ``0/1``:
    htslib 1.16 cannot read them, and no genorisk stage uses phase)."""
    yield b"\n".join([*scan.header, *declaration_lines(scan), scan.chrom_line]) + b"\n"
    pad = b"\tGT" + b"\t." * scan.n_samples
    keep_cache: dict[bytes, list[int] | None] = {}
    in_header = True
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if in_header:
            in_header = not line.startswith(b"#CHROM")
            continue
        if not line:
            continue
        if scan.sites_only_rows and line.count(b"\t") == 7:
            line += pad
        if scan.empty_sample_records:
            f = line.split(b"\t", 9)
            if len(f) == 10:
                cells = f[9].split(b"\t")
                if b"" in cells:
                    line = b"\t".join(f[:9] + [c or b"." for c in cells])
        if scan.phasing_prefix_records:
            f = line.split(b"\t", 9)
            if len(f) == 10 and f[8].startswith(b"GT"):
                line = b"\t".join(f[:9]) + b"\t" + _PHASING_PREFIX_RE.sub(rb"\1", f[9])
        if scan.assembly_contigs and line.startswith(b"<"):
            chrom, rest = line.split(b"\t", 1)
            line = ASSEMBLY_PREFIX + chrom[1:-1] + b"\t" + rest
        if scan.repeated_format_keys:
            f = line.split(b"\t")
            if len(f) > 9:
                if f[8] not in keep_cache:
                    keys = f[8].split(b":")
                    first = {k: i for i, k in reversed(list(enumerate(keys)))}
                    keep_cache[f[8]] = sorted(first.values()) if len(first) != len(keys) else None
                keep = keep_cache[f[8]]
                if keep is not None:
                    f[8] = b":".join(f[8].split(b":")[i] for i in keep)
                    for j in range(9, len(f)):
                        cell = f[j].split(b":")
                        f[j] = b":".join(cell[i] for i in keep if i < len(cell)) or b"."
                    line = b"\t".join(f)
        yield line + b"\n"
