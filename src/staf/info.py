"""What ``staf info`` reports: the version, torch and devices, the shipped default model and
which body models and SMPL assets are found where."""

from __future__ import annotations

import os
import platform

import staf
from staf.body.assets import BASE_DATA_ENV, BASE_DATA_FILES, GENDERS, base_data_folders, bundled_model_path


def collect_info(base_data: str | None) -> dict:
    """What ``staf info`` reports, as a dict."""
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    open_path = bundled_model_path()
    open_model: dict = {"path": str(open_path), "found": open_path.is_file()}
    if open_path.is_file():
        from staf.body.assets import load_open_model_data

        data = load_open_model_data()
        open_model.update(vertices=data.num_vertices, betas=data.num_betas,
                          regressors=sorted(data.regressors), size_mb=round(open_path.stat().st_size / 2**20, 2))
    folders = []
    for folder in base_data_folders(base_data):
        names = [f"SMPL_{g.upper()}.{ext}" for g in GENDERS for ext in ("pkl", "npz")] + list(BASE_DATA_FILES)
        folders.append({"folder": str(folder.resolve()), "exists": folder.is_dir(),
                        "found": [name for name in names if (folder / name).is_file()]})
    return {
        "staf": staf.__version__,
        "default_model": default_model_info(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "devices": devices,
        "open_body_model": open_model,
        "base_data_env": {BASE_DATA_ENV: os.environ.get(BASE_DATA_ENV)},
        "base_data_folders": folders,
    }


def default_model_info() -> dict:
    """The shipped default model: path, size, model, config, provenance (or found: False)."""
    from staf.models.packed import default_model_path, read_packed

    path = default_model_path()
    if path is None:
        return {"found": False}
    payload, _ = read_packed(path, tensors=False)
    return {"found": True, "path": str(path), "size_mb": round(path.stat().st_size / 2**20, 1), "model": payload["model"],
            "backbone": payload["config"].get("backbone"), "image_size": payload["config"].get("image_size"),
            "body_model": payload["body_model"].get("name"), "provenance": payload["provenance"]}
