import sys

from llmobs.simulator.cli import main

sys.exit(main())
