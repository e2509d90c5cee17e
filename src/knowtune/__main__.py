import sys

from knowtune.cli import main

sys.exit(main())
