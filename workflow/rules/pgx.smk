# Pharmacogenomics (genorisk.pgx): named-allele diplotypes per patient (issue #15).
