"""maild: an email-driven IT helpdesk daemon."""

__version__ = "0.1.0"
