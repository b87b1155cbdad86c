"""Normalise a validated VCF/BCF with ``bcftools norm`` (:func:`normalize_vcf`)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from genorisk.errors import InputError
from genorisk.genome import ContigMap, fasta_contigs
from genorisk.io import atomic_output
from genorisk.vcf.files import is_bcf_payload, raw_lines, region_raw_lines, sniff_compression
from genorisk.vcf.prescan import DECLARED_RE, norm_prescan, text_for_norm
from genorisk.vcf.report import ValidationReport

__all__ = ["normalize_vcf"]

_NORM_COUNTS = re.compile(rb"Lines\s+total/split/realigned/skipped:\s+(\d+)/(\d+)/(\d+)/(\d+)")
# What bcftools norm (htslib 1.16) says on stderr when the fast path cannot be
# trusted: keys it adds to its header on the fly (the header of its BCF output
# is already written, so the next reader drops those records), tags of the
# wrong length when splitting, and rows without sample columns.
_RETRY_MESSAGES = (
    b"is not defined in the header",
    b"wrong number of fields",
    b"Broken VCF record",
    b"Couldn't read GT data",
    b"does not match the number of samples",
)


class _BcfRecordCounter:
    """Count records in a BCF byte stream fed in pieces.

    ``bcftools ... -Ou`` writes raw (not BGZF-wrapped) BCF; a stream starting
    with the gzip magic is inflated block by block. Each BCF record starts with
    ``l_shared`` and ``l_indiv`` (uint32), so counting needs no parsing of the
    record itself. This counts what the splitting ``bcftools norm`` emitted,
    independently of the reader downstream, which may drop records it cannot
    decode (htslib only warns).
    """

    def __init__(self) -> None:
        self.records = 0
        self._bgzf: bool | None = None
        self._raw = bytearray()  # BGZF bytes not yet inflated
        self._head = b""  # partial magic+l_text or l_shared+l_indiv
        self._skip = 0  # bytes of the header text or of the current record still to pass over
        self._in_records = False

    def feed(self, chunk: bytes) -> None:
        if self._bgzf is None:
            self._bgzf = chunk[:2] == b"\x1f\x8b"
        if not self._bgzf:
            self._consume(chunk)
            return
        raw = self._raw
        raw += chunk
        start = 0
        while len(raw) - start >= 18:
            size = int.from_bytes(raw[start + 16 : start + 18], "little") + 1
            if len(raw) - start < size:
                break
            self._consume(zlib.decompress(bytes(raw[start + 18 : start + size - 8]), -15))
            start += size
        del raw[:start]

    def _consume(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while pos < n:
            if self._skip:
                take = min(self._skip, n - pos)
                pos += take
                self._skip -= take
                continue
            need = 8 if self._in_records else 9  # "BCF\2\2" + uint32 l_text
            take = min(need - len(self._head), n - pos)
            self._head += data[pos : pos + take]
            pos += take
            if len(self._head) < need:
                return
            if self._in_records:
                self._skip = int.from_bytes(self._head[:4], "little") + int.from_bytes(self._head[4:], "little")
                self.records += 1
            else:
                if self._head[:3] != b"BCF":
                    raise ValueError("not a BCF stream")
                self._skip = int.from_bytes(self._head[5:9], "little")
                self._in_records = True
            self._head = b""

    def complete(self) -> bool:
        """True when the stream ended on a record boundary."""
        return not self._raw and not self._head and not self._skip


def _run_norm_pipeline(
    source: Path | None,
    feed: Iterable[bytes] | None,
    out: Path,
    *,
    fasta,
    rename: dict[str, str],
    force: bool,
    threads: int,
    workdir: Path,
    sort: bool = False,
    region: str | None = None,
) -> dict:
    """Run [rename] | norm -m -any | (count) | norm -d exact | [rename back] > out.

    ``source`` is read by the first stage (only ``region`` of it, through its
    index, when given), or ``feed`` (VCF text chunks) is written to its stdin.
    Returns the stderr of every stage, whether all exited 0, the split and dedup
    counts and the records the split emitted.
    """
    import threading

    def stage(argv, stdin, stdout):
        err = open(workdir / f"stage{len(procs)}.err", "w+b")  # noqa: SIM115 - closed after the pipeline ends
        errs.append(err)
        p = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=err)
        procs.append(p)
        return p

    procs: list[subprocess.Popen] = []
    errs: list = []
    first_input = "-" if source is None else str(source)
    # bcftools reads only the region's records through the index (a feed is already the region's).
    first_region = ["-r", region] if region is not None and source is not None else []
    pre = []
    if rename:
        (workdir / "to_ref.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in rename.items()))
        pre = [
            [
                "bcftools",
                "annotate",
                "--no-version",
                "--rename-chrs",
                str(workdir / "to_ref.tsv"),
                *first_region,
                "-Ou",
                first_input,
            ]
        ]
    split = ["bcftools", "norm", "--no-version", "-m", "-any", "-Ou"]
    if force:
        split.append("--force")
    if fasta:
        split += ["-f", str(fasta), "-c", "e"]
    split += ["-"] if pre else [*first_region, first_input]
    dedup = ["bcftools", "norm", "--no-version", "-d", "exact", "-Ou", "-"]
    post = ["bcftools", "view", "--no-version", "-Oz", "--threads", str(threads), "-o", str(out), "-"]
    if rename:
        (workdir / "from_ref.tsv").write_text("".join(f"{b}\t{a}\n" for a, b in rename.items()))
        post = [
            "bcftools",
            "annotate",
            "--no-version",
            "--rename-chrs",
            str(workdir / "from_ref.tsv"),
            "-Oz",
            "--threads",
            str(threads),
            "-o",
            str(out),
            "-",
        ]

    head_stdin = subprocess.PIPE if source is None else subprocess.DEVNULL
    prev = None
    for argv in pre:
        prev = stage(argv, head_stdin, subprocess.PIPE)
    p_split = stage(split, prev.stdout if prev else head_stdin, subprocess.PIPE)
    if prev:
        prev.stdout.close()
    p_dedup = stage(dedup, subprocess.PIPE, subprocess.PIPE)
    if sort:  # unsorted input: the output must be sorted to be indexed
        post[post.index("-Oz") : post.index("-")] = ["-Ou"]
        p_post = stage(post, p_dedup.stdout, subprocess.PIPE)
        p_dedup.stdout.close()
        p_sort = stage(
            ["bcftools", "sort", "-T", str(workdir / "sort"), "-Oz", "-o", str(out), "-"],
            p_post.stdout,
            subprocess.DEVNULL,
        )
        p_post.stdout.close()
        del p_sort
    else:
        p_post = stage(post, p_dedup.stdout, subprocess.DEVNULL)
        p_dedup.stdout.close()

    counter = _BcfRecordCounter()
    problems: list[str] = []

    def tee() -> None:  # split -> dedup, counting the records the split emitted
        try:
            while chunk := p_split.stdout.read(1 << 20):
                p_dedup.stdin.write(chunk)
                counter.feed(chunk)
        except (BrokenPipeError, ValueError, zlib.error) as err:
            problems.append(f"stream between the two bcftools norm passes broke ({err})")
            p_split.stdout.read()  # let the split pass finish; its exit status and stderr tell the rest
        finally:
            p_split.stdout.close()
            with contextlib.suppress(BrokenPipeError):
                p_dedup.stdin.close()

    def feeder(head_stdin: IO[bytes], chunks: Iterable[bytes]) -> None:
        try:
            for chunk in chunks:
                head_stdin.write(chunk)
        except BrokenPipeError:
            pass  # the stage failed; its stderr says why
        finally:
            with contextlib.suppress(BrokenPipeError):
                head_stdin.close()

    threads_ = [threading.Thread(target=tee, daemon=True)]
    if source is None:
        # Without a source file the head stage reads a pipe, and the caller gives the chunks.
        assert feed is not None and procs[0].stdin is not None
        threads_.append(threading.Thread(target=feeder, args=(procs[0].stdin, feed), daemon=True))
    for t in threads_:
        t.start()
    for t in threads_:
        t.join()
    ok = all(p.wait() == 0 for p in procs) and not problems and counter.complete()
    stderr = []
    for err in errs:
        err.seek(0)
        stderr.append(err.read())
        err.close()
    return {
        "ok": ok,
        "stderr": stderr,
        "split": _NORM_COUNTS.search(stderr[len(pre)]),
        "dedup": _NORM_COUNTS.search(stderr[len(pre) + 1]),
        "emitted": counter.records,
        "problems": problems,
    }


def normalize_vcf(
    vcf: str | os.PathLike,
    out: str | os.PathLike,
    *,
    fasta: str | os.PathLike | None = None,
    threads: int = 1,
    validation: ValidationReport | dict | None = None,
    region: str | None = None,
) -> dict[str, int]:
    """Normalise a validated VCF/BCF with ``bcftools norm``; write bgzipped VCF + ``.csi`` atomically.

    Multiallelic records are split into one record per ALT (``-m -any``;
    a ``1/2`` call becomes ``1/0`` and ``0/1``), indels are left-aligned and
    trimmed when ``fasta`` is given (a REF that disagrees with the FASTA is an
    error: wrong reference or build), and duplicate records (same CHROM, POS,
    REF and ALT after splitting, ``-d exact``) are removed, **the first record
    kept** whatever its INFO or genotypes (a second pass: bcftools 1.16 cannot
    split and deduplicate at once). Symbolic alleles (``<DEL>``) and ``*`` are
    kept; the feature stages leave them out of SNV/indel features.

    gVCF input passes through as well: a variant site ``A G,<NON_REF>``
    (or ``<*>``) becomes the biallelic ``A G`` with its own genotype, plus an
    ``A <NON_REF>`` record holding the rest of the call; reference blocks
    (``<NON_REF>``/``<*>`` alone) are kept unchanged with their ``INFO/END``
    (declared when the input leaves it undeclared), so
    :func:`genorisk.callable.gvcf_reference_blocks` reads the same blocks from
    the normalised file as from the original.

    Contigs are renamed to the FASTA's spelling (``chr1`` <-> ``1``) for
    ``bcftools norm`` and back afterwards: the output keeps the input's names.
    The index is CSI (``.csi``), which also holds positions beyond 2^29 that
    a ``.tbi`` cannot.

    Files that every reader accepts but a plain ``bcftools norm`` pipe mishandles
    go through a careful path (one extra text pass, logged): bzip2 input; INFO,
    FORMAT, FILTER keys or contigs used without a header declaration (declared
    before splitting: without that, htslib drops those records between the two
    passes and exits 0); rows without sample columns in a file with samples
    (given missing genotypes); and multiallelic records whose Number=A/R/G tags
    have the wrong number of values (``--force``: the tag is removed from the
    split records, the rest of the record is kept); FORMAT columns that repeat
    a key (the first kept, as :func:`validate_vcf` reads them; detected only
    from ``validation``: htslib garbles them silently); CHROM ``<ID>`` (VCF 4.1
    assembly references, which htslib cannot name), written ``assembly_ID``.

    ``region`` (``CHROM``, as a cohort file split by chromosome gives it):
    only that region's records are normalised, read through the file's
    index (the output keeps the whole header); ``validation`` is then the
    report of the same region.

    ``validation`` is the :func:`validate_vcf` report of ``vcf`` (or its
    ``to_dict()``); with it the careful path is chosen up front, without it
    only when htslib's warnings or a lost record show the need.

    Unsorted input (``validation["sorted"]`` False, or an index that cannot be
    built) is sorted (``bcftools sort``) so that the output can be indexed.

    Records are conserved or the call fails: every record the splitting pass
    emits is counted on the stream, and it must equal what the deduplicating
    pass read; ``records_out + duplicates_removed == records_after_split``
    always holds on return. With ``validation``, the records bcftools read must
    also equal the validator's ``n_records`` (htslib drops records it cannot
    parse, e.g. VCF 4.4 phasing prefixes, with only a warning).

    Returns
    -------
    dict
        ``records_in`` (records read), ``multiallelic_split`` (records split),
        ``records_after_split``, ``realigned``, ``skipped``, ``records_out``,
        ``duplicates_removed``, ``malformed_tag_records`` (multiallelic records
        whose per-allele tags were dropped when split), ``undeclared_keys``
        (declarations added), ``sites_only_rows`` (rows given missing GT),
        ``repeated_format_keys`` (records whose repeated FORMAT keys were
        dropped), ``assembly_contigs_renamed``.

    Raises
    ------
    InputError
        when bcftools fails (e.g. REF not matching the FASTA, a contig the FASTA
        lacks) or a record would be lost; the message names the file and quotes
        bcftools.
    """
    import logging
    import tempfile

    log = logging.getLogger("genorisk.normalize")
    vcf, out = Path(vcf), Path(out)
    if not vcf.exists():
        raise InputError(vcf, "file does not exist")
    compression = sniff_compression(vcf)
    is_bcf = is_bcf_payload(vcf, compression)
    ref_map = ContigMap(fasta_contigs(fasta)) if fasta else None
    extra = dict.fromkeys(
        [
            "malformed_tag_records",
            "undeclared_keys",
            "sites_only_rows",
            "repeated_format_keys",
            "assembly_contigs_renamed",
            "phasing_prefix_records",
            "empty_sample_records",
        ],
        0,
    )
    if isinstance(validation, ValidationReport):
        validation = validation.to_dict()

    def header_contigs() -> list[str]:
        proc = subprocess.run(["bcftools", "view", "-h", str(vcf)], capture_output=True)
        return [
            m.group(2).decode(errors="surrogateescape")
            for m in map(DECLARED_RE.match, proc.stdout.splitlines())
            if m and m.group(1) == b"contig"
        ]

    def source_lines() -> Iterator[bytes]:
        return raw_lines(vcf, compression) if region is None else region_raw_lines(vcf, compression, region)

    def text_lines() -> Iterator[bytes]:
        if not is_bcf:
            yield from source_lines()
            return
        regions = ["-r", region] if region is not None else []
        with subprocess.Popen(
            ["bcftools", "view", "--no-version", *regions, str(vcf)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        ) as proc:
            assert proc.stdout is not None  # stdout=PIPE
            yield from proc.stdout

    def fail(run: dict, what: str) -> InputError:
        lines = [
            ln
            for err in run["stderr"]
            for ln in err.decode(errors="replace").splitlines()
            if ln.strip() and not ln.startswith(("[W::", "Lines ")) and "printed only once" not in ln
        ]
        detail = "; ".join(
            (
                lines
                or [
                    ln
                    for err in run["stderr"]
                    for ln in err.decode(errors="replace").splitlines()
                    if ln.startswith("[W::")
                ]
            )[-3:]
        )
        return InputError(vcf, f"{what}: {detail}" if detail else what)

    with (
        tempfile.TemporaryDirectory(prefix="genorisk-norm-", dir=out.parent if out.parent.exists() else None) as td,
        atomic_output(out) as tmp,
        atomic_output(out.with_name(out.name + ".csi")) as tmp_csi,
    ):
        workdir = Path(td)
        careful = compression == "bzip2"
        if validation:
            vc = validation.get("counts", {})
            careful = careful or bool(
                vc.get("sites_only_records")
                or vc.get("repeated_format_keys")
                or any(c.startswith("<") for c in validation.get("contigs", []))
                or any("not declared in the header" in w for w in validation.get("warnings", []))
            )
        unsorted = bool(validation and not validation.get("sorted", True))
        run: dict[str, Any] | None = None
        if not careful:
            rename = ref_map.renaming(header_contigs()) if ref_map else {}
            run = _run_norm_pipeline(
                vcf,
                None,
                tmp,
                fasta=fasta,
                rename=rename,
                force=False,
                threads=threads,
                workdir=workdir,
                sort=unsorted,
                region=region,
            )
            lost = run["split"] and run["dedup"] and run["emitted"] != int(run["dedup"].group(1))
            careful = lost or any(msg in err for err in run["stderr"] for msg in _RETRY_MESSAGES)
            if not run["ok"] and not careful:
                raise fail(run, "bcftools norm failed")
            if careful:
                log.info("%s: htslib warned about the input (see below); normalising through the careful path", vcf)
        if careful:
            scan = norm_prescan(text_lines())
            extra = {
                "malformed_tag_records": scan.malformed_split_records,
                "undeclared_keys": sum(map(len, scan.undeclared.values())),
                "sites_only_rows": scan.sites_only_rows,
                "repeated_format_keys": scan.repeated_format_keys,
                "assembly_contigs_renamed": len(scan.assembly_contigs),
                "phasing_prefix_records": scan.phasing_prefix_records,
                "empty_sample_records": scan.empty_sample_records,
            }
            feed = None
            if not is_bcf:
                feed = text_for_norm(source_lines(), scan)
            contigs = list(
                dict.fromkeys(
                    [
                        *(
                            m.group(2).decode(errors="surrogateescape")
                            for m in map(DECLARED_RE.match, scan.header)
                            if m and m.group(1) == b"contig"
                        ),
                        *scan.record_contigs,
                    ]
                )
            )
            rename = ref_map.renaming(contigs) if ref_map else {}
            run = _run_norm_pipeline(
                None if feed is not None else vcf,
                feed,
                tmp,
                fasta=fasta,
                rename=rename,
                force=scan.malformed_split_records > 0,
                threads=threads,
                workdir=workdir,
                sort=unsorted,
                region=region,
            )
            if not run["ok"]:
                raise fail(run, "bcftools norm failed")
        assert run is not None  # the plain or the careful path ran
        if not run["split"] or not run["dedup"]:
            raise fail(run, "bcftools norm did not report its counts")
        dedup_read = int(run["dedup"].group(1))
        if run["emitted"] != dedup_read:
            raise fail(
                run,
                f"bcftools norm lost {run['emitted'] - dedup_read} of {run['emitted']} records "
                "between splitting and deduplication (records htslib could not decode)",
            )
        read = int(run["split"].group(1))
        if validation and read != validation.get("n_records", read):
            raise fail(
                run,
                f"htslib read {read} of the {validation['n_records']} records the validator counted "
                "(records it cannot parse are dropped with a warning)",
            )
        indexed = subprocess.run(["bcftools", "index", "-c", "-f", str(tmp)], capture_output=True)
        if indexed.returncode != 0 and not unsorted:  # unsorted input that no validation report announced
            unsorted = True
            log.info("%s: records are not sorted; sorting the normalised output", vcf)
            sorted_tmp = workdir / "sorted.vcf.gz"
            subprocess.run(
                ["bcftools", "sort", "-T", str(workdir / "sort"), "-Oz", "-o", str(sorted_tmp), str(tmp)],
                capture_output=True,
            )
            if not sorted_tmp.exists():
                raise InputError(vcf, "the normalised output is unsorted and bcftools sort failed")
            sorted_tmp.replace(tmp)
            indexed = subprocess.run(["bcftools", "index", "-c", "-f", str(tmp)], capture_output=True)
        if indexed.returncode != 0:
            raise InputError(
                vcf,
                "the normalised output cannot be indexed: " + indexed.stderr.decode(errors="replace").strip()[-300:],
            )
        n_out = int(
            subprocess.run(
                ["bcftools", "index", "-n", str(tmp)], capture_output=True, text=True, check=True
            ).stdout.strip()
            or 0
        )
        Path(str(tmp) + ".csi").replace(tmp_csi)
    total, n_split, realigned, skipped = (int(x) for x in run["split"].groups())
    counts = {
        "records_in": total,
        "multiallelic_split": n_split,
        "records_after_split": run["emitted"],
        "realigned": realigned,
        "skipped": skipped,
        "records_out": n_out,
        "duplicates_removed": dedup_read - n_out,
        **extra,
    }
    if extra["undeclared_keys"]:
        what = "; ".join(f"{kind} {', '.join(list(keys)[:10])}" for kind, keys in scan.undeclared.items() if keys)
        log.warning(
            "%s: %d keys used without a header declaration were declared before splitting (%s)",
            vcf,
            extra["undeclared_keys"],
            what,
        )
    if extra["malformed_tag_records"]:
        log.warning(
            "%s: %d multiallelic records have Number=A/R/G tags of the wrong length; those tags were "
            "removed from their split records (bcftools norm --force)",
            vcf,
            extra["malformed_tag_records"],
        )
    if extra["sites_only_rows"]:
        log.warning("%s: %d rows without sample columns were given missing genotypes", vcf, extra["sites_only_rows"])
    if extra["repeated_format_keys"]:
        log.warning(
            "%s: %d records repeat a FORMAT key; the first of each was kept", vcf, extra["repeated_format_keys"]
        )
    if extra["assembly_contigs_renamed"]:
        log.warning(
            "%s: %d contigs named <ID> are written assembly_ID (htslib cannot name them)",
            vcf,
            extra["assembly_contigs_renamed"],
        )
    if extra["phasing_prefix_records"]:
        log.warning(
            "%s: %d records have VCF 4.4 leading GT phasing marks (|0/1); they were dropped (0/1) for "
            "htslib 1.16, and no stage uses phase",
            vcf,
            extra["phasing_prefix_records"],
        )
    if extra["empty_sample_records"]:
        log.warning(
            "%s: %d records have empty sample columns; written '.' (missing)", vcf, extra["empty_sample_records"]
        )
    if counts["duplicates_removed"]:
        log.warning(
            "%s: %d duplicate records (same CHROM, POS, REF, ALT after splitting) removed, the first of each kept",
            vcf,
            counts["duplicates_removed"],
        )
    return counts
