import sys

from segexplore.cli import main

sys.exit(main())
