"""Which db file and protocol ``staf eval --data NAME|PATH`` means.

A name of :data:`staf.evaluation.protocols.PROTOCOLS` is looked up under ``data_root`` (else
``$STAF_DB_DIR``, else ``./data/db``) by the file names the peers' preprocessing scripts write;
a path is used as it is, with the protocol given or guessed from its name (and joint count).
``lsp`` names no db file but a folder of labelled still images (``staf eval --data lsp``).
"""

from __future__ import annotations

import os
from pathlib import Path

from staf.errors import MissingAssetError, StafError

DB_DIR_ENV = "STAF_DB_DIR"
#: ``--data lsp``: still images with labelled 2D joints (:mod:`staf.data.lsp`, :mod:`staf.evaluation.pck`)
LSP = "lsp"


def resolve_dataset(data: str, split: str = "test", data_root: str | Path | None = None,
                    protocol: str | None = None):
    """(db path, :class:`~staf.evaluation.protocols.Protocol`) for ``data`` (a name or a path)."""
    from staf.data.db import read_db
    from staf.evaluation.protocols import PROTOCOLS, guess_protocol

    if data in PROTOCOLS:
        chosen = PROTOCOLS[data]
        root = Path(data_root or os.environ.get(DB_DIR_ENV) or Path("data") / "db")
        names = chosen.file_names(split)
        found = [root / name for name in names if (root / name).is_file()]
        if not found:
            raise MissingAssetError(
                f"{' / '.join(names)} ({chosen.title}, split '{split}') was not found in {root.resolve()}. "
                f"Pass --data-root DIR or set {DB_DIR_ENV}=DIR to the folder with the preprocessed db files "
                "(made by the VIBE/TCMR/STAF preprocessing scripts), or give --data PATH of a db file."
            )
        return found[0], chosen
    path = Path(data)
    if not path.is_file():
        raise MissingAssetError(f"--data {data}: neither a dataset name ({', '.join(PROTOCOLS)}) nor a file")
    if protocol:
        if protocol not in PROTOCOLS:
            raise StafError(f"--protocol {protocol}: choose one of {', '.join(PROTOCOLS)}")
        return path, PROTOCOLS[protocol]
    return path, guess_protocol(path.name, lambda: read_db(path)["joints3D"].shape[1])
