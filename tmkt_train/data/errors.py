"""The error and warning types of the data layer for bad input (missing folders, broken files, unknown names).

Policy: a file that cannot be what its format says (cut mid-record, events outside the sensor, timestamps
running backwards where the format records them in order, random bytes, no events) is a `DatasetError`: one
line naming the file, and nothing is cached. A file that is valid but looks damaged (an ATIS recording shorter
than its saccades, an AEDAT4 stream out of time order, an N-Omniglot window partly outside its recording)
loads with a `DatasetWarning` naming it.
"""

from __future__ import annotations


class DatasetError(ValueError):
    """Bad dataset input; the message names the path or dataset name and says what would work."""


class DatasetWarning(UserWarning):
    """Data that loads but looks damaged; the message names the file and what looks wrong."""
