"""Where things are in a course directory, and what `nbgrader_config.py` says about it."""
from __future__ import annotations

import os
import pathlib
import re
from dataclasses import dataclass

from traitlets.config.loader import PyFileConfigLoader

from dlkit import DlkitError, settings as settings_mod
from dlkit.settings import Dlkit

CONFIG_NAME = "nbgrader_config.py"
LAB_PATTERN = re.compile(r"^lab\d\d$")


@dataclass
class Course:
    """A course directory laid out as nbgrader expects (source/, release/, submitted/, ...)."""

    root: pathlib.Path
    settings: Dlkit  # c.Dlkit.*, declared in dlkit.settings
    cell_timeout: float | None = None  # c.Execute.timeout: nbgrader's limit on one cell
    judge_on_host: bool = True  # c.Execute.judge_on_host
    exchange_root: str = "/srv/nbgrader/exchange"  # c.Exchange.root, as nbgrader's apps read it

    # the settings, by name (dlkit.settings declares them)
    notebook_timeout = property(lambda self: self.settings.notebook_timeout)
    lab_data = property(lambda self: self.settings.lab_data)
    host_data = property(lambda self: self.settings.host_data)
    sandbox_limits = property(lambda self: self.settings.sandbox_limits)
    lab_sandbox_limits = property(lambda self: self.settings.lab_sandbox_limits)

    def limits(self, lab: str) -> dict:
        """The sandbox limits of `lab`'s kernels: the course's, with what the lab declares."""
        return {**self.sandbox_limits, **self.lab_sandbox_limits.get(lab, {})}

    # nbgrader's layout of a course directory
    source = property(lambda self: self.root / "source")
    release = property(lambda self: self.root / "release")
    submitted = property(lambda self: self.root / "submitted")
    autograded = property(lambda self: self.root / "autograded")
    feedback = property(lambda self: self.root / "feedback")
    data = property(lambda self: self.root / "data")
    gradebook = property(lambda self: self.root / "gradebook.db")
    grades = property(lambda self: self.root / "grades")

    def labs(self) -> list[str]:
        """Every lab that has a source folder, in order."""
        if not self.source.is_dir():
            return []
        return sorted(p.name for p in self.source.iterdir() if p.is_dir() and LAB_PATTERN.match(p.name))

    def check_lab(self, lab: str) -> str:
        """Return `lab` if the course has it, else raise a DlkitError naming the labs it has."""
        if lab not in self.labs():
            known = ", ".join(self.labs()) or "none"
            raise DlkitError(f"no lab named {lab!r} in {self.source} (labs: {known})")
        return lab

    def source_notebook(self, lab: str) -> pathlib.Path:
        """The one instructor notebook of a lab."""
        notebooks = sorted((self.source / self.check_lab(lab)).glob("*.ipynb"))
        if len(notebooks) != 1:
            raise DlkitError(f"{self.source / lab} must hold exactly one notebook, found {len(notebooks)}")
        return notebooks[0]

    def data_files(self, lab: str) -> list[pathlib.Path]:
        """The data files a lab reads, as declared in `c.Dlkit.lab_data`."""
        files = [self.data / name for name in self.lab_data.get(lab, [])]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise DlkitError(f"{lab} declares data files that do not exist: {', '.join(missing)}")
        return files

    def students_guide(self) -> pathlib.Path | None:
        """Where the students' guide is (`c.Dlkit.students_guide`), which `dlkit release` puts
        beside each notebook; None when the course releases none."""
        return self.root / self.settings.students_guide if self.settings.students_guide else None

    def host_data_files(self, lab: str) -> list[pathlib.Path]:
        """The data files only the grader reads (`c.Dlkit.host_data`): never released, never
        copied into a grading kernel's folder while the judge runs the test cells on the host."""
        files = [self.data / name for name in self.host_data.get(lab, [])]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise DlkitError(f"{lab} declares host data files that do not exist: {', '.join(missing)}")
        shared = sorted(set(self.host_data.get(lab, [])) & set(self.lab_data.get(lab, [])))
        if shared:
            raise DlkitError(f"{lab}: {', '.join(shared)} is in both c.Dlkit.lab_data (released) and "
                             "c.Dlkit.host_data (the grader's only)")
        return files

    def kernel_data_files(self, lab: str) -> list[pathlib.Path]:
        """The data files a grading kernel gets: the lab's, and the grader's own only when the
        test cells run in the kernel (`c.Execute.judge_on_host = False`: no secret then)."""
        return self.data_files(lab) + ([] if self.judge_on_host else self.host_data_files(lab))


def find_root(start: os.PathLike | str | None = None) -> pathlib.Path:
    """The nearest directory at or above `start` (default: cwd) holding nbgrader_config.py."""
    here = pathlib.Path(start or os.getcwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).is_file() and (candidate / "source").is_dir():
            return candidate
    raise DlkitError(
        f"no course found: run dlkit inside the course repository "
        f"(a directory with {CONFIG_NAME} and source/), not in {here}"
    )


def load(root: os.PathLike | str | None = None) -> Course:
    """Load the course at `root` (found from the current directory when None)."""
    root = pathlib.Path(root).resolve() if root else find_root()
    if not (root / CONFIG_NAME).is_file():
        raise DlkitError(f"{root} has no {CONFIG_NAME}")
    config = read_config(root)
    return Course(
        root=root,
        settings=settings_mod.read(config, where=str(root / CONFIG_NAME)),
        cell_timeout=_number(config.get("Execute", {}).get("timeout")),
        judge_on_host=bool(config.get("Execute", {}).get("judge_on_host", True)),
        exchange_root=_exchange_root(config),
    )


def read_config(root: os.PathLike | str):
    """The course's nbgrader_config.py as a traitlets Config: the one loader of it, for dlkit's
    commands and for the nbgrader processes they start."""
    try:
        return PyFileConfigLoader(CONFIG_NAME, path=str(root)).load_config()
    except Exception as exc:  # a syntax error, a NameError: the course's config cannot run
        raise DlkitError(f"{pathlib.Path(root) / CONFIG_NAME} cannot be read: "
                         f"{type(exc).__name__}: {exc}") from None


def _exchange_root(course_config) -> str:
    """nbgrader's exchange, where students' submissions and feedback wait: the course's config,
    else the first global nbgrader_config.py that sets it (a hub sets it there:
    deploy/etc/jupyter/nbgrader_config.py), else nbgrader's default. The grading sandbox hides it."""
    from jupyter_core.paths import jupyter_config_path

    configs = [course_config] + [PyFileConfigLoader(CONFIG_NAME, path=folder).load_config()
                                 for folder in jupyter_config_path()
                                 if (pathlib.Path(folder) / CONFIG_NAME).is_file()]
    for config in configs:
        if "Exchange" in config and "root" in config.Exchange:
            return str(config.Exchange.root)
    return "/srv/nbgrader/exchange"


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value > 0 else None
