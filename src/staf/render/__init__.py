"""Headless rendering of body meshes (moderngl on EGL: Mesa's CPU rasteriser, or a GPU)."""

from staf.render.renderer import Lighting, MeshRenderer, RenderResult

__all__ = ["Lighting", "MeshRenderer", "RenderResult"]
