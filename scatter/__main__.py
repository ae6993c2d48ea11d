"""``python -m scatter`` runs the CLI."""

from scatter.cli import main

main()
