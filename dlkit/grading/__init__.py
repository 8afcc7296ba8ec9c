"""Class grading, `dlkit grade` and `dlkit report`: the submissions' checks, one Dask task per
submission, the one writer of the gradebook, the resume state, results and the report."""
