"""`python -m app.cli`: the `termail` command (what `termail serve` runs for each browser tab)."""

import sys

from app.cli import main
from app.cli.serve import follow_server

follow_server()
sys.exit(main())
