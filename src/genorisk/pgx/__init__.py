"""Pharmacogenomics (issue #15): PharmCAT-style named-allele diplotypes, phenotypes and CPIC guidance.

One module per job:

* :mod:`~genorisk.pgx.definitions` - the bundled PharmCAT definitions (GRCh38) and exemptions;
* :mod:`~genorisk.pgx.genotypes` - a sample's genotypes at the definition positions, through the index;
* :mod:`~genorisk.pgx.matcher` - named-allele matching (diplotypes, scores, ties, partial calls);
* :mod:`~genorisk.pgx.combinations` - strand-by-strand calls: combinations, partial alleles, DPYD's
  lowest-function rule;
* :mod:`~genorisk.pgx.phenotype` - diplotype -> function, activity score and phenotype;
* :mod:`~genorisk.pgx.guidance` - the CPIC gene-drug table with its citations;
* :mod:`~genorisk.pgx.call` - per patient and per batch: the ``pgx`` object the reports read.

Research use only: a clinician or pharmacist confirms any result before it guides prescribing.
"""
