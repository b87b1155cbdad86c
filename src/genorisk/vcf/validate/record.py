"""Record checks: the eight fixed columns, order and duplicates of one data line."""

from __future__ import annotations

from collections.abc import Callable

from genorisk.errors import InputError
from genorisk.genome import contig_lengths, primary_chromosome, unconventional_chromosome
from genorisk.vcf.spec import (
    BASES_RE,
    BREAKEND_RE,
    CONTIG_NAME_RE,
    FLOAT_RE,
    INT32_MAX,
    INT32_MIN_VALID,
    INT64_MAX,
    INT_RE,
    LETTERS_RE,
    RESERVED_INFO,
    RESERVED_INFO_DEFS,
    SIMPLE_ALTS_RE,
    SINGLE_BND_RE,
    SYMBOLIC_RE,
)
from genorisk.vcf.validate.state import Definition, ValidationState


class RecordChecks(ValidationState):
    """Checks of one data line's fixed columns, its order and duplicates.

    :meth:`record` hands the sample columns to ``check_samples``
    (:class:`~genorisk.vcf.validate.samples.SampleCellChecks`).
    """

    # Declared, not defined: a definition here would shadow SampleCellChecks' in the Validator's MRO.
    check_samples: Callable[[str, str, int, str, str], None]

    def check_chrom(self, chrom: str, where: str) -> None:
        if not CONTIG_NAME_RE.fullmatch(chrom) and not SYMBOLIC_RE.fullmatch(
            chrom
        ):  # "<ctg1>": VCF 4.1 assembly contig
            raise InputError(
                self.spath,
                f"CHROM {chrom!r} contains characters a contig name may not have (whitespace, comma, quotes, "
                "brackets) or is empty",
                record=where,
            )
        if unconventional_chromosome(chrom):
            raise InputError(
                self.spath,
                f"CHROM {chrom!r} is neither chrN nor N: rename contigs (e.g. bcftools annotate --rename-chrs) "
                f"to the {self.genome_build or 'reference'} naming",
                record=where,
            )
        if self.header.contigs and chrom not in self.header.contigs and not chrom.startswith("<"):
            raise InputError(
                self.spath,
                f"CHROM {chrom!r} is not among the {len(self.header.contigs)} ##contig lines of the header",
                record=where,
            )
        if self.genome_build is not None:
            table = contig_lengths(self.genome_build)
            if chrom in table:
                self.build_lengths[chrom] = table[chrom]
            if chrom not in table and primary_chromosome(chrom) is None:
                self.warn.add(
                    f"notinbuild:{chrom}", f"{where}: contig {chrom!r} is not a {self.genome_build} sequence name"
                )
        self.ok_chroms.add(chrom)

    def record(self, line: str, where_line: str) -> None:
        """Check one data line. ``where_line`` is ``line N`` or ``record N``."""
        spath = self.spath
        h = self.header
        fields = line.split("\t", 9)
        n = len(fields)
        if n < 8:
            hint = " (spaces instead of tabs?)" if " " in line else ""
            raise InputError(spath, f"{n} tab-separated columns, a record needs at least 8{hint}", record=where_line)
        chrom, pos_s, ident, ref, alt, qual, filt, info = fields[:8]
        where = f"{where_line} ({chrom}:{pos_s})"
        if chrom not in self.ok_chroms:
            self.check_chrom(chrom, where)
        if not (pos_s.isdigit() and pos_s.isascii()):
            raise InputError(spath, f"POS {pos_s!r} is not a positive integer", record=where)
        pos = int(pos_s)
        if " " in ident or ident == "":
            raise InputError(spath, f"ID {ident!r} is empty or contains whitespace", record=where)
        # REF
        if not BASES_RE.fullmatch(ref):
            if ref == "*":
                self.warn.add(
                    "refstar", f"{where}: REF is '*', which the specification does not allow (only A, C, G, T, N)"
                )
            else:
                raise InputError(spath, f"REF {ref[:40]!r} is not made of A, C, G, T, N", record=where)
        # ALT
        if alt == ".":
            n_alleles = 1
            has_bnd = False
        elif SIMPLE_ALTS_RE.fullmatch(alt):
            n_alleles = alt.count(",") + 2
            has_bnd = False
        else:
            n_alleles, has_bnd = self.check_alt(alt, ref, where)
        if n_alleles > 2:
            self.counts["multiallelic_records"] += 1
        if pos == 0 and not has_bnd:
            raise InputError(spath, "POS 0 is allowed only for telomeric breakends", record=where)
        build_length = self.build_lengths.get(chrom)
        if build_length is not None and pos > build_length + 1:
            raise InputError(
                spath,
                f"POS {pos} is beyond the end of {chrom} in {self.genome_build} ({build_length} bp): wrong "
                "genome build?",
                record=where,
            )
        length = h.contigs.get(chrom)
        if length is not None and pos > length + 1:
            self.warn.add(f"beyond:{chrom}", f"{where}: POS {pos} is beyond the ##contig length {length} of {chrom}")
        if qual != "." and not FLOAT_RE.fullmatch(qual):
            raise InputError(spath, f"QUAL {qual[:40]!r} is not a number or '.'", record=where)
        if filt not in ("PASS", "."):
            self.check_filter(filt, where)
        if info != ".":
            self.check_info(info, n_alleles, where)
            if alt in ("<NON_REF>", "<*>") and "END=" in info:
                self.check_block_end(info, pos, where)
        # order, duplicates
        self.track_order(chrom, pos, line, where)
        # samples
        ns = len(h.samples)
        if ns == 0:
            if n > 8 and not (n == 9 and not h.has_format_column and fields[8] == ""):
                raise InputError(spath, f"{n} columns but the #CHROM line declares 8 (no samples)", record=where)
            return
        if n == 8:
            self.counts["sites_only_records"] += 1
            self.warn.add(
                "sitesonly",
                f"{where}: record has no FORMAT and sample columns although the file has {ns} samples; read as "
                "missing genotypes",
            )
            return
        if n == 9:
            raise InputError(
                spath, f"FORMAT column without sample columns; the header declares {ns} samples", record=where
            )
        samples = fields[9]
        n_cells = samples.count("\t") + 1
        if n_cells != ns:
            raise InputError(spath, f"{n_cells} sample columns, the header declares {ns}", record=where)
        self.check_samples(fields[8], samples, n_alleles, alt, where)

    def check_alt(self, alt: str, ref: str, where: str) -> tuple[int, bool]:
        has_bnd = False
        alleles = alt.split(",")
        for a in alleles:
            if BASES_RE.fullmatch(a):
                continue
            if a == "*":
                self.counts["star_alleles"] += 1
            elif a.startswith("<"):
                if not SYMBOLIC_RE.fullmatch(a):
                    raise InputError(
                        self.spath, f"ALT allele {a[:60]!r} is not a valid symbolic allele <ID>", record=where
                    )
                self.counts["symbolic_alleles"] += 1
                if a in ("<*>", "<NON_REF>"):
                    self.counts["reference_blocks"] += 1
            elif "[" in a or "]" in a:
                if not BREAKEND_RE.fullmatch(a):
                    raise InputError(self.spath, f"ALT allele {a[:60]!r} is not a valid breakend", record=where)
                self.counts["breakend_alleles"] += 1
                has_bnd = True
            elif SINGLE_BND_RE.fullmatch(a) is not None:  # ".S" / "S." (VCF 4.4 5.4.9)
                self.counts["breakend_alleles"] += 1
                has_bnd = True
            elif a == "" or any(c.isspace() for c in a) or a == ".":
                raise InputError(
                    self.spath, f"ALT {alt[:60]!r} has an empty or whitespace-containing allele", record=where
                )
            elif LETTERS_RE.fullmatch(a):
                self.warn.add("altbase", f"{where}: ALT allele {a[:40]!r} has bases other than A, C, G, T, N")
            else:
                raise InputError(
                    self.spath, f"ALT allele {a[:60]!r} is not bases, '*', <ID> or a breakend", record=where
                )
        return len(alleles) + 1, has_bnd

    def check_block_end(self, info: str, pos: int, where: str) -> None:
        """A gVCF reference block (ALT ``<NON_REF>``/``<*>`` alone) must end at or after its POS.

        Only blocks: other records with END < POS occur in real files (the
        VCF 4.1 SV example) and lose nothing, but a block's span is what makes
        absent sites homozygous reference (:mod:`genorisk.callable`).
        """
        for item in info.split(";"):
            if item.startswith("END="):
                value = item[4:]
                if INT_RE.fullmatch(value) and int(value) < pos:
                    raise InputError(
                        self.spath, f"gVCF reference block END {value} is before its POS {pos}", record=where
                    )
                return

    def check_filter(self, filt: str, where: str) -> None:
        for f in filt.split(";"):
            if not f or " " in f:
                raise InputError(
                    self.spath, f"FILTER {filt!r} has an empty or whitespace-containing value", record=where
                )
            if f not in self.header.filters:
                self.warn.add(f"filter:{f}", f"{where}: FILTER {f!r} is not declared in the header")

    def check_info(self, info: str, n_alleles: int, where: str) -> None:
        if info == "":
            self.warn.add("emptyinfo", f"{where}: INFO column is empty (should be '.')")
            return
        if " " in info:
            raise InputError(self.spath, "INFO contains a space", record=where)
        defs = self.header.info
        for item in info.split(";"):
            if not item:
                continue  # "A=1;" (trailing ';'), written by SnpEff and others; harmless
            key, eq, value = item.partition("=")
            d = defs.get(key)
            reserved = False
            if d is None:
                if key not in RESERVED_INFO:
                    self.warn.add(f"info:{key}", f"{where}: INFO key {key!r} is not declared in the header")
                    continue
                if key not in RESERVED_INFO_DEFS:
                    continue
                d = Definition(*RESERVED_INFO_DEFS[key])
                reserved = True
            if d.type == "Flag":
                if eq:
                    self.warn.add(f"flagvalue:{key}", f"{where}: INFO flag {key} has a value")
                continue
            if not eq:
                self.warn.add(f"novalue:{key}", f"{where}: INFO {key} (Type={d.type}) has no value")
                continue
            if value == "":
                self.warn.add(f"emptyvalue:{key}", f"{where}: INFO {key} has an empty value")
                continue
            parts = value.split(",")
            num = d.number
            if num == "1" and len(parts) > 1:
                # Numbers and the keys the specification defines cannot hold a list;
                # free-text String keys (GATK's AS_RAW_*) pack lists into one value.
                if d.type != "String" or reserved or key in RESERVED_INFO:
                    raise InputError(
                        self.spath, f"INFO {key} is Number=1 but has {len(parts)} comma-separated values", record=where
                    )
                self.warn.add(f"info1:{key}", f"{where}: INFO {key} is declared Number=1 but its value has commas")
            if num in ("A", "R") and n_alleles > 1:
                expected = n_alleles - 1 if num == "A" else n_alleles
                if len(parts) != expected:
                    self.warn.add(
                        f"infocount:{key}",
                        f"{where}: INFO {key} (Number={num}) has {len(parts)} values for {n_alleles - 1} ALT alleles",
                    )
            if d.type == "Integer":
                for p in parts:
                    if p == ".":
                        continue
                    if not INT_RE.fullmatch(p):
                        raise InputError(self.spath, f"INFO {key} value {p[:30]!r} is not an Integer", record=where)
                    v = int(p)
                    if (v > INT32_MAX and not (key == "END" and v <= INT64_MAX)) or v < INT32_MIN_VALID:
                        raise InputError(
                            self.spath,
                            f"INFO {key} value {p} is outside the 32-bit range VCF/BCF allow "
                            f"({INT32_MIN_VALID}..{INT32_MAX})",
                            record=where,
                        )
            elif d.type == "Float":
                for p in parts:
                    if p != "." and not FLOAT_RE.fullmatch(p):
                        raise InputError(self.spath, f"INFO {key} value {p[:30]!r} is not a Float", record=where)

    def track_order(self, chrom: str, pos: int, line: str, where: str) -> None:
        self.n_records += 1
        counts = self.records_per_contig
        if chrom != self.chrom:
            if chrom in counts:
                self.counts["unsorted_records"] += 1
                self.unsorted(f"contig {chrom} appears again after {self.chrom}", where)
            self.chrom = chrom
            self.last_pos = -1
            counts.setdefault(chrom, 0)
        counts[chrom] += 1
        ends = self.contig_ends.get(chrom)
        if ends is None:
            self.contig_ends[chrom] = [pos, pos]
        else:
            ends[1] = pos
        if pos != self.last_pos:
            if pos < self.last_pos:
                self.counts["unsorted_records"] += 1
                self.unsorted(f"POS {pos} after POS {self.last_pos}", where)
            self.last_pos = pos
            self.same_pos_lines = {line: where}
            self.same_pos_keys = None
            return
        self.counts["same_position_records"] += 1
        first = self.same_pos_lines.get(line)
        if first is not None:
            raise InputError(self.spath, f"duplicate record: identical to {first}", record=where)
        if self.same_pos_keys is None:  # built lazily: most positions hold one record
            self.same_pos_keys = {}
            for text, at in self.same_pos_lines.items():
                self.same_pos_keys.setdefault(tuple(text.split("\t", 5)[3:5]), at)
        key = tuple(line.split("\t", 5)[3:5])
        first = self.same_pos_keys.get(key)
        if first is not None:
            self.counts["same_key_duplicates"] += 1
            self.warn.add(
                "samekey",
                f"{where}: same CHROM, POS, REF and ALT as {first} but other INFO or genotypes; normalisation "
                "keeps the first",
            )
        else:
            self.same_pos_keys[key] = where
        self.same_pos_lines[line] = where

    def unsorted(self, what: str, where: str) -> None:
        if self.require_sorted:
            raise InputError(self.spath, f"records are not sorted: {what} (sort with bcftools sort)", record=where)
        self.warn.add(
            "unsorted",
            f"{where}: records are not sorted ({what}); indexing and region queries need bcftools sort, and "
            "duplicates are detected only between neighbours",
        )
