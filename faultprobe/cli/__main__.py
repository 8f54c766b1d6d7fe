"""`python -m faultprobe.cli`: the same as the `faultprobe` command."""

from faultprobe.cli import main

raise SystemExit(main())
