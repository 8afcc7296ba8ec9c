"""The course, as nbgrader and dlkit read it.

The course root is the directory nbgrader is run from (this repository, or a scratch copy of it
that `dlkit try` makes), so no path below is absolute.
"""
c = get_config()  # noqa: F821 (injected by traitlets)

c.CourseDirectory.course_id = "dl-basics"
# Never copied from source/ into release/: editor debris and anything marked instructor-only.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "instructor_*", "*.bak",
]

# --- Execution budgets -----------------------------------------------------------------------
# nbgrader's default is 30 s per cell; a keras training cell on a 2-core CPU server can take a
# minute, so each cell gets 180 s. A kernel that needs more than 120 s to start is broken.
c.Execute.timeout = 180
c.Execute.startup_timeout = 120
# dlkit kills a whole submission's autograding past this many seconds (dlkit reads it from
# here): the per-notebook budget, generous for a CPU (every solution runs in under 60-90 s).
c.Dlkit.notebook_timeout = 900

# --- The sandbox each submission's kernel runs in (dlkit.plugins.sandbox; needs bubblewrap) ---
# No network, no view of the course, the gradebook, nbgrader's exchange, other submissions or
# the grader's home; one writable folder (the submission's private copy). Per kernel: address
# space (off on GPU hosts), tasks = processes + threads of the sandbox user, CPU seconds per
# process, size of one file.
c.Dlkit.sandbox_limits = {
    "memory_gib": 4,
    "tasks": 512,
    "cpu_seconds": 1800,
    "file_size_mib": 512,
    "open_files": 1024,
}
# A lab that needs more declares it here, e.g. {"lab06": {"memory_gib": 6}}.
c.Dlkit.lab_sandbox_limits = {}

# --- Grading rule: only errors cost points ----------------------------------------------------
# nbgrader gives 0 to a test cell that wrote anything to stderr. TensorFlow and keras log there
# (keras 3 warns on the notes' own `InputLayer(input_shape=...)`) and numpy warns on overflow in
# a correct `1 / (1 + np.exp(-x))`. IgnorePattern runs right after Execute and drops every
# stderr stream from the graded copy, so a test cell scores on whether its checks raised: a
# failing check is an `error` output, which this pattern never touches.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s).*"

# --- Grading rule: every graded cell once --------------------------------------------------
# Each graded cell of the source is graded exactly once, whatever the submission did to the
# notebook's structure (a duplicated, deleted, retyped or stripped test cell): nbgrader's
# sanitizing steps in its order, with DeduplicateIds and OverwriteCells replaced by dlkit's
# (dlkit/plugins/integrity.py; nbgrader alone fails a notebook with a duplicated cell and leaves a
# deleted test cell "needs manual grade").
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "dlkit.plugins.integrity.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "dlkit.plugins.integrity.RestoreGradedCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# --- Grading rule: the verdict is computed on the host ---------------------------------------
# dlkit's Execute runs every test cell in the judge, a process of dlkit's on the host, and only
# the student's functions in their kernel (dlkit/verdict/judge.py, dlkit/verdict/hosted.py, docs/security.md):
# nothing the student's code does in its kernel can show a pass that the checks, run on the host,
# did not give. RecordVerdicts (right before SaveAutoGrades) makes each test cell's outputs say
# exactly that verdict. `c.Execute.judge_on_host = False` runs test cells in the kernel, as plain
# nbgrader does. AddRunMarks/CheckRunMarks still record, per test cell, a mark displayed by the
# kernel with what notebook code replaced there (a flag for review, never a score). Cells a lab
# tags `dlkit:not-graded` (plots, demonstrations that no answer reads) are blanked while the
# notebook runs (dlkit/plugins/skip.py). The rest is nbgrader's default list, in its order.
c.Autograde.autograde_preprocessors = [
    "dlkit.plugins.skip.SkipTaggedCells",  # demonstration cells (tag dlkit:not-graded) are not run
    "dlkit.plugins.integrity.AddRunMarks",
    "dlkit.plugins.integrity.Execute",  # nbgrader's, which also records a dead kernel at its cell
    "dlkit.plugins.integrity.CheckRunMarks",
    "dlkit.plugins.skip.RestoreTaggedCells",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "dlkit.plugins.outputs.CapOutputBytes",  # LimitOutput counts lines; one line can be 100 MB
    "dlkit.plugins.integrity.RecordVerdicts",  # the judge's verdicts, whatever the steps above did
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Late submissions follow nbgrader's own policy (AssignLatePenalties, in the list above). The due
# date and each student's extension are the gradebook's: `nbgrader db assignment add LAB
# --duedate="2027-01-15 23:59 Europe/Paris"`, or formgrader's "Manage Assignments". "none" records
# how late a submission is and takes nothing; "zero" takes its whole score. grades/LAB.csv and the
# report show both (seconds_late, late_penalty).
c.LateSubmissionPlugin.penalty_method = "none"

# Stored output is capped so that a print flood cannot bloat the autograded notebook: in lines
# (nbgrader's LimitOutput) and in bytes (dlkit's CapOutputBytes, in the list above).
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100
c.CapOutputBytes.max_bytes = 100_000          # per text field of an output (dlkit/plugins/outputs.py)
c.CapOutputBytes.max_image_bytes = 2_000_000  # per image; a plot is about 30-60 kB

# --- Data each lab reads (copied next to the notebook when released) --------------------------
c.Dlkit.lab_data = {
    "lab01": ["boston.csv"],
    "lab02": ["iris.csv", "boston.csv"],
    "lab03": [],
    "lab04": ["boston.csv", "iris.csv"],
    "lab05": ["iris.csv"],
    "lab06": ["trace.npz", "mnist_5k.npz", "fashion_mnist_5k.npz", "flower.jpg"],
}
# Data only the grader has: the held-out halves of the test sets on which lab06's trained models
# are measured (data/scripts/split_heldout.py). Never released, never in a grading kernel's
# folder: the judge reads them on the host (with judge_on_host = False, the kernel gets them).
c.Dlkit.host_data = {
    "lab06": ["trace_heldout.npz", "mnist_heldout.npz"],
}

# --- Feedback: each test's outcome and message, never the hidden tests' code ------------------
# nbgrader renders the autograded notebook, hidden tests included (nbgrader #917, by design).
# HideHiddenTests (dlkit/plugins/feedback.py) replaces each hidden region by one comment line and drops
# the traceback frames that point into a test cell (IPython quotes the failing line and its
# neighbours); the exception's name and message stay. It must come after GetGrades (which reads
# the scores by cell) and before CSSHTMLHeaderPreprocessor; nbgrader's own ClearHiddenTests
# would strip the source but leave the tracebacks.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "dlkit.plugins.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
