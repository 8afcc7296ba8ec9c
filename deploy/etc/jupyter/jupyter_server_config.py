"""Every single-user server of the hub's environment (deploy/setup.sh installs it in <env>/etc/jupyter).

formgrader opens inside JupyterLab, in an iframe of the same origin: the pages may be framed by
the same origin and by nothing else (nbgrader #1870).
"""
c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)

c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
# No "would you like to receive news" prompt, no update check: the servers have no network.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
