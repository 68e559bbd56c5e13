"""``python -m segexplore``: the ``segexplore`` command."""

import sys

from segexplore.cli import main

if __name__ == "__main__":  # importing the module (tests walk every module) runs nothing
    sys.exit(main())
