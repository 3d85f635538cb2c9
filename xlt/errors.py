"""Errors a user can act on: the CLI prints their message alone, without a stack trace."""


class XltError(Exception):
    """Base class: the message names the problem and the fix."""


class ConfigError(XltError):
    """A config key, value or combination that cannot work."""


class DataError(XltError):
    """A dataset file, column, label or language problem."""


class HubUnavailableError(XltError):
    """A hub-backed model or dataset was asked for while the hub cannot be reached."""


class TrackingError(XltError):
    """The MLflow tracking store cannot be used."""
