"""Our NIR file in every installed NIR client vs the emulator, over an export folder's whole test set.

    python benchmarks/nir_clients.py runs/scnn/nir   # written by `tmkt-deploy export --target nir`

Prints, per client, the share of equal output spikes (aligned by the IR latency) and of equal predicted
classes. Not a timing: agreement only. `export --target nir` does the snnTorch half itself (check.json).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nir
import numpy as np

from tmkt_deploy.check import predict_counts
from tmkt_deploy.emulator import emulate
from tmkt_deploy.export import load_job
from tmkt_deploy.export_folder import NIR_FILE
from tmkt_deploy.interop.nir_run import CLIENTS, client_version, run_client


def main(folder: Path) -> None:
    job = load_job(folder)
    net, graph = job.net, nir.read(folder / NIR_FILE)
    latency = net.latency()
    ours = emulate(net, job.frames).output_spikes
    print(f"{len(job.frames)} samples, {net.time_steps} frames each, latency {latency}")
    for client in CLIENTS:
        try:
            theirs = run_client(graph, job.frames, net.time_steps, client)
        except Exception as exc:  # noqa: BLE001 - report and go on to the next client
            print(f"{client}: could not run the file ({type(exc).__name__}: {exc})")
            continue
        spikes = float((theirs == ours[..., latency:]).mean())
        same = float(np.mean(predict_counts(theirs, 0) == predict_counts(ours, latency)))
        print(f"{client_version(client)}: output spikes equal {spikes:.4%}, same class {same:.2%}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
