"""dlkit's settings: the `c.Dlkit.*` lines of a course's `nbgrader_config.py`, declared.

Each setting has a type, a default and a help text, the way nbgrader declares its own; the
defaults are written here and nowhere else. `read(config)` checks the `Dlkit` section: a setting
that does not exist (a typo such as `notebok_timeout`), a value of the wrong type or a sandbox
limit that does not exist stops every dlkit command with a message naming it and the nearest
valid name. Plain nbgrader ignores the section, as it ignores any section it does not know.
`dlkit config` lists them.
"""
from __future__ import annotations

import difflib

from traitlets import Dict, Float, List, TraitError, Unicode, validate
from traitlets.config import Configurable

from dlkit import DlkitError

# Limits of each sandboxed kernel (dlkit.plugins.sandbox): the keys `sandbox_limits` accepts.
DEFAULT_LIMITS = {
    "memory_gib": 4,        # address space of each process in the sandbox
    "tasks": 512,           # processes and threads of the sandbox user
    "cpu_seconds": 1800,    # CPU time of each process
    "file_size_mib": 512,   # largest file the kernel may write
    "open_files": 1024,
}


def _check_limits(limits: dict, where: str) -> dict:
    for key, value in limits.items():
        if key not in DEFAULT_LIMITS:
            raise TraitError(f"{where} has no limit {key!r}{_nearest(key, DEFAULT_LIMITS)} "
                             f"(limits: {', '.join(DEFAULT_LIMITS)})")
        least = 0 if key == "memory_gib" else 1  # memory_gib 0: no address-space limit
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < least:
            raise TraitError(f"{where}[{key!r}] must be a number of at least {least}, not {value!r}")
    return limits


class Dlkit(Configurable):
    """dlkit's settings (`c.Dlkit.<name>` in the course's nbgrader_config.py)."""

    notebook_timeout = Float(
        900.0, help="Seconds one submission's autograding may take in all before it is killed "
                    "(`timed_out`, 0 points); nbgrader's c.Execute.timeout limits each cell.",
    ).tag(config=True)
    sandbox_limits = Dict(
        default_value=dict(DEFAULT_LIMITS),
        help="Resource limits of each sandboxed grading kernel: "
             + ", ".join(f"{k} (default {v})" for k, v in DEFAULT_LIMITS.items())
             + ". Keys left out keep their default.",
    ).tag(config=True)
    lab_sandbox_limits = Dict(
        value_trait=Dict(), default_value={},
        help="Per lab, limits that override the course's for its kernels, e.g. {'lab06': {'memory_gib': 6}}.",
    ).tag(config=True)
    lab_data = Dict(
        value_trait=List(Unicode()), default_value={},
        help="Per lab, the files of data/ released beside its notebook and copied into each "
             "grading kernel's folder, e.g. {'lab01': ['boston.csv']}.",
    ).tag(config=True)
    host_data = Dict(
        value_trait=List(Unicode()), default_value={},
        help="Per lab, the files of data/ only the grader reads (held-out test sets): never "
             "released, never in a grading kernel while the judge runs the tests on the host.",
    ).tag(config=True)
    students_guide = Unicode(
        "docs/students.md",
        help="The students' guide, a Markdown file (relative to the course directory) released "
             "beside each lab's notebook as students.md, which the notebook's first cell links; "
             "'' releases none.",
    ).tag(config=True)

    @validate("sandbox_limits")
    def _valid_limits(self, proposal):
        return {**DEFAULT_LIMITS, **_check_limits(dict(proposal["value"]), "c.Dlkit.sandbox_limits")}

    @validate("lab_sandbox_limits")
    def _valid_lab_limits(self, proposal):
        return {lab: _check_limits(dict(limits), f"c.Dlkit.lab_sandbox_limits[{lab!r}]")
                for lab, limits in proposal["value"].items()}


def names() -> list[str]:
    """Every setting's name, in declaration order."""
    return list(Dlkit.class_own_traits(config=True))


def read(config, *, where: str = "nbgrader_config.py") -> Dlkit:
    """The `Dlkit` section of a traitlets config as declared settings; raises DlkitError naming
    an unknown setting (with the nearest valid one) or a value of the wrong type."""
    section = config.get("Dlkit", {})
    for key in section:
        if key not in names():
            raise DlkitError(f"{where}: c.Dlkit.{key} is not a dlkit setting{_nearest(key, names())}; "
                             f"the settings are {', '.join(names())} (`dlkit config` lists them)")
    try:
        return Dlkit(config=config)
    except TraitError as exc:
        raise DlkitError(f"{where}: {exc}") from None


def describe(settings: Dlkit | None = None) -> str:
    """Every setting with its type, default, help and (given `settings`) current value."""
    lines = []
    traits = Dlkit.class_own_traits(config=True)
    for name in names():
        trait = traits[name]
        lines.append(f"c.Dlkit.{name}  ({type(trait).__name__}, default {trait.default_value_repr()})")
        if settings is not None:
            lines.append(f"    now: {getattr(settings, name)!r}")
        lines.append(f"    {trait.help}")
    return "\n".join(lines)


def _nearest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
