"""staf: open, fast, tested video-based 3D human mesh recovery.

Sub-packages are split by what things are:

- :mod:`staf.body`       body models (SMPL-format LBS, the bundled open model) and joint sets
- :mod:`staf.geometry`   rotations, cameras, alignment
- :mod:`staf.models`     backbone, STAF modules, TAR modules
- :mod:`staf.data`       dataset formats and the synthetic generator
- :mod:`staf.training`, :mod:`staf.evaluation`, :mod:`staf.inference`, :mod:`staf.render`
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("staf")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from staf.errors import StafError

__all__ = ["__version__", "StafError"]
