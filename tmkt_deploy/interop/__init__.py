"""Interop with other neuromorphic stacks, all reading or producing the one integer IR (`tmkt_deploy.ir`).

- `nir_export.write_nir`: the IR as a NIR graph (CubaLIF nodes, for snnTorch, Norse, SpiNNaker, ...);
- `onnx_export.write_onnx`: one Loihi time step as an integer-exact ONNX graph with explicit state, and
  `onnx_run.run_onnx` / `OnnxStepRunner`: that file run over whole samples with onnxruntime (emulator
  layout, time last; the runner opens the file once for many batches);
- `netx_import.read_netx`: a lava-dl netx HDF5 file trained elsewhere into the IR (what netx builds);
  `netx_inputs`: inputs in netx's layout; `netx_check.check_netx_ir`: emulator vs Lava on such an IR;
  `netx_writer.write_netx`: the IR as netx HDF5 (sequential nets);
- `nir_import.read_nir`: a NIR graph (snnTorch, Norse, ...) into the IR, quantised to Loihi weights, with
  `float_simulation` / `quantisation_cost` to measure what the quantisation changed;
- `nir_run.run_client`: a NIR graph run by snnTorch or Norse through their own importers.

Every function raises `UnsupportedError` naming the layer and the reason for constructs it cannot express.
"""

from tmkt_common.errors import UnsupportedError

__all__ = ["UnsupportedError"]
