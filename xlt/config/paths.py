"""Where xlt's own Hydra configs live (a leaf: entry points, reports and checks all compose
from it)."""

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"  # the repository's conf/
CONFIG_DIR = str(CONF_DIR)  # the same, as the string Hydra's APIs take
