"""The exceptions of the islet client: one base class, one subclass per
kind of failure, the same in both modes (isletd's HTTP API and the CLI)."""


class IsletError(Exception):
    """Any failure of islet.  `status` is the HTTP status (server mode, or
    the equivalent one in CLI mode), `code` the server's error code or the
    CLI's error kind."""

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self):
        return self.message


class BadRequestError(IsletError):
    """The request was refused as invalid (400)."""


class AuthError(IsletError):
    """The API key is missing, wrong or revoked (401), or not allowed (403)."""


class NotFoundError(IsletError):
    """No such sandbox, file or repository (404)."""


class ExecTimeout(IsletError, TimeoutError):
    """A command ran past its timeout and was killed (408)."""


class ConflictError(IsletError):
    """The operation conflicts with the current state (409): a name taken,
    a directory not empty, a sandbox in the wrong state."""


class LimitError(IsletError):
    """A limit was reached (413: too large; 429: a sandbox limit)."""


class GitError(IsletError):
    """git failed inside the sandbox (its own reason in the message)."""


class IsletConnectionError(IsletError):
    """isletd cannot be reached, or the islet CLI cannot be run."""


_BY_STATUS = {
    400: BadRequestError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    408: ExecTimeout,
    409: ConflictError,
    413: LimitError,
    429: LimitError,
}

# the CLI's error kinds ({"error":{"kind":...}}), as HTTP statuses
_KIND_STATUS = {"invalid": 400, "not_found": 404, "conflict": 409, "limit": 429}


def error_for(status, message, code=None):
    """The exception for an HTTP status and the server's error code."""
    if code and code.startswith("GIT_") and code != "GIT_REPO_NOT_FOUND":
        return GitError(message, status, code)
    if code == "LIMIT_EXCEEDED":
        return LimitError(message, status, code)
    return _BY_STATUS.get(status, IsletError)(message, status, code)


def error_for_kind(kind, message):
    """The exception for an error of the CLI (`kind` as in its JSON)."""
    status = _KIND_STATUS.get(kind, 500)
    return _BY_STATUS.get(status, IsletError)(message, status, kind)
