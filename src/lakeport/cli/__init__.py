"""The ``lakeport`` command line (Typer)."""
