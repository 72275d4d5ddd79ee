"""What the client returns: plain dataclasses, the same in both modes."""
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class ExecResult:
    """The result of execute() or run_code().

    `output` is what the command wrote, stdout and stderr together.  In
    server mode Daytona's API carries only that combined text: `stdout` is
    then the same text and `stderr` is None.  In CLI mode `stdout` and
    `stderr` are separate and `output` is stdout followed by stderr.
    """

    exit_code: int
    output: str
    stdout: str
    stderr: Optional[str] = None
    charts: List[dict] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self):
        return self.exit_code == 0


@dataclass
class InterpResult:
    """The result of Context.run(): what the run printed, each stream on
    its own; `error` is {"name", "value", "traceback"} when the code
    raised; `charts` the matplotlib figures it made, as run_code's."""

    stdout: str
    stderr: str
    error: Optional[dict] = None
    charts: List[dict] = field(default_factory=list)

    @property
    def ok(self):
        return self.error is None


@dataclass
class FileInfo:
    name: str
    path: str
    is_dir: bool
    size: int
    mode: int  # permission bits, e.g. 0o644
    mtime: Optional[float] = None  # seconds since the epoch
    owner: Optional[str] = None
    group: Optional[str] = None


@dataclass
class GitFileStatus:
    name: str
    staging: str  # Unmodified, Untracked, Modified, Added, Deleted, Renamed, Copied, ...
    worktree: str
    extra: str = ""  # the source of a rename or copy


@dataclass
class GitStatus:
    current_branch: str
    files: List[GitFileStatus]
    ahead: int = 0
    behind: int = 0
    upstream: Optional[str] = None
    detached: bool = False


@dataclass
class GitBranches:
    branches: List[str]
    current: Optional[str] = None
