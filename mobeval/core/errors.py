"""Errors a user can act on. The CLI prints them without a traceback."""


class MobevalError(Exception):
    """Base class for errors that carry a message meant for the user."""


class DataError(MobevalError):
    """Malformed or missing benchmark input; the message names the file and row."""


class ModelNotAvailable(MobevalError):
    """A model alias whose file is not on this machine and cannot be fetched."""


class RunnerError(MobevalError):
    """A runtime that cannot be loaded or cannot score a request."""
