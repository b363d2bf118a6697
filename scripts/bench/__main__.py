"""`python -m scripts.bench` (make bench): see scripts/bench/runner.py."""
import sys

from scripts.bench.runner import main

sys.exit(main())
