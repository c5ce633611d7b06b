"""Prefix sources: files that land under a storage prefix, each ingested exactly once."""
