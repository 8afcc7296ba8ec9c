"""The commands of instructors and TAs, one module each (`cli.py` is a thin layer over them):
`release`, `try` (tryout), `flake`, `demo`, `otter`. `grade` and `report` are class grading
(dlkit.grading)."""
