"""genorisk: genomic variant risk pipeline.

One module per pipeline stage: ``vcf`` (reading and validation), ``qc``,
``annotate``, ``features``, ``scores`` (polygenic scores), ``model``,
``explain``, ``report`` and ``simulate`` (the demo cohort); ``genome`` holds
the contig, build and region vocabulary they share, and ``cli`` the
``genorisk`` command.
"""

#: The package version; pyproject.toml reads it from here (the only place it is written).
__version__ = "0.7.0"
