"""`python -m annotator`: same as the `annotator` command."""

from annotator.cli import main

raise SystemExit(main())
