"""Offscreen mesh rendering with moderngl on a headless EGL context.

The camera is OpenCV's pinhole camera, the same as :func:`staf.geometry.cameras.perspective_project`:
points in camera coordinates (x right, y down, z forward, metres) project to pixels
``u = fx·x/z + cx``, ``v = fy·y/z + cy`` with pixel centres at integer coordinates. The renderer
maps that onto OpenGL's clip space exactly, so rendered silhouettes and projected vertices agree.

Outputs per frame: RGB (H, W, 3) uint8 over a background, the person mask (H, W) bool and the
depth (H, W) float32 in metres (inf where empty). Shading (:class:`Lighting`), computed in the
fragment shader: per-vertex colours times ambient plus a coloured directional key light (Lambert,
two-sided by default) plus an optional one-sided fill light.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from staf.errors import StafError

_VERTEX_SHADER = """
#version 330
uniform vec4 intrinsics;   // fx, fy, cx, cy (pixels)
uniform vec2 image_size;   // W, H
uniform vec2 depth_range;  // near, far
in vec3 position;          // camera coordinates (x right, y down, z forward)
in vec3 normal;
in vec3 colour;
out vec3 v_normal;
out vec3 v_colour;
out float v_depth;
void main() {
    float z = position.z;
    float u = intrinsics.x * position.x / z + intrinsics.z;   // pixel, centres at integers
    float v = intrinsics.y * position.y / z + intrinsics.w;
    float x_ndc = 2.0 * (u + 0.5) / image_size.x - 1.0;
    float y_ndc = 1.0 - 2.0 * (v + 0.5) / image_size.y;       // image row 0 at the top
    float near = depth_range.x, far = depth_range.y;
    float z_ndc = (far + near - 2.0 * near * far / z) / (far - near);
    gl_Position = vec4(x_ndc * z, y_ndc * z, z_ndc * z, z);
    v_normal = normal;
    v_colour = colour;
    v_depth = z;
}
"""

_FRAGMENT_SHADER = """
#version 330
uniform vec3 light_direction;  // towards the key light, camera coordinates
uniform vec3 light_colour;     // the key light's RGB
uniform float ambient;
uniform float diffuse;
uniform bool two_sided;        // |n·l|: both sides lit; else max(n·l, 0): the far side in shade
uniform vec3 fill_direction;   // towards the fill light
uniform float fill;
in vec3 v_normal;
in vec3 v_colour;
in float v_depth;
layout(location = 0) out vec4 colour;
layout(location = 1) out float depth;
void main() {
    vec3 n = normalize(v_normal);
    float facing = dot(n, normalize(light_direction));
    float key = two_sided ? abs(facing) : max(facing, 0.0);
    float fill_lambert = max(dot(n, normalize(fill_direction)), 0.0);
    colour = vec4(v_colour * (ambient + diffuse * key * light_colour + fill * fill_lambert), 1.0);
    depth = v_depth;
}
"""


@dataclasses.dataclass(frozen=True)
class Lighting:
    """The light of a scene, in camera coordinates (x right, y down, z forward).

    A pixel of vertex colour ``c`` with unit normal ``n`` gets
    ``c · (ambient + diffuse · key · colour + fill · max(n·f, 0))``, with ``key = |n·l|``
    (``two_sided``, both sides lit alike) or ``max(n·l, 0)`` (the side away from the light in shade);
    ``l`` and ``f`` are the unit directions towards the key and fill lights. The defaults are the
    renderer's original single white two-sided light.
    """

    direction: tuple[float, float, float] = (0.3, -0.6, -1.0)
    ambient: float = 0.45
    diffuse: float = 0.6
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)
    two_sided: bool = True
    fill_direction: tuple[float, float, float] = (0.0, 0.0, -1.0)
    fill: float = 0.0


@dataclasses.dataclass
class RenderResult:
    """rgb (H, W, 3) uint8, mask (H, W) bool, depth (H, W) float32 metres (inf = background)."""

    rgb: np.ndarray
    mask: np.ndarray
    depth: np.ndarray


def face_incidence(faces: np.ndarray, num_vertices: int):
    """(N, F) sparse matrix summing each face's value into its three vertices."""
    import scipy.sparse as sp

    rows = faces.reshape(-1)
    cols = np.repeat(np.arange(len(faces)), 3)
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(num_vertices, len(faces)))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray, incidence=None) -> np.ndarray:
    """(N, 3) area-weighted vertex normals (``incidence`` from :func:`face_incidence` speeds it up)."""
    triangles = vertices[faces]
    face_normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    incidence = face_incidence(faces, len(vertices)) if incidence is None else incidence
    normals = incidence @ face_normals
    return normals / (np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12)


class MeshRenderer:
    """Renders one mesh topology at a fixed image size, frame after frame.

    Args:
        width, height: image size in pixels.
        faces: (F, 3) triangle indices.
        near, far: clipping depths in metres.
    """

    def __init__(self, width: int, height: int, faces: np.ndarray, near: float = 0.05, far: float = 100.0) -> None:
        import moderngl

        try:
            self.ctx = moderngl.create_standalone_context(backend="egl")
        except Exception as exc:  # no EGL driver
            raise StafError(
                f"cannot create a headless OpenGL (EGL) context: {exc}. Install Mesa's EGL driver "
                "(Debian: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri) or run where a GPU driver is present."
            ) from exc
        self.width, self.height = width, height
        self.near, self.far = near, far
        self.program = self.ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        self.faces = np.ascontiguousarray(faces, dtype=np.int32)
        self.index_buffer = self.ctx.buffer(self.faces.tobytes())
        self.vertex_buffer = None
        self.incidence = None
        self.colour_target = self.ctx.renderbuffer((width, height), 4)
        self.depth_target = self.ctx.renderbuffer((width, height), 1, dtype="f4")
        self.depth_buffer = self.ctx.depth_renderbuffer((width, height))
        self.framebuffer = self.ctx.framebuffer([self.colour_target, self.depth_target], self.depth_buffer)
        self.renderer_name = self.ctx.info.get("GL_RENDERER", "?")

    def render(self, vertices: np.ndarray, colours: np.ndarray, intrinsics: np.ndarray,
               background: np.ndarray | None = None, light: Lighting = Lighting()) -> RenderResult:
        """Render (N, 3) camera-coordinate vertices with (N, 3) colours in [0, 1] and a 3×3 K."""
        if self.incidence is None or self.incidence.shape[0] != len(vertices):
            self.incidence = face_incidence(self.faces, len(vertices))
        normals = vertex_normals(vertices, self.faces, self.incidence)
        data = np.concatenate([vertices, normals, colours], axis=1).astype("f4")
        if self.vertex_buffer is None or self.vertex_buffer.size != data.nbytes:
            self.vertex_buffer = self.ctx.buffer(data.tobytes())
            self.vao = self.ctx.vertex_array(self.program, [(self.vertex_buffer, "3f 3f 3f", "position", "normal", "colour")],
                                             self.index_buffer)
        else:
            self.vertex_buffer.write(data.tobytes())
        program = self.program
        program["intrinsics"].value = (float(intrinsics[0, 0]), float(intrinsics[1, 1]),
                                       float(intrinsics[0, 2]), float(intrinsics[1, 2]))
        program["image_size"].value = (float(self.width), float(self.height))
        program["depth_range"].value = (self.near, self.far)
        program["light_direction"].value = tuple(float(v) for v in light.direction)
        program["light_colour"].value = tuple(float(v) for v in light.colour)
        program["ambient"].value = float(light.ambient)
        program["diffuse"].value = float(light.diffuse)
        program["two_sided"].value = bool(light.two_sided)
        program["fill_direction"].value = tuple(float(v) for v in light.fill_direction)
        program["fill"].value = float(light.fill)
        self.framebuffer.use()
        self.framebuffer.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self.ctx.enable(self.ctx.DEPTH_TEST)
        self.vao.render()
        rgba = np.frombuffer(self.framebuffer.read(components=4, attachment=0), np.uint8)
        depth = np.frombuffer(self.framebuffer.read(components=1, attachment=1, dtype="f4"), np.float32)
        rgba = rgba.reshape(self.height, self.width, 4)[::-1]
        depth = depth.reshape(self.height, self.width)[::-1].copy()
        mask = rgba[..., 3] > 0
        depth[~mask] = np.inf
        rgb = rgba[..., :3].copy()
        if background is not None:
            rgb = np.where(mask[..., None], rgb, background)
        return RenderResult(rgb, mask, depth)

    def release(self) -> None:
        self.ctx.release()
