"""The one error type the data layer raises for bad input (missing folders, broken files, unknown names).
"""

from __future__ import annotations


class DatasetError(ValueError):
    """Bad dataset input; the message names the path or dataset name and says what would work."""
