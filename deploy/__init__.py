"""Deployment: the process launcher for `make up`, Procfiles, compose file and the upstream sandbox."""
