"""``python -m genorisk``: the same command as ``genorisk`` (see :mod:`genorisk.cli`)."""

from genorisk.cli import main

raise SystemExit(main())
