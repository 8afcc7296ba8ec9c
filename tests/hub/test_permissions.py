"""Nobody on the hub reads what is not theirs: students are local accounts with unsandboxed
servers on the grading host, so the file system's permissions are the wall. Each test tries, as
a student's account, what a curious student would try from a terminal in JupyterLab."""
from __future__ import annotations

import pwd

import pytest

from hub.hubtools import as_user


def _cannot(hub, user, *cmd):
    proc = as_user(hub, user, *cmd, check=False)
    assert proc.returncode != 0, f"{user} could run {cmd}: {proc.stdout[:500]}"
    return proc.stderr


def test_accounts_have_locked_passwords_and_private_homes(hub):
    shadow = dict(line.split(":")[:2] for line in open("/etc/shadow").read().splitlines())
    for name in hub.accounts:
        assert shadow[name].startswith("!"), f"{name} has a usable password"
        mode = __import__("os").stat(pwd.getpwnam(name).pw_dir).st_mode & 0o777
        assert mode == 0o700, f"{name}'s home is {oct(mode)}"


@pytest.mark.parametrize("what", ["course", "course/source", "course/gradebook.db", "course/nbgrader_config.py",
                                  "course/.dlkit"])
def test_a_student_cannot_read_the_course(hub, what):
    student = hub.student_names[0]
    target = hub.course_dir().parent / what
    _cannot(hub, student, "ls", str(target))
    _cannot(hub, student, "cat", str(target))


def test_a_student_cannot_read_another_students_home(hub):
    a, b = hub.student_names[:2]
    _cannot(hub, a, "ls", pwd.getpwnam(b).pw_dir)


def test_a_student_cannot_find_the_submissions_in_the_exchange(hub):
    """nbgrader's exchange is one folder for all: inbound/ can be written into and not listed,
    and each submission's folder name ends with a random part. A submission is readable by
    anyone who knows its name (nbgrader makes it so, for the instructor's collect); nobody
    else can learn the name (docs/hub.md, "What students can see")."""
    a, b = hub.student_names[:2]
    inbound = hub.exchange / hub.course_id / "inbound"
    assert inbound.is_dir(), "release_assignment made the course's exchange"
    as_user(hub, b, "nbgrader", "fetch_assignment", "lab01")
    as_user(hub, b, "nbgrader", "submit", "lab01")
    [submission] = [p for p in inbound.iterdir() if p.name.startswith(f"{b}+lab01+")]
    assert len(submission.name.rsplit("+", 1)[-1]) >= 12, f"{submission.name}: no random part to its name"
    _cannot(hub, a, "ls", str(inbound))
    _cannot(hub, a, "find", str(hub.exchange / hub.course_id), "-name", "*.ipynb", "-path", "*inbound*")
    listing = as_user(hub, a, "nbgrader", "list", "--inbound", check=False)
    assert b not in listing.stdout + listing.stderr, "nbgrader list --inbound shows another student's submission"


def test_the_grading_sandbox_hides_the_exchange_from_student_code(hub):
    """A kernel started by the instructor's `dlkit grade` (the sandbox's own arguments, with what
    grade hides: the course and the exchange root nbgrader's config names) looks for the exchange."""
    probe = (f"import os; print('EXCHANGE-SEEN' if os.path.exists({str(hub.exchange)!r} + '/{hub.course_id}') "
             "else 'EXCHANGE-HIDDEN')")
    runner = ("import pathlib, subprocess, sys\n"
              "from dlkit import course, sandbox\n"
              "c = course.load(sys.argv[1])\n"
              "assert c.exchange_root == sys.argv[3], (c.exchange_root, sys.argv[3])\n"
              "args = sandbox.bwrap_args(workdir=pathlib.Path(sys.argv[2]), hide=[str(c.root), c.exchange_root], env={})\n"
              "p = subprocess.run(args + ['python3', '-c', sys.argv[4]], capture_output=True, text=True)\n"
              "print(p.stdout, p.stderr)\n")
    # not /tmp: it is not world-writable on every machine (mktemp -p ~)
    work = as_user(hub, hub.instructor, "mktemp", "-d", "-p", pwd.getpwnam(hub.instructor).pw_dir).stdout.strip()
    seen = as_user(hub, hub.instructor, "python", "-c", probe).stdout
    assert "EXCHANGE-SEEN" in seen, "outside the sandbox the instructor sees the exchange"
    got = as_user(hub, hub.instructor, "python", "-c", runner, str(hub.course_dir()), work,
                  str(hub.exchange), probe).stdout
    assert "EXCHANGE-HIDDEN" in got, got
