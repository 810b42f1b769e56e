"""``python -m staf`` runs the command line."""

import sys

from staf.cli import main

sys.exit(main())
