"""grades/.state/LAB.json: what `dlkit grade` remembers between runs, so that a rerun regrades
only what changed and an interrupted batch resumes."""
from __future__ import annotations

import hashlib
import json
import os
import threading

from dlkit import course as course_mod
from dlkit.grading import dispatch
from dlkit.results import Status


class State:
    """grades/.state/LAB.json: per student, the sha256 of the graded files and the result.

    Written after each result (atomically), so that an interrupted batch resumes. Everything in
    it holds for one `key`: the lab's source notebook, the course config, nbgrader's version and
    the lab's due date and extensions (`deadline`); when any changes, every result is stale. A
    result is current when the submission's files are those it was graded from, it was not a
    `grading_error` (a failure of the grading machinery, always retried), and the gradebook (and
    autograded/, when graded) still hold it.
    It also remembers that the gradebook was generated from this key, and keeps the template
    gradebook (grades/.state/LAB.gradebook.db), so that a rerun generates nothing.
    """

    def __init__(self, course, lab: str, *, deadline: dict | None = None):
        from importlib.metadata import version

        self.course, self.lab = course, lab
        self._lock = threading.Lock()
        self.path = course.grades / ".state" / f"{lab}.json"
        self.template_path = self.path.with_suffix(".gradebook.db")
        key = hashlib.sha256(course.source_notebook(lab).read_bytes())
        key.update((course.root / course_mod.CONFIG_NAME).read_bytes())
        key.update(version("nbgrader").encode())
        key.update(json.dumps(deadline or {}, sort_keys=True).encode())
        self.key = key.hexdigest()
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):  # not a file this class wrote: grade everything again
            data = {}
        fresh = data.get("key") == self.key
        self.students = data.get("students", {}) if fresh else {}
        self.was_generated = fresh and data.get("generated", False)
        self.has_template = fresh and data.get("template", False) and self.template_path.is_file()

    def current(self, students: list[str]) -> dict[str, dict]:
        """{student: recorded result} of the students whose recorded result is still current."""
        candidates = {}
        for student in students:
            entry = self.students.get(student)
            if not entry or entry["result"].get("status") == Status.GRADING_ERROR:
                continue
            folder = self.course.submitted / student / self.lab
            if entry.get("sha256") != dispatch.folder_sha256(folder):
                continue
            if entry["result"]["status"] in (Status.GRADED, Status.KERNEL_DIED) and not any(
                    (self.course.autograded / student / self.lab).glob("*.ipynb")):
                continue
            candidates[student] = entry["result"]
        if not candidates:
            return {}
        from dlkit.grading.writer import Writer
        with Writer(self.course, self.lab) as writer:
            return {s: r for s, r in candidates.items() if writer.has_submission(s)}

    def remember_generated(self) -> None:
        self.was_generated = True
        self._save()

    def template(self) -> bytes | None:
        return self.template_path.read_bytes() if self.has_template else None

    def keep_template(self, template: bytes) -> bytes:
        self.template_path.parent.mkdir(parents=True, exist_ok=True)
        self.template_path.write_bytes(template)
        self.has_template = True
        self._save()
        return template

    def remember(self, student: str, sha256: str | None, result: dict) -> None:
        self.students[student] = {"sha256": sha256, "result": result}
        self._save()

    def forget(self, student: str) -> None:
        if self.students.pop(student, None) is not None:
            self._save()

    def _save(self) -> None:
        # the generate thread and the client's thread both save (remember_generated, keep_template)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"lab": self.lab, "key": self.key,
                                       "generated": self.was_generated,
                                       "template": self.has_template, "students": self.students},
                                      indent=1))
            os.replace(tmp, self.path)
