"""The verdict on the host: the judge that runs a notebook's test cells outside the student's
kernel (judge, and hosted, its side in the graded run), and the static scan of answers."""
