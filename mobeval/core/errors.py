"""Errors a user can act on. The CLI prints them without a traceback."""


def did_you_mean(name: str, known) -> str:
    """"; did you mean X?" for the closest known name, or ""."""
    from difflib import get_close_matches

    close = get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


class MobevalError(Exception):
    """Base class for errors that carry a message meant for the user. The command line exits with
    `exit_code`: 2 for what the user asked (a flag, a setting, a name), 1 for a run that failed on its data,
    model or runtime (the subclasses below); 130 when interrupted, 143 when terminated."""

    exit_code = 2


class DataError(MobevalError):
    """Malformed or missing benchmark input; the message names the file and row."""

    exit_code = 1


class ModelNotAvailable(MobevalError):
    """A model alias whose file is not on this machine and cannot be fetched."""

    exit_code = 1


class RunnerError(MobevalError):
    """A runtime that cannot be loaded or cannot score a request."""

    exit_code = 1
