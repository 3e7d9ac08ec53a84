"""maild: an email-driven IT helpdesk daemon."""

# The one place the version is written: pyproject.toml reads it from here (setuptools'
# dynamic version), so no command pays for importlib.metadata at start.
__version__ = "0.1.0"
