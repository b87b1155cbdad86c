"""Write config/README.md from the config schema's descriptions: .venv/bin/python config/make_readme.py"""

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

schema = yaml.safe_load((ROOT / "src/genorisk/schemas/config.schema.yaml").read_text())
L = []


def typ(p):
    if "enum" in p:
        return " \\| ".join("`%s`" % (v if isinstance(v, str) else json.dumps(v)) for v in p["enum"])
    if "const" in p:
        return "`{}`".format(p["const"])
    if "$ref" in p:
        return "[low, high] of {}".format(p.get("items", {}).get("type"))
    t = p.get("type", "")
    return " or ".join(t) if isinstance(t, list) else t


def bounds(p):
    out = []
    for k, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if k in p:
            out.append(f"{sym} {p[k]}")
    it = p.get("items", {})
    for k, sym in (("minimum", ">="), ("maximum", "<=")):
        if k in it:
            out.append(f"each {sym} {it[k]}")
    if p.get("x-increasing") or "$ref" in p:
        out.append("low <= high")
    return ", ".join(out)


def default(p, name, parent):
    if name in parent.get("required", []):
        return "**required**"
    return "`{}`".format(json.dumps(p["default"])) if "default" in p else ""


def desc(p):
    return " ".join(p.get("description", "").split())


L += [
    "# Configuration",
    "",
    "genorisk reads one YAML config. `config/config.yaml` is a template for your own",
    "cohort (used when no `--configfile` is given); `config/demo.yaml` runs the simulated",
    "demo (`make demo`). A `--configfile` is the whole config: it is not merged with",
    "`config/config.yaml`.",
    "",
    "Every key below is checked against `workflow/schemas/config.schema.yaml` (a link to the",
    "package's `genorisk/schemas/config.schema.yaml`) before any job starts: an unknown key,",
    "a wrong type or a value out of bounds stops the run with a message naming the key, e.g.",
    "`config: key model.n_fold: unknown key 'n_fold' (allowed here: ...)`. Keys left out take",
    "the default shown. The sample sheet, the phenotype table and the truth file are",
    "checked at start-up too (files the demo simulation writes: once they exist).",
    "",
    "Threads, memory and run time of each rule are not config keys: they are in the",
    "workflow profile `workflow/profiles/default/config.yaml` (see `docs/cluster.md`).",
    "",
    "Generated from the schema's descriptions (`.venv/bin/python config/make_readme.py`); a test checks",
    "that every key is here.",
    "",
    "## The cohort's genotypes: one example per form",
    "",
    "Give exactly one of `vcf`, `vcfs`, `pfile`, `bfile`, `bgen`. Whatever the form, the",
    "genotypes become one PLINK 2 store per chromosome (`results/store/`), which QC,",
    "features, polygenic scores, burden and ancestry read; VCF inputs are validated and",
    "normalised first, one job per file. Every person of the phenotype table must be",
    "genotyped (the error names who is not); genotyped people without a phenotype are",
    "logged and left out.",
    "",
    "```yaml",
    "# one VCF/BCF (hard calls, or dosages: see cohort.dosage)",
    "cohort: {vcf: data/cohort.vcf.gz, phenotypes: data/phenotypes.tsv}",
    "",
    "# per-chromosome VCFs from an imputation server, DS dosages, R2 >= 0.3",
    'cohort: {vcfs: "imputed/chr{chrom}.dose.vcf.gz", dosage: DS, phenotypes: data/phenotypes.tsv}',
    "features: {min_info: 0.3, info_key: R2}",
    "",
    "# ... or the same as a list of files",
    "cohort: {vcfs: [imputed/chr1.dose.vcf.gz, imputed/chr2.dose.vcf.gz], phenotypes: data/phenotypes.tsv}",
    "",
    "# a PLINK 2 fileset (data/cohort.pgen, .pvar, .psam)",
    "cohort: {pfile: data/cohort, phenotypes: data/phenotypes.tsv}",
    "",
    "# a PLINK 1 fileset (data/cohort.bed, .bim, .fam)",
    "cohort: {bfile: data/cohort, phenotypes: data/phenotypes.tsv}",
    "",
    "# BGEN (v1.2; REF first, as biobanks distribute it) with its .sample file",
    "cohort: {bgen: data/ukb_imp_chr21.bgen, bgen_sample: data/ukb_imp.sample, phenotypes: data/phenotypes.tsv}",
    "```",
    "",
    "PLINK and BGEN inputs name contigs by plink codes; the store spells them `chr21`, `chrX`",
    "for GRCh38 and `21`, `X` for GRCh37. A VCF keeps its own spelling.",
    "",
]


def section(name, p, prefix=""):
    key = prefix + name
    L.extend([f"## `{key}`" if not prefix else f"### `{key}`", "", desc(p)])
    rel = [f"`{a}` <= `{b}`" for a, b in p.get("x-less-or-equal", [])]
    rel += [f"`{a}` < `{b}`" for a, b in p.get("x-less-than", [])]
    if "x-sum-below" in p:
        r = p["x-sum-below"]
        rel.append(" + ".join(f"`{k}`" for k in r["keys"]) + f" < {r['limit']} ({r['why']})")
    if rel:
        L.extend(["", "Relations: " + "; ".join(rel) + "."])
    L.extend(["", "| key | type | bounds | default | meaning |", "|---|---|---|---|---|"])
    nested = []
    for k, sub in p["properties"].items():
        if "properties" in sub:
            nested.append((k, sub))
        L.append(f"| `{key}.{k}` | {typ(sub)} | {bounds(sub)} | {default(sub, k, p)} | {desc(sub)} |")
    L.append("")
    for k, sub in nested:
        section(k, sub, key + ".")


L.extend(["## Top level", "", "| key | type | bounds | default | meaning |", "|---|---|---|---|---|"])
for k, p in schema["properties"].items():
    L.append(
        f"| `{k}` | {'section' if 'properties' in p else typ(p)} | {bounds(p)} | {default(p, k, schema)} | {desc(p)} |"
    )
L.append("")
for k, p in schema["properties"].items():
    if "properties" in p:
        section(k, p)
(ROOT / "config/README.md").write_text("\n".join(L).rstrip() + "\n")
