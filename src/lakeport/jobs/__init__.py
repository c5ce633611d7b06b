"""Background jobs on procrastinate: task definitions, the worker, stalled-job recovery."""
