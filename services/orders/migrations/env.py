"""Alembic environment: the one every service shares (shared/migrations_env.py)."""
from shared.migrations_env import run_migrations

run_migrations()
