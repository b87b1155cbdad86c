#!/usr/bin/env bash
# Rule cohort_qc_shard: plink2's counts of one store part, read by cohort_qc (genorisk.qc.plink_counts).
#
# Usage: cohort_qc_shard.sh PART_DIR PHENOTYPES OUT_DIR [THREADS [STATUS_COLUMN]]
#
# For each fileset PART_DIR/<name>.pgen (one chromosome each), over the phenotyped samples:
#   <name>.gcount       plink2 --geno-counts  (per variant: diploid genotype counts)
#   <name>.scount       plink2 --sample-counts (per sample: hom/het/ts/tv/haploid/missing)
#   <name>.snps.scount  the same over --snps-only just-acgt, only when the fileset has other variants
#                       (the het rate's denominator)
#   <name>.hardy        plink2 --hardy over the controls (0 in STATUS_COLUMN, default status: the first
#                       trait's column): their genotype counts and exact p
# plus samples.txt (the --keep list), parents.txt and shard.json (format marker, written last).
# One plink2 pass gives all three reports: --hardy counts founders only while --geno-counts and
# --sample-counts count everyone, so parents.txt (--update-parents) makes every control a founder and
# every case a nonfounder (its father: a control, so a sample of the dataset).
# No Python here: a job is one plink2 run per fileset. The phenotype table was checked by store_part
# (genorisk.config.read_phenotypes: tab-separated, sample_id and 0/1 trait columns, unique IDs).
set -euo pipefail
export LC_ALL=C  # byte-wise grep/awk: ~30x faster than in a UTF-8 locale
part=$1 phenotypes=$2 out=$3 threads=${4:-1} status=${5:-status}
tmp="${out}.tmp"
rm -rf "$tmp" "$out"
mkdir -p "$tmp"

tab=$'\t'
n_controls=$(awk -F'\t' -v samples="$tmp/samples.txt" -v parents="$tmp/parents.txt" -v status="$status" '
    NR == 1 {
        for (i = 1; i <= NF; i++) { sub(/^[ \t]+|[ \t\r]+$/, "", $i); col[$i] = i }
        if (!("sample_id" in col) || !(status in col)) { print FILENAME ": no sample_id/" status " column" > "/dev/stderr"; exit 2 }
        print "#IID" > samples; next
    }
    { id[NR] = $col["sample_id"]; control[NR] = $col[status] == "0"; print id[NR] > samples }
    control[NR] && father == "" { father = id[NR] }
    END {
        print "#IID\tPAT\tMAT" > parents
        for (i = 2; i <= NR; i++) { print id[i] "\t" (control[i] ? "0" : father) "\t0" > parents; n += control[i] }
        print n + 0
    }
' "$phenotypes")

# Short variant IDs (chrom and position run together): plink2 always writes an ID column, and the
# gather parses less text (genorisk reads POS).
plink=(plink2 --threads "$threads" --memory 1000 --set-all-var-ids @# --new-id-max-allele-len 1000 missing)
sample_columns=sex,homref,homaltsnp,hetsnp,dipts,diptv,hapref,hapalt,missing
hardy=()
if [ "$n_controls" -gt 0 ]; then
    hardy=(--hardy cols=pos,gcounts,p)
fi
for pgen in "$part"/*.pgen; do
    prefix=${pgen%.pgen}
    name=${prefix##*/}
    "${plink[@]}" --keep "$tmp/samples.txt" --update-parents "$tmp/parents.txt" --pfile "$prefix" --out "$tmp/$name" \
        --geno-counts cols=pos,ref,alt,homref,refalt,altxy --sample-counts cols=$sample_columns "${hardy[@]}" > /dev/null
    # A variant plink2 does not count as an SNV (indel, MNP, non-ACGT base): the het rate needs SNV-only counts.
    if grep -vqE "^#|^[^$tab]*$tab[^$tab]*$tab[^$tab]*$tab[ACGT]$tab[ACGT]($tab|\$)" "$prefix.pvar"; then
        "${plink[@]}" --keep "$tmp/samples.txt" --pfile "$prefix" --out "$tmp/$name.snps" --snps-only just-acgt \
            --sample-counts cols=$sample_columns > /dev/null \
            || echo "$name: no SNV for plink2 (see $name.snps.log)"
    fi
    echo "$name: counted"
done
printf '{"format": "genorisk.qc_plink_shard/2", "controls": %d}\n' "$n_controls" > "$tmp/shard.json"
mv "$tmp" "$out"
