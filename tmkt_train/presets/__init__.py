"""The papers' protocols as one-word presets: TOML files shipped in this package (`tmkt-train presets NAME`
prints one). A preset is the bottom layer of a run's config: `--config` TOML goes on top of it, command-line
options on top of both, so any knob can be changed while the rest stays the protocol's.
"""

from __future__ import annotations

from importlib import resources

import tomli

from tmkt_common.errors import ConfigError

SUFFIX = ".toml"


def list_presets() -> list[str]:
    return sorted(p.name[: -len(SUFFIX)] for p in resources.files(__package__).iterdir()
                  if p.name.endswith(SUFFIX))


def preset_text(name: str) -> str:
    """The preset's TOML as shipped; an unknown name is a ConfigError listing the known ones."""
    if name not in list_presets():
        raise ConfigError(f"--preset {name!r}: choose one of {list_presets()}")
    return resources.files(__package__).joinpath(name + SUFFIX).read_text()


def load_preset(name: str) -> dict:
    return tomli.loads(preset_text(name))


def merged(base: dict, top: dict) -> dict:
    """`top`'s keys over `base`'s, table by table (a TOML file over a preset)."""
    out = dict(base)
    for key, value in top.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else value
    return out
