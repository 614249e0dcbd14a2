"""`python -m pymux.echo`: see pymux/echo/__init__.py."""
import sys

from ._cli import main

sys.exit(main())
