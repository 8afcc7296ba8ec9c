"""The hub's global nbgrader config, for every single-user server (students and instructors).

deploy/setup.sh installs it as <env>/etc/jupyter/nbgrader_config.py, where nbgrader's apps, the
assignment list and the Validate button find it (jupyter_config_path()). Students cannot read the
course's own nbgrader_config.py, so whatever Validate must know lives here. The hub passes the
deployment's paths in the environment (deploy/jupyterhub_config.py), so a test hub and a real
one never share an exchange.
"""
import os

from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)

c.CourseDirectory.course_id = os.environ.get("DLKIT_COURSE_ID", "dl-basics")
c.Exchange.root = os.environ.get("DLKIT_EXCHANGE", "/srv/dlkit/exchange")
# One exchange for several courses: each course's files under its id, and the assignment list
# shows only the courses of the groups nbgrader-<course> / formgrade-<course> the user is in.
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = JupyterHubAuthPlugin

# A submission whose notebook was renamed or deleted is refused at submit time, with nbgrader's
# message naming the notebook expected, rather than graded later as invalid_submission, which
# the student would learn only from the instructor.
c.ExchangeSubmit.strict = True

# Validate runs the notebook with these limits: the course's own (its nbgrader_config.py;
# tests/test_validate.py checks that they are the same), not nbgrader's 30 s default.
c.Execute.timeout = 180
c.Execute.startup_timeout = 120
