"""Clients for external upstream APIs, used by the services that pull from them."""
