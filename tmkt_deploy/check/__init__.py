"""The spike-exact check, split by job: spike records (records), their comparison and the result (compare),
terminal tables (tables). The reference run itself is `tmkt_deploy.bridge` (it needs the trained model)."""

from .compare import Agreement, CheckResult, accuracy, agreement
from .records import SpikeRecord, predict_counts
from .tables import check_tables

__all__ = ["Agreement", "CheckResult", "SpikeRecord", "accuracy", "agreement", "check_tables",
           "predict_counts"]
