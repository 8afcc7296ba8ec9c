"""nbgrader plugins, named by dotted path in a course's `nbgrader_config.py`: preprocessors
(integrity, skip, feedback, outputs) and the sandboxed kernel manager (sandbox). They run inside
nbgrader, in the engine's child process."""
