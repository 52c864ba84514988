"""``python -m patrol``: see patrol.cli."""
import sys

from patrol.cli import main

sys.exit(main())
