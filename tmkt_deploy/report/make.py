"""One call from inputs to a written report: what `tmkt-deploy report` runs, and what tests call directly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tmkt_common.cli import progress as progress_bar
from tmkt_deploy.energy import list_profiles, load_profile
from tmkt_deploy.report.build import build_report
from tmkt_deploy.report.runs import Run, load_export_run, load_netx_run, load_nir_run
from tmkt_deploy.report.write import write_report

if TYPE_CHECKING:
    from tmkt_deploy.interop.netx_import import NetxOptions


def make_report(run_dirs: list[str | os.PathLike], out_dir: str | os.PathLike,
                profiles: list[str] | None = None, netx: str | os.PathLike | None = None,
                inputs: str | os.PathLike | None = None, nir_file: str | os.PathLike | None = None,
                netx_options: NetxOptions | None = None) -> dict:
    """Report `run_dirs` (and `netx` and/or `nir_file` run on `inputs`, netx with `netx_options`) on
    `profiles` (default: all registered) into `out_dir`.

    Raises ProfileError / RunError / ValueError naming the bad file, key or layer; writes nothing then.
    """
    if (netx is None and nir_file is None) != (inputs is None):
        raise ValueError("--netx FILE or --nir FILE and --input SPIKES.npy go together")
    # default: every registered profile, chips first, the ANN reference last
    loaded = [load_profile(p) for p in profiles] if profiles else \
        sorted((load_profile(p) for p in list_profiles()), key=lambda p: p.model == "ann")
    with progress_bar() as bar:
        runs: list[Run] = [load_export_run(d) for d in bar.track(run_dirs, description="reading runs")]
    if netx is not None:
        runs.append(load_netx_run(Path(netx), Path(inputs), netx_options))
    if nir_file is not None:
        runs.append(load_nir_run(Path(nir_file), Path(inputs)))
    report = build_report(runs, loaded)
    write_report(report, out_dir)
    return report
