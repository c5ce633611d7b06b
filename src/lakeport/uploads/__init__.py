"""Upload sessions: receiving bytes into the landing zone and handing them to the pipeline."""
