"""What training's energy term and deploy's energy report both need, in one place so they cannot drift:
hardware profiles (`hw_profiles/*.toml`, `load_profile`) and exact structural fan-outs (`fanout`).

Torch-free: training passes its blocks' geometry as a `Connection`, deploy its IR synapses.
"""

from tmkt_common.energy_model.fanout import Connection, fanout, nonzero_fanout
from tmkt_common.energy_model.profiles import (
    BOUNDS,
    KINDS,
    Profile,
    ProfileError,
    Quantity,
    list_profiles,
    load_profile,
    profiles_dir,
)

__all__ = ["BOUNDS", "KINDS", "Connection", "Profile", "ProfileError", "Quantity", "fanout", "list_profiles",
           "load_profile", "nonzero_fanout", "profiles_dir"]
