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


class Requeued(BaseException):  # noqa: N818  (an outcome, like SystemExit, not an error)
    """This attempt ended because SLURM requeued the job; the next attempt continues the run.
    A BaseException, like SystemExit: no `except Exception` may turn it into a failed trial."""

    def __init__(self, step: int, signal_name: str) -> None:
        super().__init__(f"{signal_name}: checkpoint at step {step} written, job requeued")
        self.step, self.signal_name = step, signal_name
