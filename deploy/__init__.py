"""Deployment: the process launcher for `make up` (supervisord), the compose file and the upstream sandbox."""
