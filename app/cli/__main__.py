"""`python -m app.cli` runs the `termail` command."""

from app.cli import main

raise SystemExit(main())
