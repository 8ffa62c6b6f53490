"""Hardware profiles: the shipped ones load with provenance; broken files fail naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmkt_common.energy_model import KINDS, profiles_dir
from tmkt_deploy.energy import ProfileError, list_profiles, load_profile

REPO = Path(__file__).resolve().parents[1]


def test_shipped_profiles_load_with_source_and_kind_for_every_number():
    assert {"loihi2", "loihi1", "ann-45nm"} <= set(list_profiles())
    for name in list_profiles():
        profile = load_profile(name)
        assert profile.name == name
        for field, q in profile.quantities.items():
            assert q.kind in KINDS and q.source.strip(), field


def test_published_figures_are_read_in_si_units():
    loihi1, ann = load_profile("loihi1"), load_profile("ann-45nm")
    assert loihi1.si("synaptic_op_energy") == pytest.approx(23.6e-12)
    assert loihi1.si("neuron_update_energy_active") == pytest.approx(81e-12)
    assert loihi1.si("synapse_memory_per_core") == 128 * 1024 * 8
    assert ann.si("mac_energy") == pytest.approx(4.6e-12) and ann.si("ac_energy") == pytest.approx(0.9e-12)


def test_loihi2_per_op_energies_are_marked_estimated():
    """Intel has not published per-op Loihi 2 energies: the profile must not claim otherwise."""
    loihi2 = load_profile("loihi2")
    for field, q in loihi2.quantities.items():
        if field.endswith("_energy") or "energy_" in field:
            assert q.kind == "estimated", field


def test_repository_hw_profiles_is_the_packaged_folder():
    if (REPO / "hw_profiles").exists():  # a source checkout; an installed package has only profiles_dir()
        assert (REPO / "hw_profiles").resolve() == profiles_dir().resolve()


def write_variant(tmp_path: Path, drop: str | None = None, replace: tuple[str, str] | None = None) -> Path:
    """loihi1.toml with one field table removed, or one line replaced."""
    text = (profiles_dir() / "loihi1.toml").read_text()
    if drop:
        start = text.index(f"[{drop}]")
        end = text.find("\n[", start + 1)
        text = text[:start] + (text[end + 1:] if end >= 0 else "")
    if replace:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1], 1)
    path = tmp_path / "custom.toml"
    path.write_text(text)
    return path


def test_custom_profile_loads_by_path(tmp_path):
    assert load_profile(write_variant(tmp_path)).name == "loihi1"


def test_missing_field_names_field_and_file(tmp_path):
    with pytest.raises(ProfileError, match=r"custom\.toml: field 'hop_energy' is missing"):
        load_profile(write_variant(tmp_path, drop="hop_energy"))


def test_missing_unit_names_field_and_file(tmp_path):
    path = write_variant(tmp_path, replace=('value = 23.6\nunit = "pJ"\n', "value = 23.6\n"))
    with pytest.raises(ProfileError, match=r"custom\.toml: field 'synaptic_op_energy' has no 'unit'"):
        load_profile(path)


def test_wrong_unit_and_kind_are_rejected(tmp_path):
    watts = ('value = 23.6\nunit = "pJ"', 'value = 23.6\nunit = "pW"')
    with pytest.raises(ProfileError, match="synaptic_op_energy.*'pW' is not one of the energy units"):
        load_profile(write_variant(tmp_path, replace=watts))
    with pytest.raises(ProfileError, match="cores_per_chip.*kind 'guessed'"):
        load_profile(write_variant(tmp_path, replace=('kind = "spec"', 'kind = "guessed"')))


def test_unknown_name_and_bad_toml(tmp_path):
    with pytest.raises(ProfileError, match="no hardware profile named 'loihi9'.*loihi2"):
        load_profile("loihi9")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ProfileError, match=r"bad\.toml: not valid TOML"):
        load_profile(bad)
