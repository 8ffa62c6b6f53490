"""tmkt_common: what training and deployment both use (atomic writes, device choice, CLI errors, the error
hierarchy, graph names). Torch-free at import and imports no other tmkt package."""
