"""``python -m localcluster.podrunner``: the pod runner process (cluster.py starts it so)."""

import sys

from . import main

sys.exit(main())
