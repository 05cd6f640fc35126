import sys

from rfzoo.cli import main

sys.exit(main())
