"""Use cases, one transaction each: what maild does with a mail, a tick of the clock or a command.

The decision is made in ``maild.core`` (pure); these modules read what it needs and apply it."""
