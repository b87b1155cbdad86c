"""Tables of the VCF specification (4.0-4.5) the validator and the normaliser check against."""

from __future__ import annotations

import re

FILEFORMAT_RE = re.compile(r"VCFv4\.[0-5]")
META_KEY_RE = re.compile(r"##([^=\s]+)=(.*)")
# VCF 4.3 section 1.4.2: INFO/FORMAT IDs; "1000G" is the one reserved exception.
TAG_NAME_RE = re.compile(r"(?:[A-Za-z_][0-9A-Za-z_.]*|1000G)")
# VCF 4.3 section 1.4.7: contig names.
CONTIG_NAME_RE = re.compile(r"[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*")
NUMBER_RE = re.compile(r"(?:\d+|[ARG.]|L[ARG]|[PM])")  # L*, P, M: VCF 4.4/4.5
TYPES = {"Integer", "Float", "Flag", "Character", "String"}
BASES_RE = re.compile(r"[ACGTNacgtn]+")
SIMPLE_ALTS_RE = re.compile(r"[ACGTNacgtn]+(?:,[ACGTNacgtn]+)*")
LETTERS_RE = re.compile(r"[A-Za-z]+")
SYMBOLIC_RE = re.compile(r"<[^<>\s,]+>")
BREAKEND_RE = re.compile(r"(?:[A-Za-z]*[\[\]][^\[\]\s]+:\d+[\[\]]|[\[\]][^\[\]\s]+:\d+[\[\]][A-Za-z]*)")
SINGLE_BND_RE = re.compile(r"\.([A-Za-z]+)|([A-Za-z]+)\.")
FLOAT_RE = re.compile(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|[Nn]a[Nn]|[Ii]nf(?:inity)?)")
INT_RE = re.compile(r"[-+]?\d+")
GT_FIRST_RE = re.compile(r"(?:^|\t)([^:\t]*)")
BAD_SAMPLE_CHARS_RE = re.compile(r"[\x00-\x1f\x7f]")
SAFE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

INT32_MIN_VALID = -(2**31) + 8  # -2^31 .. -2^31+7 are reserved by BCF
INT32_MAX = 2**31 - 1

# Keys the specification reserves (VCF 4.4 sections 1.6.1, 1.6.2, 5): a file may
# use them without a header line, so using one undeclared is not worth a warning.
RESERVED_INFO = set(
    [
        "AA",
        "AC",
        "AD",
        "ADF",
        "ADR",
        "AF",
        "AN",
        "BQ",
        "CIGAR",
        "DB",
        "DP",
        "END",
        "H2",
        "H3",
        "MQ",
        "MQ0",
        "NS",
        "SB",
        "SOMATIC",
        "VALIDATED",
        "1000G",
        "IMPRECISE",
        "NOVEL",
        "SVTYPE",
        "SVLEN",
        "CIPOS",
        "CIEND",
        "HOMLEN",
        "HOMSEQ",
        "BKPTID",
        "MEINFO",
        "METRANS",
        "DGVID",
        "DBVARID",
        "DBRIPID",
        "MATEID",
        "PARID",
        "EVENT",
        "EVENTTYPE",
        "CILEN",
        "CN",
        "CICN",
        "CNADJ",
        "CICNADJ",
        "DPADJ",
        "SVCLAIM",
        "RN",
        "RUS",
        "RUL",
        "RUC",
        "RB",
        "CIRB",
        "RUB",
    ]
)
RESERVED_FORMAT = set(
    [
        "AD",
        "ADF",
        "ADR",
        "DP",
        "EC",
        "FT",
        "GL",
        "GP",
        "GQ",
        "GT",
        "HQ",
        "MQ",
        "PL",
        "PP",
        "PQ",
        "PS",
        "PSL",
        "PSO",
        "PSQ",
        "CN",
        "CICN",
        "CNQ",
        "CNL",
        "CNP",
        "NQ",
        "HAP",
        "AHAP",
        "LA",
        "LAA",
        "LAD",
        "LADF",
        "LADR",
        "LEC",
        "LGL",
        "LGP",
        "LPL",
        "LPP",
    ]
)

# Number and Type the specification gives reserved keys; used when a file uses
# one without declaring it (so an undeclared PL is still counted).
RESERVED_INFO_DEFS = {
    "AA": ("1", "String"),
    "AC": ("A", "Integer"),
    "AD": ("R", "Integer"),
    "AF": ("A", "Float"),
    "AN": ("1", "Integer"),
    "DP": ("1", "Integer"),
    "END": ("1", "Integer"),
    "NS": ("1", "Integer"),
    "SVTYPE": ("1", "String"),
    "DB": ("0", "Flag"),
    "H2": ("0", "Flag"),
    "H3": ("0", "Flag"),
    "SOMATIC": ("0", "Flag"),
    "VALIDATED": ("0", "Flag"),
    "1000G": ("0", "Flag"),
    "IMPRECISE": ("0", "Flag"),
}
RESERVED_FORMAT_DEFS = {
    "AD": ("R", "Integer"),
    "DP": ("1", "Integer"),
    "GL": ("G", "Float"),
    "GP": ("G", "Float"),
    "GQ": ("1", "Integer"),
    "PL": ("G", "Integer"),
    "PP": ("G", "Integer"),
    "HQ": ("2", "Integer"),
    "PS": ("1", "Integer"),
}
INT64_MAX = 2**63 - 1  # INFO/END is a position, and positions may exceed 2^31 (htslib longrefs)

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
