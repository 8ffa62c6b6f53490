"""Per-backbone energy/accuracy reports: read runs (`runs`), build the JSON document (`build`), write it with
Markdown and PNGs (`write`). `tmkt-deploy report` is the command line over these."""

from tmkt_deploy.report.build import build_report
from tmkt_deploy.report.runs import Run, RunError, load_export_run, load_netx_run
from tmkt_deploy.report.write import write_report

__all__ = ["Run", "RunError", "build_report", "load_export_run", "load_netx_run", "write_report"]
