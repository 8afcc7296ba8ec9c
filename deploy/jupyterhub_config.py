"""The course's JupyterHub: real system accounts, one single-user server each, nbgrader's groups.

Run as root by deploy/hub.py (`make hub`), or by a department's service with the same
environment variables (docs/hub.md). Everything that differs between a real deployment and a
test hub comes from the environment, so a test hub never touches a real one's ports, accounts or
exchange:

    DLKIT_ENV            the environment deploy/setup.sh built (default /opt/dlkit)
    DLKIT_HUB_STATE      folder for the hub's database, cookie secret and proxy token
    DLKIT_HUB_IP/PORT    the public address (default 127.0.0.1:8000)
    DLKIT_HUB_API_PORT   the hub's own API port (default 8081)
    DLKIT_PROXY_API_PORT the proxy's API port (default 8001)
    DLKIT_COURSE_ID      the nbgrader course (default dl-basics)
    DLKIT_EXCHANGE       nbgrader's exchange root (default /srv/dlkit/exchange)
    DLKIT_INSTRUCTORS    instructors' account names, comma-separated (group formgrade-<course>)
    DLKIT_STUDENTS       students' account names, comma-separated (group nbgrader-<course>)
    DLKIT_OTHERS         accounts that may log in but are in no course (optional)
    DLKIT_HUB_PASSWORD   set: DummyAuthenticator with this one password (test and try-out hubs,
                         on loopback only); unset: PAM, the system accounts' own passwords
"""
import os

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)


def _names(variable):
    return [n for n in os.environ.get(variable, "").split(",") if n]


env_dir = os.environ.get("DLKIT_ENV", "/opt/dlkit")
state = os.environ.get("DLKIT_HUB_STATE", "/var/lib/dlkit-hub")
course = os.environ.get("DLKIT_COURSE_ID", "dl-basics")
instructors, students, others = _names("DLKIT_INSTRUCTORS"), _names("DLKIT_STUDENTS"), _names("DLKIT_OTHERS")

# --- Where it listens: loopback unless a department puts a TLS proxy in front (docs/hub.md) -----
c.JupyterHub.ip = os.environ.get("DLKIT_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("DLKIT_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("DLKIT_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(os.environ.get('DLKIT_PROXY_API_PORT', '8001'))}"
c.ConfigurableHTTPProxy.command = [f"{env_dir}/bin/configurable-http-proxy"]
c.ConfigurableHTTPProxy.pid_file = f"{state}/proxy.pid"
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{state}/jupyterhub.pid"

# --- Who logs in ------------------------------------------------------------------------------
if os.environ.get("DLKIT_HUB_PASSWORD"):
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ["DLKIT_HUB_PASSWORD"]
else:
    c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(instructors + students + others)
c.Authenticator.admin_users = set(instructors)
# nbgrader's identity is the OS user: the groups say which course each account sees
# (nbgrader.auth.JupyterHubAuthPlugin, in deploy/etc/jupyter/nbgrader_config.py).
c.JupyterHub.load_groups = {
    f"nbgrader-{course}": {"users": students + instructors},
    f"formgrade-{course}": {"users": instructors},
}

# --- Their servers: each one a process of its own account, from the course's environment --------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [f"{env_dir}/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    "DLKIT_COURSE_ID": course,
    "DLKIT_EXCHANGE": os.environ.get("DLKIT_EXCHANGE", "/srv/dlkit/exchange"),
    "PATH": f"{env_dir}/bin:/usr/local/bin:/usr/bin:/bin",
}
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
# A student's server that sits idle is stopped by nothing here: a department adds
# jupyterhub-idle-culler as a service (docs/hub.md).
