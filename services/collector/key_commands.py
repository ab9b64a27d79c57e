"""API key commands: `flask --app services.collector keys create|list|revoke|ensure-file`."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from services.collector import api_keys


@click.group("keys", cls=AppGroup)
def keys_cli():
    """The collector's API keys (roles: viewer, operator, admin)."""


@keys_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(api_keys.ROLES), default=api_keys.VIEWER, show_default=True)
def create(name, role):
    """Create a key; it is printed once, and only its hash is kept."""
    try:
        row, key = api_keys.create_key(name, role)
    except api_keys.KeyRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created key {row.name!r} (#{row.id}, {row.role}); it is shown only now:", err=True)
    click.echo(key)


@keys_cli.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
def list_(include_revoked):
    """Keys with their role and when they were created, last used and revoked (never the keys themselves)."""
    click.echo(f"{'id':>4}  {'name':<30} {'role':<9} {'created_at':<25} {'last_used_at':<25} revoked_at")
    for row in api_keys.list_keys(include_revoked):
        click.echo(f"{row.id:>4}  {row.name:<30} {row.role:<9} {_at(row.created_at):<25} "
                   f"{_at(row.last_used_at):<25} {_at(row.revoked_at)}")


@keys_cli.command("revoke")
@click.argument("name_or_id")
def revoke(name_or_id):
    """Revoke the active key with this name (or id): it is refused from the next request on."""
    try:
        row = api_keys.revoke_key(name_or_id)
    except api_keys.KeyRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked key {row.name!r} (#{row.id}, {row.role})")


@keys_cli.command("ensure-file")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default="make-up", show_default=True)
@click.option("--role", type=click.Choice(api_keys.ROLES), default=api_keys.OPERATOR, show_default=True)
def ensure_file(path, name, role):
    """Write a new key into PATH (mode 600) unless it already holds an active one (`make up` calls this)."""
    created = api_keys.ensure_key_file(path, name, role)
    click.echo(f"{'created' if created else 'kept'} {role} key {name!r} in {path}")


def _at(value) -> str:
    return value.isoformat(timespec="seconds") if value else "-"
