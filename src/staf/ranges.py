"""The documented range of every numeric command-line flag, in one table.

``staf`` checks each number where it enters, before anything is read, allocated or written:
:func:`check_flags` runs on the parsed command line, and the settings objects the flags fill
(:class:`~staf.data.synthetic.SynthConfig`, :class:`~staf.inference.pipeline.DemoConfig`,
:class:`~staf.inference.video.VideoSource`) check the same ranges for callers of the Python API
and for presets. README's table of ranges is :func:`markdown_table` of :data:`FLAGS` (a test
keeps the two equal, and another that every numeric flag of the parser has a row here).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from staf.config import check_number
from staf.errors import InvalidInputError, StafError


@dataclasses.dataclass(frozen=True)
class Range:
    """``low`` ≤ value ≤ ``high`` (``low_open``: > ``low``); ``integer``: a whole number."""

    command: str
    low: float
    high: float
    meaning: str
    integer: bool = False
    low_open: bool = False

    def check(self, where: str, value: Any) -> None:
        """Refuse ``value`` (:class:`~staf.errors.InvalidInputError` naming ``where``) outside the range."""
        try:
            check_number(where, value, self.low, self.high, integer=self.integer, low_open=self.low_open)
        except StafError as error:
            raise InvalidInputError(str(error)) from None

    def text(self) -> str:
        def number(value: float) -> str:
            if value == 2**63 - 1:
                return "2⁶³ − 1"
            return f"{int(value):,}".replace(",", " ") if float(value).is_integer() and abs(value) <= 1e12 else f"{value:g}"

        return f"{number(self.low)} {'<' if self.low_open else '≤'} x ≤ {number(self.high)}"


#: flag → its range; the same flag name means the same quantity in every command
FLAGS: dict[str, Range] = {
    "--betas": Range("body", -10, 10, "each shape coefficient β, in the body model's standard deviations"),
    "--crop-scale": Range("eval", 0.5, 5, "crop side over the person box's longer side"),
    "--max-sequences": Range("eval", 1, 10**9, "sequences to evaluate", integer=True),
    "--sequences": Range("synth", 1, 1_000_000, "sequences to render", integer=True),
    "--frames": Range("synth", 3, 100_000, "frames per sequence", integer=True),
    "--seed": Range("synth", 0, 2**63 - 1, "random seed", integer=True),
    "--size": Range("synth", 32, 4096, "full-frame side, pixels", integer=True),
    "--crop-size": Range("synth", 32, 1024, "person crop side, pixels", integer=True),
    "--start": Range("demo", 0, 10**7, "first second to process"),
    "--end": Range("demo", 0, 10**7, "second to stop at", low_open=True),
    "--fps": Range("demo", 0.1, 1000, "frame rate of an image folder, frames/s"),
    "--focal": Range("demo", 1, 10**7, "focal length, pixels; also a field of view of 1°–170° over the image diagonal"),
    "--max-people": Range("demo", 1, 1000, "tracks kept", integer=True),
    "--min-track-length": Range("demo", 1, 100_000, "shortest track kept, frames", integer=True),
    "--smooth-min-cutoff": Range("demo", 0, 1000, "One-Euro minimum cutoff, Hz", low_open=True),
    "--smooth-beta": Range("demo", 0, 1000, "One-Euro speed coefficient"),
    "--depth-window": Range("demo", 0, 3600, "seconds over which the world path's depth is steadied (0: not at all)"),
    "--refine-iterations": Range("demo", 0, 10_000, "L-BFGS iterations of the refine stage", integer=True),
    "--refine-weight": Range("demo", 0, 10**6, "each TERM=VALUE weight of the refine stage"),
}

#: the field of view (degrees, over the image diagonal) that ``--focal`` must give
FIELD_OF_VIEW = (1.0, 170.0)


def check_flags(args: Any) -> None:
    """Check every numeric flag present in parsed ``args`` against :data:`FLAGS` (lists item by item)."""
    for flag, allowed in FLAGS.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        for item in value if isinstance(value, list) else [] if value is None else [value]:
            allowed.check(flag, item)


def check_field_of_view(focal: float, width: int, height: int) -> None:
    """Refuse a focal length (pixels) whose field of view over the image's diagonal is outside
    :data:`FIELD_OF_VIEW` (a body at any sane depth would not be drawn)."""
    import math

    diagonal = math.hypot(width, height)
    degrees = math.degrees(2 * math.atan(diagonal / (2 * focal)))
    low, high = FIELD_OF_VIEW
    if not low <= degrees <= high:
        shortest = diagonal / (2 * math.tan(math.radians(high) / 2))
        longest = diagonal / (2 * math.tan(math.radians(low) / 2))
        raise InvalidInputError(f"--focal {focal:g} px on a {width}×{height} image is a field of view of {degrees:.3g}°; "
                                f"give between {shortest:.0f} and {longest:.0f} px ({low:g}°–{high:g}°), or leave "
                                "it out for the image diagonal")


def markdown_table() -> str:
    """README's table of :data:`FLAGS`."""
    rows = ["| command | flag | range | what |", "|---|---|---|---|"]
    rows += [f"| {allowed.command} | `{flag}` | {allowed.text()}{', whole' if allowed.integer else ''} | {allowed.meaning} |"
             for flag, allowed in FLAGS.items()]
    return "\n".join(rows)
