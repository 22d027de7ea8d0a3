"""A private Dovecot + SMTP submission pair on loopback (see server.py)."""

from app.sandbox.server import Sandbox, SandboxError, SandboxUser

__all__ = ["Sandbox", "SandboxError", "SandboxUser"]
