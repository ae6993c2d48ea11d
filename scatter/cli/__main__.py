"""``python -m scatter.cli`` runs the CLI (as ``python -m scatter`` does)."""

from scatter.cli import main

main()
