"""PharmCAT's own named-allele-matcher tests, replayed against genorisk.pgx.

``tests/data/pgx/java/*.java`` are PharmCAT's JUnit tests (MPL-2.0, see
``tests/data/pgx/MANIFEST.tsv``), read here as facts: each
``assertDiplotypePairs(expected, testMatchNamedAlleles(...))`` becomes a case.

* A ``TestVcfBuilder`` case: a VCF is written with every definition position
  homozygous reference except the listed ``(rsID, allele, allele)`` calls,
  ``missing(...)`` positions written as ``./.``, phased when ``.phased()``.
* A test-VCF case (``tests/data/pgx/vcf/...``): the file goes through the
  intake path (validation, normalisation) first, then the calling.

* A method that runs PharmCAT's matcher itself (combination and partial-allele
  calls, DPYD's lowest-function rule, half calls) is a case too
  (:func:`parse_matcher_method`), with ``findCombinations`` as it sets it;
  the DPYD and CYP2B6 test definition files are copies of the shipped
  definitions and are replayed on ours (:data:`TEST_DEFINITION_COPIES`).
* The per-gene test VCFs no Java test here uses (NUDT15, CYP2B6) are cases
  whose expectation is their file name (:func:`file_name_cases`).

Cases outside genorisk's scope (definition files made for PharmCAT's tests and
not shipped, genes outside the 13, assertions on no diplotype) are listed with
their reason in ``tests/data/pgx/peer_cases_excluded.tsv``,
and cases we disagree with on purpose in ``tests/data/pgx/peer_cases_disputed.tsv``;
the test fails when a case is neither run nor listed, or a listed case no
longer exists.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from genorisk.pgx.definitions import definitions_dir, load_definitions
from genorisk.pgx.genotypes import open_indexed_vcf, read_gene_genotypes
from genorisk.pgx.matcher import match_gene

DATA = Path(__file__).parent / "data" / "pgx"
JAVA = DATA / "java"
GENES = {
    "ABCG2", "CYP2B6", "CYP2C19", "CYP2C9", "CYP3A5", "CYP4F2", "DPYD",
    "IFNL3", "NUDT15", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1",
}  # fmt: skip


@dataclass
class PeerCase:
    """One assertion of a PharmCAT test: a VCF (built or a file), the options, the expected diplotypes."""

    case_id: str
    gene: str | None = None
    edits: list[dict] = field(default_factory=list)
    phased: bool = False
    vcf: str | None = None
    top_candidate_only: bool = False
    find_combinations: bool = False
    expected: list[str] = field(default_factory=list)
    expected_haplotype_matches: list[str] | None = None
    unsupported: str | None = None
    note: str | None = None


def _split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments of a Java call's argument text."""
    out, depth, cur, quote = [], 0, "", False
    for ch in text:
        if ch == '"':
            quote = not quote
        if not quote and ch in "([{":
            depth += 1
        elif not quote and ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _call_args(text: str, name: str) -> str | None:
    """The argument text of the first call ``name(...)`` in ``text``."""
    m = re.search(re.escape(name) + r"\s*\(", text)
    if not m:
        return None
    depth, i = 1, m.end()
    while depth:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[m.end() : i - 1]


def _strings(text: str) -> list[str]:
    return re.findall(r'"([^"]*)"', text)


def _expected(text: str, env: dict) -> list[str]:
    text = text.strip()
    if text.startswith('"'):
        return _strings(text)
    if text.startswith("Lists.newArrayList") or text.startswith("new ArrayList"):
        return _strings(text)
    return list(env[text])


def _vcf_spec(text: str, env: dict, gene_file: str | None) -> dict:
    text = text.strip()
    if text in env:
        return env[text]
    if "getPathToResource" in text:
        path = _strings(text)[0]
        return {"vcf": path.split("org/pharmgkb/pharmcat/haplotype/", 1)[-1]}
    if "TestVcfBuilder" in text:
        spec: dict = {"edits": [], "phased": False, "gene": None}
        for m in re.finditer(r"\.(\w+)\(((?:[^()]|\([^()]*\))*)\)", text[text.index("TestVcfBuilder") :]):
            method, args = m.group(1), _split_args(m.group(2))
            if method in ("generate", "saveFile"):
                continue
            if method == "phased":
                spec["phased"] = True
            elif method == "forGene":
                spec["gene"] = _strings(m.group(2))[0]
            elif method == "variation" and len(args) in (4, 5) and args[1].startswith('"'):
                phased = args[2] == "true" if len(args) == 5 else None
                spec["gene"] = _strings(args[0])[0]
                spec["edits"].append(
                    {"rsid": _strings(args[1])[0], "alleles": tuple(_strings(",".join(args[-2:]))), "phased": phased}
                )
            elif method == "variationInPhaseSet" and len(args) == 5:
                spec["gene"] = _strings(args[0])[0]
                spec["edits"].append(
                    {"rsid": _strings(args[1])[0], "alleles": tuple(_strings(",".join(args[3:]))), "phased": True,
                     "ps": int(args[2])}
                )  # fmt: skip
            elif method == "variationAsIs" and len(args) >= 5 and args[1].startswith('"'):
                spec["gene"] = _strings(args[0])[0]
                given = _strings(",".join(args[1:]))
                spec["edits"].append({"rsid": given[0], "gt": given[1], "ref": given[2], "alts": given[3:]})
            elif method == "missing" and all(a.startswith('"') for a in args):
                spec["gene"] = _strings(args[0])[0]
                spec["edits"] += [{"rsid": rs, "alleles": None} for rs in _strings(",".join(args[1:]))]
            elif method == "withDefinition":
                spec["definition"] = args[0]
            else:
                spec["unsupported"] = f"TestVcfBuilder.{method}({m.group(2)}) is not replayed"
        return spec
    return {"unsupported": f"VCF expression not understood: {text[:60]}"}


def _definition(text: str, env: dict, gene_file: str | None) -> str | None:
    text = text.strip()
    if text == "sf_definitionFile":
        return gene_file
    value = env.get(text, text)
    if isinstance(value, str) and "DEFAULT_DEFINITION_DIR" in value:
        return _strings(value)[0].replace("_translation.json", "")
    return None  # a definition file written for PharmCAT's tests


def _options(args: list[str]) -> tuple[bool, bool]:
    """(findCombinations, topCandidateOnly) of a testMatchNamedAlleles call (see its overloads)."""
    flags = [a == "true" for a in args[3:]]
    if len(flags) == 0:
        return False, False
    if len(flags) == 1:
        return False, flags[0]
    if len(flags) == 2:
        return flags[0], flags[1]
    if len(flags) == 3:
        return False, flags[0]
    return flags[0], flags[1]


def parse_java_cases(path: Path) -> list[PeerCase]:
    """Every ``assertDiplotypePairs`` of one PharmCAT test class, as :class:`PeerCase` objects."""
    # Block comments open a line ("*1/*2" inside strings is not one); line comments follow code.
    source = re.sub(r"^\s*/\*.*?\*/", "", path.read_text(), flags=re.S | re.M)
    source = re.sub(r"(^|\s)//[^\n]*", r"\1", source)
    m = re.search(r'DEFAULT_DEFINITION_DIR\.resolve\("(\w+)_translation\.json"\)', source.split("@Test")[0])
    gene_file = m.group(1) if m else None
    cases = []
    for chunk in source.split("@Test")[1:]:
        name = re.search(r"void\s+(\w+)\s*\(", chunk).group(1)
        env: dict = {}
        n = 0
        for stmt in chunk.split(";"):
            stmt = " ".join(stmt.split())
            assign = re.match(r"(?:[\w<>]+\s+)?(\w+)\s*=\s*(.+)$", stmt.split("{", 1)[-1].strip())
            if "assertDiplotypePairs(" in stmt:
                args = _split_args(_call_args(stmt, "assertDiplotypePairs"))
                n += 1
                case = PeerCase(case_id=f"{path.stem}.{name}#{n}")
                case.expected = _expected(args[0], env)
                call = env.get(args[1].strip()) or _split_args(_call_args(args[1], "testMatchNamedAlleles") or "")
                _fill(case, call, env, gene_file)
                cases.append(case)
            elif assign and "testMatchNamedAlleles(" in assign.group(2):
                env[assign.group(1)] = _split_args(_call_args(assign.group(2), "testMatchNamedAlleles"))
            elif assign and ("TestVcfBuilder" in assign.group(2) or "getPathToResource" in assign.group(2)):
                if assign.group(2).strip().startswith("PathUtils") and ".json" in assign.group(2):
                    env[assign.group(1)] = assign.group(2)
                else:
                    env[assign.group(1)] = _vcf_spec(assign.group(2), env, gene_file)
            elif assign and ("newArrayList" in assign.group(2) or "new ArrayList" in assign.group(2)):
                env[assign.group(1)] = _strings(assign.group(2))
            elif assign and "DEFAULT_DEFINITION_DIR" in assign.group(2):
                env[assign.group(1)] = assign.group(2)
        if n == 0:
            cases.append(parse_matcher_method(f"{path.stem}.{name}", chunk))
    return cases


#: PharmCAT test definition files that are copies of its shipped definitions of one gene (same
#: gene, positions, rsIDs and allele names; an older data version): replayed on our bundled file.
TEST_DEFINITION_COPIES = {"NamedAlleleMatcher-dpyd.json": "DPYD", "NamedAlleleMatcher-cyp2b6.json": "CYP2B6"}

#: Why the other PharmCAT test definition files cannot be replayed on the bundled definitions.
TEST_DEFINITIONS_NOT_SHIPPED = {
    "NamedAlleleMatcher-combination.json": (
        "NamedAlleleMatcher-combination.json, a UGT1A1 definition written for the test: its *28 and *80 are separate "
        "alleles, where the shipped UGT1A1 definitions name *80+*28 and *80+*37 as alleles, so the same VCF is "
        "called differently by design"
    ),
    "haplotyper.json": "haplotyper.json, a three-position CYP3A5 definition on made-up positions, written for the test",
    "NamedAlleleMatcher-mismatchedRefAllele.json": (
        "NamedAlleleMatcher-mismatchedRefAllele.json, a definition with wrong REF alleles written for the test "
        "(genorisk's REF-mismatch handling is tested in tests/test_pgx.py)"
    ),
    "NamedAlleleMatcher-cyp2d6.json": "NamedAlleleMatcher-cyp2d6.json: CYP2D6 is outside the 13 genes",
    "NamedAlleleMatcher-ryr1.json": "NamedAlleleMatcher-ryr1.json: RYR1 is outside the 13 genes",
}

#: The sentinel result of a case that asserts only that PharmCAT makes the gene call without failing.
A_GENE_CALL = "<a gene call, without error>"

_STRING_LIST = r"((?:\s*\"[^\"]*\"\s*,?)*)"


def _asserted_diplotypes(text: str) -> list[str] | None:
    """The diplotype names a method without ``assertDiplotypePairs`` asserts (None: it asserts none)."""
    for pattern in (
        r"assertEquals\(\s*List\.of\(" + _STRING_LIST + r"\)\s*,\s*matches\s*\)",
        r"assertThat\(\s*matches\s*,\s*contains\(" + _STRING_LIST + r"\)\s*\)",
    ):
        m = re.search(pattern, text)
        if m:
            return _strings(m.group(1))
    one = re.search(r'assertEquals\(\s*"([^"]+)"\s*,\s*(?:dm|[\w.()]*iterator\(\)\.next\(\))\.getName\(\)\s*\)', text)
    if one and re.search(r"assertEquals\(\s*1\s*,\s*(?:geneCall\.getDiplotypes|pairs|matches)\b", text):
        return [one.group(1)]
    if re.search(r"assertEquals\(\s*0\s*,\s*(?:matches|geneCall\.getDiplotypes\(\))\.size\(\)\s*\)", text):
        return []
    return None


def parse_matcher_method(case_id: str, chunk: str) -> PeerCase:
    """A test method that runs PharmCAT's ``NamedAlleleMatcher`` itself and asserts on its result.

    The VCF (a ``TestVcfBuilder`` chain or a test VCF), the matcher's options
    (``getMatcher(findCombinations, topCandidateOnly, ...)`` or ``new
    NamedAlleleMatcher(env, reader, findCombinations, topCandidateOnly, ...)``)
    and the asserted diplotype names (``assertEquals(List.of(...), matches)``,
    ``contains(...)``, ``dm.getName()`` of a single call, or ``0`` calls);
    for DPYD also the asserted ``getHaplotypeMatches()`` names.
    """
    case = PeerCase(case_id=case_id)
    text = " ".join(re.sub(r"(^|\s)//[^\n]*", r"\1", chunk).split())
    genes = set(_strings(text)) & (GENES | {"CYP2D6", "NAT2", "RYR1", "G6PD"})
    if genes - GENES:
        case.unsupported = f"gene {', '.join(sorted(genes - GENES))} is outside the 13 genes of the bundled definitions"
        return case
    jsons = [j.rsplit("/", 1)[-1] for j in re.findall(r'"([^"]+\.json)"', text) if "getPathToResource" in text]
    jsons = [j for j in jsons if j.startswith(("NamedAlleleMatcher-", "haplotyper"))]
    unshipped = [TEST_DEFINITIONS_NOT_SHIPPED.get(j, j) for j in jsons if j not in TEST_DEFINITION_COPIES]
    if unshipped:
        case.unsupported = "a definition file written for PharmCAT's own tests: " + "; ".join(unshipped)
        return case
    if re.search(r"getMatcher\(\s*null", text):
        case.unsupported = "runs PharmCAT's matcher without exemptions (genorisk always applies them)"
        return case
    options = re.search(r"getMatcher\(\s*(true|false)\s*,\s*(true|false)", text) or re.search(
        r"new NamedAlleleMatcher\([^,]+,[^,]+,\s*(true|false)\s*,\s*(true|false)", text
    )
    expected = _asserted_diplotypes(text)
    if expected is None and re.search(r"assertEquals\(\s*1\s*,\s*result\.getGeneCalls\(\)\.size\(\)\s*\)", text):
        expected = [A_GENE_CALL]  # testDiplotypeMatcher: a sort that once failed in PharmCAT
    if options is None or expected is None:
        case.unsupported = "asserts no diplotype (warnings, internal objects, or that PharmCAT does not fail)"
        return case
    case.find_combinations, case.top_candidate_only = options.group(1) == "true", options.group(2) == "true"
    case.expected = expected
    if "getHaplotypeMatches()" in text:
        m = re.search(r"getHaplotypeMatches\(\).*?contains\(" + _STRING_LIST + r"\)", text)
        case.expected_haplotype_matches = _strings(m.group(1)) if m else None
    builders = re.findall(r"(?:new TestVcfBuilder|\w*[bB]uilder)[^;]*?\.generate\(\)", text)
    vcf = re.search(r'getPathToResource\("([^"]+\.vcf)"\)', text)
    if builders:
        head = re.search(r"TestVcfBuilder \w+ = (new TestVcfBuilder[^;]*?)(?:;|Path)", chunk.replace("\n", " "))
        spec = _vcf_spec((head.group(1) if head else "") + " TestVcfBuilder " + builders[-1], {}, None)
        case.edits, case.phased = spec.get("edits", []), spec.get("phased", False)
        case.gene = spec.get("gene")
        case.unsupported = spec.get("unsupported")
    elif vcf:
        case.vcf = vcf.group(1).split("org/pharmgkb/pharmcat/haplotype/", 1)[-1]
    if jsons:
        case.gene = TEST_DEFINITION_COPIES[jsons[0]]
        case.note = f"PharmCAT's {jsons[0]} replayed on the bundled {case.gene} definitions"
    if case.gene is None and not case.unsupported:
        case.unsupported = "no gene found"
    return case


def _fill(case: PeerCase, call: list[str], env: dict, gene_file: str | None) -> None:
    if not call or len(call) < 3:
        case.unsupported = "the result does not come from testMatchNamedAlleles (PharmCAT's matcher used directly)"
        return
    case.gene = _definition(call[1], env, gene_file)
    case.find_combinations, case.top_candidate_only = _options(call)
    spec = _vcf_spec(call[2], env, gene_file)
    case.vcf = spec.get("vcf")
    case.edits = spec.get("edits", [])
    case.phased = spec.get("phased", False)
    case.unsupported = spec.get("unsupported")
    if case.gene is None:
        case.unsupported = "a definition file written for PharmCAT's own tests (not PharmCAT's shipped definitions)"
    elif case.gene not in GENES:
        case.unsupported = f"gene {case.gene} is outside the 13 genes of the bundled definitions"
    elif any("[" in e or " + " in e for e in case.expected):
        case.unsupported = "expects a PharmCAT combination or partial-allele call ([... + ...])"


def file_name_cases() -> list[PeerCase]:
    """PharmCAT's per-gene test VCFs no Java test here uses (NUDT15, CYP2B6): the file name is the diplotype.

    ``s1s34.vcf`` is ``*1/*34``, ``s2ref.vcf`` ``*1/*2`` (``ref``: the gene's reference allele, ``*1``),
    as ``peer-tests/README.md`` says; run through the intake path.
    """
    used = {m for f in JAVA.glob("*.java") for m in re.findall(r'haplotype/([^"]+\.vcf)"', f.read_text())}
    cases = []
    for vcf in sorted((DATA / "vcf").glob("*/*.vcf")):
        rel = f"{vcf.parent.name}/{vcf.name}"
        if vcf.parent.name not in GENES or rel in used:
            continue
        case = PeerCase(case_id=f"vcf/{rel}", gene=vcf.parent.name, vcf=rel, top_candidate_only=True)
        if re.fullmatch(r"(?:ref|s\d+){2}", vcf.stem):
            names = sorted(("*1" if t == "ref" else f"*{t[1:]}" for t in re.findall(r"ref|s\d+", vcf.stem)),
                           key=lambda n: int(n[1:]))  # fmt: skip
            case.expected = ["/".join(names)]
        else:
            case.unsupported = (
                "a test VCF no Java test here uses and whose file name is not a diplotype (two s<N>/ref tokens); "
                "PharmCAT uses it only to render example reports, with no asserted call: no expectation to check"
            )
        cases.append(case)
    return cases


def all_cases() -> list[PeerCase]:
    java = [c for f in sorted(JAVA.glob("NamedAlleleMatcher*Test.java")) for c in parse_java_cases(f)]
    return java + file_name_cases()


def _listed(name: str) -> dict[str, str]:
    rows = (DATA / name).read_text().splitlines()
    return {r.split("\t")[0]: r.split("\t")[1] for r in rows[1:] if r.strip() and not r.startswith("#")}


# --- building and calling -----------------------------------------------------------------


def build_vcf(case: PeerCase, out: Path) -> Path:
    """A one-sample VCF at every definition position of ``case.gene`` (TestVcfBuilder's recipe)."""
    raw = json.loads((definitions_dir() / f"{case.gene}_translation.json").read_text())
    edits = {e["rsid"]: e for e in case.edits}
    lines = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID={raw['chromosome']},length=248956422>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
    ]
    for v in sorted(raw["variants"], key=lambda v: v["position"]):
        edit = edits.get(v["rsid"], {"alleles": (v["ref"], v["ref"])})
        ref, alts = edit.get("ref", v["ref"]), list(edit.get("alts", v["alts"]))
        alleles = [ref, *alts]
        phased = edit.get("phased")
        sep = "|" if (case.phased if phased is None else phased) else "/"
        if "gt" in edit:  # variationAsIs: the record as written
            gt = edit["gt"]
        elif edit["alleles"] is None:
            gt = "./."
        else:
            vcf_alleles = [v["cpicToVcfAlleleMap"].get(a, a) if a != "." else "." for a in edit["alleles"]]
            gt = sep.join("." if a == "." else str(alleles.index(a)) for a in vcf_alleles)
        fmt, value = ("GT:PS", f"{gt}:{edit['ps']}") if edit.get("ps") else ("GT", gt)
        lines.append(f"{v['chromosome']}\t{v['position']}\t{v['rsid'] or '.'}\t{ref}\t{','.join(alts)}"
                     f"\t.\tPASS\t.\t{fmt}\t{value}")  # fmt: skip
    text = out.with_suffix("")
    text.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(text)], check=True)
    gz = Path(str(text) + ".gz")
    subprocess.run(["tabix", "-f", "-p", "vcf", str(gz)], check=True)
    return gz


def call_case(case: PeerCase, vcf: Path, sample: str) -> list[str]:
    """Our diplotype names for ``case`` on ``vcf`` (absent positions count as missing, as in PharmCAT).

    When the case asserts DPYD's haplotype matches, they follow the diplotypes after ``matches:``.
    """
    definition = load_definitions([case.gene])[case.gene]
    with open_indexed_vcf(vcf, sample) as handle:
        genotypes = read_gene_genotypes(handle, sample, definition.positions)
    match = match_gene(
        definition, genotypes, top_candidate_only=case.top_candidate_only, find_combinations=case.find_combinations
    )
    if case.expected == [A_GENE_CALL]:
        return [A_GENE_CALL] if match.gene == case.gene else []
    names = [d.name for d in match.diplotypes]
    return names + (["matches:", *match.haplotype_matches] if case.expected_haplotype_matches is not None else [])


def expected_names(case: PeerCase) -> list[str]:
    """What :func:`call_case` returns when we agree."""
    extra = case.expected_haplotype_matches
    return case.expected + (["matches:", *extra] if extra is not None else [])


def prepare_through_intake(src: Path, workdir: Path) -> tuple[Path | None, str]:
    """Validate and normalise a peer VCF as a patient VCF is (genorisk.patient_files), and its sample.

    Returns (None, the refusal's problem) when intake refuses the file.
    """
    from genorisk.patient_files import prepare_patient_vcf

    header = [line for line in src.read_text().splitlines() if line.startswith("#CHROM")][0]
    sample = header.split("\t")[9]
    out = workdir / "normalized.vcf.gz"
    status = prepare_patient_vcf(src, out, [{"patient_id": "P", "sample": sample, "sheet_line": 2}], genome_build=None)
    if status["patients"]["P"]["status"] != "accepted":
        return None, status["patients"]["P"]["error"]["problem"]
    return out, sample


def test_every_peer_case_is_run_or_listed():
    cases = all_cases()
    excluded, disputed = _listed("peer_cases_excluded.tsv"), _listed("peer_cases_disputed.tsv")
    ids = {c.case_id for c in cases}
    assert not (set(excluded) | set(disputed)) - ids, "listed cases that no longer exist"
    unlisted = [c.case_id for c in cases if c.unsupported and c.case_id not in excluded]
    assert not unlisted, f"cases out of scope but not listed in peer_cases_excluded.tsv: {unlisted}"
    wrongly = [c.case_id for c in cases if not c.unsupported and c.case_id in excluded]
    assert not wrongly, f"cases listed as excluded that can be replayed: {wrongly}"


def test_pharmcat_cases_agree(tmp_path, capsys):
    cases = [c for c in all_cases() if not c.unsupported]
    disputed = _listed("peer_cases_disputed.tsv")
    agree, misses = 0, []
    for i, case in enumerate(cases):
        work = tmp_path / f"c{i}"
        work.mkdir()
        if case.vcf:
            vcf, sample = prepare_through_intake(DATA / "vcf" / case.vcf, work)
        else:
            vcf, sample = build_vcf(case, work / "case.vcf.gz"), "S1"
        got = call_case(case, vcf, sample) if vcf is not None else [f"refused at intake: {sample}"]
        if got == expected_names(case):
            agree += 1
            assert case.case_id not in disputed, f"{case.case_id} agrees now: remove it from the disputed list"
        elif case.case_id not in disputed:
            misses.append(f"{case.case_id}: expected {expected_names(case)}, got {got}")
    with capsys.disabled():
        print(
            f"\n{agree}/{len(cases)} PharmCAT cases agree ({agree}/{len(cases) - len(disputed)} undisputed; "
            f"{len(disputed)} disputed on purpose, listed; {len(_listed('peer_cases_excluded.tsv'))} out of scope)"
        )
    assert not misses, "\n".join(misses)
    assert agree + len(disputed) == len(cases)


@pytest.mark.parametrize("java", sorted(p.name for p in JAVA.glob("NamedAlleleMatcher*Test.java")))
def test_each_peer_file_yields_cases(java):
    assert parse_java_cases(JAVA / java), f"no assertDiplotypePairs parsed from {java}"


def test_peer_files_match_their_manifest():
    import csv
    import hashlib

    with open(DATA / "MANIFEST.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert {r["path"] for r in rows} == {
        str(p.relative_to(DATA)) for p in DATA.rglob("*") if p.is_file() and p.name != "MANIFEST.tsv"
    }
    for r in rows:
        assert hashlib.sha256((DATA / r["path"]).read_bytes()).hexdigest() == r["sha256"], r["path"]


@pytest.mark.parametrize(("name", "expected"), [("s1s1", "*1/*1"), ("s1s34", "*1/*34")])
def test_disputed_contig_files_agree_once_declared(tmp_path, name, expected):
    """The disputed CYP2B6 files: refused as they are; with their contig declared, called as named."""
    src = DATA / "vcf" / "CYP2B6" / f"{name}.vcf"
    (tmp_path / "as-is").mkdir()
    refused, problem = prepare_through_intake(src, tmp_path / "as-is")
    assert refused is None and "contig" in problem
    fixed = tmp_path / f"{name}.vcf"
    fixed.write_text(src.read_text().replace("##contig=<ID=chr10,", "##contig=<ID=chr19,"))
    vcf, sample = prepare_through_intake(fixed, tmp_path)
    assert vcf is not None, sample
    assert call_case(PeerCase("fixed", gene="CYP2B6", top_candidate_only=True), vcf, sample) == [expected]
