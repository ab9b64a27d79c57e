"""The services: each a Flask app with its own database; they talk over HTTP only."""
