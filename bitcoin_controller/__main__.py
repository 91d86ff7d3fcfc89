"""``python -m bitcoin_controller`` runs the controller, like the console script."""

import sys

from .cmd.main import main

sys.exit(main())
