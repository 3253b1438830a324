"""Engine errors. Each class carries the HTTP status the API answers with, as moby's errdefs do."""
from __future__ import annotations

import errno

# errno values a path the client named can cause (a file used as a directory, a name too
# long, a link loop): a 400, where any other failure of the system call is the daemon's 500.
PATH_ERRNOS = frozenset({errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL})


class DockyardError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(DockyardError):
    status = 400


class NotFound(DockyardError):
    status = 404


class Conflict(DockyardError):
    status = 409


class Unauthorized(DockyardError):
    status = 401


class Forbidden(DockyardError):
    status = 403


class NotModified(DockyardError):
    status = 304


class SystemError_(DockyardError):
    status = 500


class NotImplemented_(DockyardError):
    status = 501


class Unavailable(DockyardError):
    status = 503


def no_such_container(ref: str) -> NotFound:
    return NotFound(f"No such container: {ref}")


def no_such_image(ref: str) -> NotFound:
    return NotFound(f"No such image: {ref}")
