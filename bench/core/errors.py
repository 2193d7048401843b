"""The error types. Only the CLI's top level catches broadly; everything else raises these."""


class TierbenchError(Exception):
    """Base of every error tierbench raises on purpose."""


class UserError(TierbenchError):
    """Bad config, arguments, paths or input files: one clear line, exit code 2, no traceback."""


class CaseError(TierbenchError):
    """A measured case failed (tool killed, ENOSPC, timeout): the case records it, the run goes on."""


class StoreError(TierbenchError):
    """The results store could not be written (disk full, read-only, permission, folder removed): the run stops
    with one line naming the store and the error, exit code 1; what was already written stays readable."""
