"""Energy and fit estimates from spike counts: profiles (hw_profiles/*.toml), activity counts, energy, cores.

`count_activity(net, spikes)` → `Activity`; `estimate(profile, activity, chips)` → `Energy`;
`fit(net, profile, activity)` → `Fit`; `load_profile(name_or_path)` → `Profile`.
"""

from tmkt_deploy.energy.estimate import Energy, estimate
from tmkt_deploy.energy.fit import Fit, fit
from tmkt_deploy.energy.profiles import Profile, ProfileError, list_profiles, load_profile
from tmkt_deploy.energy.synops import Activity, LayerActivity, count_activity, fanout

__all__ = ["Activity", "Energy", "Fit", "LayerActivity", "Profile", "ProfileError", "count_activity",
           "estimate", "fanout", "fit", "list_profiles", "load_profile"]
