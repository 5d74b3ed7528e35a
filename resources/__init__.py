"""Bundled resources: the application icon and the demo checkpoints (installed as `lossviz_resources`)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEMO = ROOT / "demo"
ICONS = ROOT / "icons"
