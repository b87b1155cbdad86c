"""Header checks: meta-information lines, the #CHROM line, samples and the genome build."""

from __future__ import annotations

import re

from genorisk.errors import InputError
from genorisk.genome import KNOWN_BUILDS, detect_genome_build
from genorisk.vcf.report import Warnings
from genorisk.vcf.spec import (
    BAD_SAMPLE_CHARS_RE,
    CONTIG_NAME_RE,
    META_KEY_RE,
    NUMBER_RE,
    SAFE_NAME_RE,
    TAG_NAME_RE,
    TYPES,
)
from genorisk.vcf.validate.state import Definition, Header, ValidationState

_STRUCT_ITEM_RE = re.compile(r'\s*([^=,\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*?)\s*(?:,|$)')


def parse_structured(inner: str) -> dict[str, str] | None:
    """Parse ``ID=x,Number=1,Description="a, b"`` (the part inside ``<...>``)."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(inner):
        m = _STRUCT_ITEM_RE.match(inner, pos)
        if m is None or m.end() == pos:
            return None
        value = m.group(2)
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        out.setdefault(m.group(1), value)
        pos = m.end()
    return out


_SIMPLE_CONTIG_RE = re.compile(
    r"##contig=<ID=([0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*),length=(\d+)>"
)


def parse_meta_line(text: str, where: str, path: str, header: Header, warn: Warnings) -> None:
    if text.startswith("##contig=<ID="):
        m = _SIMPLE_CONTIG_RE.fullmatch(text)
        if m is not None:  # fast path: files with 100,000 contig lines exist
            header.contigs[m.group(1)] = int(m.group(2))
            return
    m = META_KEY_RE.fullmatch(text)
    if m is None:
        raise InputError(path, f"meta-information line is not ##key=value: {text[:80]!r}", record=where)
    key, value = m.group(1), m.group(2)
    if key == "fileformat":
        raise InputError(path, "##fileformat appears twice", record=where)
    if key == "fileEncoding":
        enc = value.strip().lower().replace("_", "-")
        if enc not in ("utf-8", "utf8"):
            try:
                "".encode(enc)
            except LookupError:
                raise InputError(path, f"unknown ##fileEncoding {value!r}", record=where) from None
            header.encoding = enc
            warn.add("encoding", f"{where}: ##fileEncoding={value} (VCF text must be UTF-8); read as {enc}")
        return
    if key not in ("INFO", "FORMAT", "FILTER", "contig", "ALT"):
        return  # other lines (##source, ##reference, ##pedigreeDB=<url>, ...) are free text
    if not (value.startswith("<") and value.endswith(">")):
        raise InputError(path, f"##{key} line must be ##{key}=<ID=...>", record=where)
    attrs = parse_structured(value[1:-1])
    if attrs is None:
        raise InputError(path, f"cannot parse ##{key} attributes: {value[:80]!r}", record=where)
    ident = attrs.get("ID")
    if not ident:
        raise InputError(path, f"##{key} line has no ID", record=where)
    if key == "contig":
        if not CONTIG_NAME_RE.fullmatch(ident):
            raise InputError(path, f"invalid contig name {ident!r} in ##contig", record=where)
        length = attrs.get("length")
        if length is not None and not (length.isdigit() and length.isascii()):
            raise InputError(path, f"##contig {ident} length {length!r} is not a positive integer", record=where)
        header.contigs[ident] = int(length) if length else None
    elif key == "FILTER":
        header.filters.add(ident)
    elif key in ("INFO", "FORMAT"):
        number, typ = attrs.get("Number"), attrs.get("Type")
        if number is None or typ is None:
            raise InputError(path, f"##{key} {ident} lacks Number or Type", record=where)
        if typ not in TYPES or (key == "FORMAT" and typ == "Flag"):
            raise InputError(path, f"##{key} {ident} has invalid Type={typ}", record=where)
        if not NUMBER_RE.fullmatch(number):
            warn.add(
                f"number:{key}:{ident}",
                f"{where}: ##{key} {ident} has invalid Number={number}; its values are not counted",
            )
            number = "."
        if key == "INFO" and number == "G":
            warn.add(
                f"infoG:{ident}",
                f"{where}: ##INFO {ident} has Number=G, which the specification allows only for FORMAT; its "
                "values are not counted",
            )
            number = "."
        if not TAG_NAME_RE.fullmatch(ident):
            warn.add(
                f"tagname:{key}:{ident}",
                f"{where}: ##{key} ID {ident!r} is not a valid key name (letters, digits, _ and . not starting "
                "with a digit)",
            )
        table = header.info if key == "INFO" else header.format
        table[ident] = Definition(number, typ)


_FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]


def parse_chrom_line(text: str, where: str, path: str, header: Header) -> None:
    cols = text.split("\t")
    if cols[:8] != _FIXED_COLUMNS:
        if len(cols) < 8 and " " in text:
            raise InputError(path, "the #CHROM line must be tab-separated (found spaces)", record=where)
        raise InputError(
            path,
            f"the #CHROM line must start with {' '.join(_FIXED_COLUMNS)} separated by tabs; found "
            f"{' | '.join(cols[:8])}",
            record=where,
        )
    if len(cols) == 8:
        return
    if cols[8] != "FORMAT":
        raise InputError(path, f"the 9th column of the #CHROM line must be FORMAT, not {cols[8]!r}", record=where)
    header.has_format_column = True
    samples = cols[9:]
    if not samples:
        raise InputError(path, "the #CHROM line has a FORMAT column but no sample columns", record=where)
    seen: set[str] = set()
    for i, name in enumerate(samples, 1):
        if name == "" or name.strip() == "":
            raise InputError(
                path, f"sample column {i} has an empty name (trailing tab or space in the #CHROM line?)", record=where
            )
        if name in seen:
            raise InputError(path, f"sample name {name!r} appears twice in the #CHROM line", record=where)
        if BAD_SAMPLE_CHARS_RE.search(name):
            raise InputError(path, f"sample name {name!r} contains a control character", record=where)
        seen.add(name)
    header.samples = samples


# ---------------------------------------------------------------------------
# Opening: compression detection and line streams
# ---------------------------------------------------------------------------


class HeaderChecks(ValidationState):
    """Checks that need the whole header: required samples, sample names, the genome build."""

    def finish_header(self, where: str) -> None:
        h = self.header
        self.version_minor = int(h.file_format[-1])
        for name in self.require_samples:
            if name not in h.samples:
                shown = ", ".join(h.samples[:10]) + (" ..." if len(h.samples) > 10 else "")
                raise InputError(
                    self.spath,
                    f"sample {name!r} named in the sample sheet is not in this VCF (samples: {shown or 'none'})",
                    record=where,
                )
        for name in h.samples:
            if not SAFE_NAME_RE.fullmatch(name):
                self.counts["path_unsafe_sample_names"] += 1
        lengths = {k: v for k, v in h.contigs.items() if v is not None}
        build, evidence = detect_genome_build(lengths)
        self.detected_build = build
        if self.genome_build is not None:
            if self.genome_build not in KNOWN_BUILDS:
                raise InputError(
                    None,
                    f"unknown genome build {self.genome_build!r} (known: {', '.join(KNOWN_BUILDS)})",
                    record="genome_build",
                )
            if build is not None and build != self.genome_build:
                raise InputError(
                    self.spath,
                    f"the ##contig lengths are those of {build} ({evidence}), but the pipeline is configured "
                    f"for {self.genome_build}: lift the file over or configure genome_build: {build}",
                    record="header",
                )
            if build is None and not evidence:
                self.warn.add(
                    "buildunchecked",
                    f"the header gives no ##contig lengths of chromosomes 1-22, X, Y: the genome build could not be "
                    f"checked from it; record positions are checked against {self.genome_build} lengths only",
                )
            if build is None and evidence:
                raise InputError(
                    self.spath,
                    f"the ##contig lengths match neither GRCh37 nor GRCh38 ({evidence}); configured build is "
                    f"{self.genome_build}",
                    record="header",
                )
