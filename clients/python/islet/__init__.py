"""islet: run untrusted code in islet sandboxes, from Python.

    from islet import Islet
    with Islet().create_sandbox(language="python") as sb:
        print(sb.run_code("print(6 * 7)").output)

Standard library only.  Server mode (isletd) when a URL is given or
ISLET_URL is set, else the local islet CLI.
"""
__version__ = "0.1.0"

from .client import Context, Islet, Sandbox  # noqa: E402
from .errors import (  # noqa: E402
    AuthError,
    BadRequestError,
    ConflictError,
    ExecTimeout,
    GitError,
    IsletConnectionError,
    IsletError,
    LimitError,
    NotFoundError,
)
from .types import (  # noqa: E402
    ExecResult,
    FileInfo,
    GitBranches,
    GitFileStatus,
    GitStatus,
    InterpResult,
)

__all__ = [
    "Islet", "Sandbox", "Context", "ExecResult", "InterpResult", "FileInfo", "GitBranches",
    "GitFileStatus", "GitStatus",
    "IsletError", "AuthError", "BadRequestError", "ConflictError", "ExecTimeout", "GitError",
    "IsletConnectionError", "LimitError", "NotFoundError",
]
