"""Training harness: run config (TOML), atomic checkpoints, the epoch loop, and DDP plumbing."""
