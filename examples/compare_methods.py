"""TMKT vs dvs-only vs sliding-KT on ndigits with scarce DVS training data: the issue-9 grid, one table.

    python examples/compare_methods.py --out runs/compare                  # the full grid (GPU)
    python examples/compare_methods.py --grid cpu-smoke --out runs/smoke   # a few tiny CPU runs
    python examples/compare_methods.py --only 'vggsnn-*' --out runs/compare  # a slice, e.g. one GPU session
    python examples/compare_methods.py --table-only --out runs/compare     # re-assemble the table

Same options as `tmkt-sweep` (this script is that command); the logic is tmkt_sweep.
"""

import sys

from tmkt_sweep.cli import app

if __name__ == "__main__":
    app(sys.argv[1:], prog_name="compare_methods.py")
