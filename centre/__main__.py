"""``python -m centre``: the ``gridwatch`` command without the console script."""
from centre.cli import main

raise SystemExit(main())
