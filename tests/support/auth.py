"""The service token every suite's apps and processes are started with, and its header."""
from __future__ import annotations

SERVICE_TOKEN = "test-service-token"
AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
