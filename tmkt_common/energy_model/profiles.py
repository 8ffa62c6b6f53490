"""Hardware profiles: load a target's TOML file; check that every number has a unit, a kind and a source.

A profile is only as honest as its provenance, so the schema insists on it: each quantity is a TOML table
`[field] value, unit, kind, bound, source, note?`, with `kind` one of `spec` (a published architecture fact),
`measured`, `simulated` or `estimated` (ours, basis in `source`/`note`), and `bound` how the figure reads as
an estimate of the true cost on that target: `lower` (the true cost is at least this), `upper` (at most) or
`point` (a best guess whose error may go either way). Values are converted to SI (J, bit, count) once here,
so the estimators never see a unit. The files live in this package's `hw_profiles` folder (repository
`hw_profiles/` links to it); `load_profile` also takes a path to a user's own TOML file.

The chip-capacity fields (`FIT_FIELDS`) are all present or all absent: a profile that only prices events
(the SNN papers' 45 nm convention) has no cores to fit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from tmkt_common.documents import read_table
from tmkt_common.errors import ProfileError

KINDS = ("spec", "measured", "simulated", "estimated")
BOUNDS = ("lower", "upper", "point")
ProfileModel = Literal["neuromorphic", "ann"]

UNITS: dict[str, dict[str, float]] = {
    "energy": {"pJ": 1e-12, "nJ": 1e-9, "uJ": 1e-6, "mJ": 1e-3, "J": 1.0},
    "memory": {"bit": 1.0, "byte": 8.0, "KiB": 8.0 * 2**10, "MiB": 8.0 * 2**20},
    "count": {"count": 1.0},
}

# Chip capacity of a neuromorphic target (what `fit` needs): all or none.
FIT_FIELDS: dict[str, str] = {
    "cores_per_chip": "count",
    "neurons_per_core": "count",
    "synapse_memory_per_core": "memory",
    "max_weight_bits": "memory",
}
# Fields each model of target must define, with the dimension of their unit.
REQUIRED: dict[str, dict[str, str]] = {
    "neuromorphic": {
        "synaptic_op_energy": "energy",
        "neuron_update_energy_active": "energy",
        "neuron_update_energy_inactive": "energy",
        "spike_energy_within_tile": "energy",
        "hop_energy": "energy",
        "mean_hops": "count",
        "static_energy_per_chip_step": "energy",
    },
    "ann": {"mac_energy": "energy", "ac_energy": "energy"},
}


@dataclass(frozen=True)
class Quantity:
    """One number of a profile, with where it comes from; `si` is `value` in J, bit or count."""

    value: float
    unit: str
    kind: str
    bound: str
    source: str
    note: str
    si: float


@dataclass(frozen=True)
class Profile:
    name: str
    model: ProfileModel
    description: str
    path: Path
    quantities: dict[str, Quantity]

    def si(self, field: str) -> float:
        return self.quantities[field].si

    @property
    def kinds(self) -> set[str]:
        return {q.kind for q in self.quantities.values()}

    @property
    def can_fit(self) -> bool:
        """Whether the profile gives chip capacity (cores, neurons, synapse memory) for `fit`."""
        return self.model == "neuromorphic" and all(f in self.quantities for f in FIT_FIELDS)


def profiles_dir() -> Path:
    """The packaged profile folder (the same files as the repository's `hw_profiles/`)."""
    return Path(str(resources.files("tmkt_common.energy_model") / "hw_profiles"))


def list_profiles() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.toml"))


def load_profile(name_or_path: str | os.PathLike) -> Profile:
    """Load a registered profile by name (`loihi2`) or a TOML file by path; ProfileError if invalid."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = profiles_dir() / f"{name_or_path}.toml"
        if not path.exists():
            raise ProfileError(f"no hardware profile named {str(name_or_path)!r}; known: {list_profiles()}")
    return parse_profile(read_table(path, "TOML", ProfileError, "hardware profile file not found"), path)


def parse_profile(doc: dict, path: Path) -> Profile:
    """Check `doc` against the schema of its `model`; every error names the file and the field."""
    for key in ("name", "model", "description"):
        if not isinstance(doc.get(key), str):
            raise ProfileError(f"{path}: missing top-level string field {key!r}")
    model = doc["model"]
    if model not in REQUIRED:
        raise ProfileError(f"{path}: model {model!r} is not one of {sorted(REQUIRED)}")
    fields = dict(REQUIRED[model])
    if model == "neuromorphic":
        present = [f for f in FIT_FIELDS if f in doc]
        if present and len(present) < len(FIT_FIELDS):
            missing = sorted(set(FIT_FIELDS) - set(present))
            raise ProfileError(f"{path}: chip-capacity fields are all or none; {missing} missing")
        fields.update(FIT_FIELDS if present else {})
    quantities = {field: _quantity(doc.get(field), field, dim, path) for field, dim in fields.items()}
    return Profile(doc["name"], model, doc["description"], path, quantities)


def _quantity(entry: object, field: str, dimension: str, path: Path) -> Quantity:
    where = f"{path}: field {field!r}"
    if not isinstance(entry, dict):
        raise ProfileError(f"{where} is missing (a table with value, unit, kind, bound, source)")
    for key in ("value", "unit", "kind", "bound", "source"):
        if key not in entry:
            raise ProfileError(f"{where} has no {key!r}")
    value, unit, kind = entry["value"], entry["unit"], entry["kind"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ProfileError(f"{where}: value {value!r} is not a non-negative number")
    units = UNITS[dimension]
    if unit not in units:
        raise ProfileError(f"{where}: unit {unit!r} is not one of the {dimension} units {sorted(units)}")
    if kind not in KINDS:
        raise ProfileError(f"{where}: kind {kind!r} is not one of {list(KINDS)}")
    if entry["bound"] not in BOUNDS:
        raise ProfileError(f"{where}: bound {entry['bound']!r} is not one of {list(BOUNDS)}")
    if not str(entry["source"]).strip():
        raise ProfileError(f"{where}: empty source")
    return Quantity(float(value), unit, kind, str(entry["bound"]), str(entry["source"]),
                    str(entry.get("note", "")),
                    float(value) * units[unit])
