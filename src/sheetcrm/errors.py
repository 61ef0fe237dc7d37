"""One small exception tree, turned into clean messages at the edges (CLI, web)."""


class SheetCRMError(Exception):
    """Base of every error sheetcrm raises on purpose. ``hint`` says what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ConfigError(SheetCRMError):
    """A template or settings problem that stops a command before it starts."""


class BackendError(SheetCRMError):
    """The sheet cannot be read or written."""


class SheetUnreachableError(BackendError):
    """The sheet did not answer, or was too busy to (network, quota, Google's 5xx), after the
    retries: nothing said it refused the request, and telling it anything now would fail too."""


class SheetLockedError(BackendError):
    """The workbook is open in a spreadsheet program; writing now would clobber its edits."""


class UnsafeWorkbookError(BackendError):
    """The workbook holds content that saving would destroy (charts, images, pivot tables...)."""


class ImportFileError(SheetCRMError):
    """A file given to ``sheetcrm import`` cannot be read."""


class IntakeError(SheetCRMError):
    """A web-form post sheetcrm cannot take; ``status`` is the HTTP status to answer with
    (400 malformed, 401 bad signature, 413 too large, 415 wrong content type, 422 not a
    submission of that vendor)."""

    def __init__(self, status: int, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.status = status
