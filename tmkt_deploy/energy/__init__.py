"""Energy and fit estimates from spike counts: activity counts, energy, cores, break-even rates.

Profiles (hw_profiles/*.toml) and fan-outs live in `tmkt_common.energy_model` (training prices its energy
term with the same ones). `count_activity(net, spikes)` → `Activity`; `estimate(profile, activity, chips)` →
`Energy`; `fit(net, profile, activity)` → `Fit`; `break_even(chip, ann, activity)` → `BreakEven`.
"""

from tmkt_common.energy_model import Profile, ProfileError, list_profiles, load_profile
from tmkt_deploy.energy.break_even import BreakEven, break_even
from tmkt_deploy.energy.estimate import DEFAULT_READING, SENSITIVITY, Energy, Reading, estimate
from tmkt_deploy.energy.fit import Fit, fit
from tmkt_deploy.energy.synops import (
    DEFAULT_SCHEDULE,
    SCHEDULES,
    Activity,
    LayerActivity,
    count_activity,
    fanout,
    schedule_steps,
)

__all__ = ["DEFAULT_READING", "DEFAULT_SCHEDULE", "SCHEDULES", "SENSITIVITY", "Activity", "BreakEven",
           "Energy", "Fit", "LayerActivity", "Profile", "ProfileError", "Reading", "break_even",
           "count_activity", "estimate", "fanout", "fit", "list_profiles", "load_profile", "schedule_steps"]
