"""genorisk: genomic variant risk pipeline.

One module per pipeline stage: ``vcf`` (reading and validation), ``qc``,
``annotate``, ``features``, ``scores`` (polygenic scores), ``model``,
``explain``, ``report`` and ``simulate`` (the demo cohort).
"""

__version__ = "0.1.0"
