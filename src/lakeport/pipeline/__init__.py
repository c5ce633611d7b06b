"""The per-file pipeline: combine → infer → convert → register, resumable step by step."""
