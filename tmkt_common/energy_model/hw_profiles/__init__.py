"""The hardware-profile registry: one TOML file per target (`loihi2.toml`, `loihi1.toml`, `ann-45nm.toml`,
`ann-int8-45nm.toml`, `snn-45nm-paper.toml`).

This folder is the single source of truth; the repository's `hw_profiles/` is a symlink to it, and it ships as
package data so an installed tmkt finds the same files. A new target is a new TOML file here;
`tmkt_common.energy_model.load_profile` reads it and checks its schema.
"""
