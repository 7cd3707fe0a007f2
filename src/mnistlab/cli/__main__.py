"""`python -m mnistlab.cli`: the `mnistlab` command."""
import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
