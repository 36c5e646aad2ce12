"""``python -m hotline`` runs the command line."""

import sys

from hotline.cli import main

sys.exit(main())
