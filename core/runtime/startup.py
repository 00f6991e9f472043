"""What the production entry points (``rekindle api``, ``rekindle worker``) refuse to start
without, as they refuse to start without payload-encryption keys.

The development defaults of the secrets are public (they are in this repository), so a
deployment that forgot to set them would accept forged ops sessions and unsubscribe links, and
its suppression list (stored only as keyed hashes) could be checked against guessed addresses.
The postal address is the law (CAN-SPAM) for every commercial email. ``rekindle up`` (the dev
stack) generates its own secrets and uses a placeholder address, and never runs this check.
"""

from __future__ import annotations

from core.runtime.settings import Settings

MIN_SECRET_CHARS = 32
DEV_SECRETS = {
    "dev-unsubscribe-secret-change-me",
    "dev-session-secret-change-me",
    "dev-suppression-hash-secret-change-me",
}


class UnsafeSettings(Exception):
    """Settings the service must not run with; the message names the variables, never values."""


def production_problems(settings: Settings) -> list[str]:
    """Each problem names the environment variable to set."""
    problems = []
    security = settings.security
    for name, secret in (
        ("SESSION_SECRET", security.session_secret),
        ("UNSUBSCRIBE_SECRET", security.unsubscribe_secret),
        ("SUPPRESSION_HASH_SECRET", security.suppression_hash_secret),
    ):
        value = secret.get_secret_value()
        variable = f"REKINDLE_SECURITY__{name}"
        if value in DEV_SECRETS or value == "change-me":
            problems.append(f"{variable} is the development default; set a random value")
        elif len(value) < MIN_SECRET_CHARS:
            problems.append(f"{variable} is shorter than {MIN_SECRET_CHARS} characters")
    dkim_key = settings.smtp.dkim_private_key
    if dkim_key is not None and not _signs(dkim_key.get_secret_value()):
        # Else every approved email would fail to sign at send time (and be cancelled).
        problems.append("REKINDLE_SMTP__DKIM_PRIVATE_KEY is not a usable PEM private key")
    if not (settings.smtp.postal_address or "").strip():
        problems.append(
            "REKINDLE_SMTP__POSTAL_ADDRESS is required: every email carries the sender's postal address"
        )
    return problems


def _signs(pem: str) -> bool:
    """Whether ``pem`` DKIM-signs a message (RSA or Ed25519, as dkimpy reads it)."""
    import dkim

    try:
        dkim.sign(b"From: a@example.org\r\nSubject: t\r\n\r\nt\r\n", b"s", b"example.org", pem.encode())
    except (dkim.DKIMException, ValueError):
        return False
    return True


def require_production_settings(settings: Settings) -> None:
    """Raise ``UnsafeSettings`` listing every problem (see ``.env.example``)."""
    problems = production_problems(settings)
    if problems:
        raise UnsafeSettings("refusing to start: " + "; ".join(problems) + " (see .env.example)")
