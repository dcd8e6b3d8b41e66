"""vtc's errors as Python exceptions: one class per enum vtc_status, each
carrying the library's "what: why" text and the status."""
from . import _ffi


class VtcError(Exception):
    """A vtc call failed. str(e) is vtc's message (vtc_ctx_error / vtc_last_error);
    e.status the negative enum vtc_status; e.status_name its short name."""
    status = _ffi.VTC_ERR_INTERNAL

    @property
    def status_name(self):
        return status_str(self.status)


class ArgumentError(VtcError, ValueError):
    """VTC_ERR_ARG: a bad argument (unknown method, parameter out of range, wrong shape or dtype)."""
    status = _ffi.VTC_ERR_ARG


class FileIOError(VtcError, OSError):
    """VTC_ERR_IO: a file could not be opened, read or written."""
    status = _ffi.VTC_ERR_IO


class FormatError(VtcError, ValueError):
    """VTC_ERR_FORMAT: malformed, truncated or inconsistent input."""
    status = _ffi.VTC_ERR_FORMAT


class UnsupportedError(VtcError):
    """VTC_ERR_UNSUPPORTED: valid input that vtc does not handle."""
    status = _ffi.VTC_ERR_UNSUPPORTED


class NoMemoryError(VtcError, MemoryError):
    """VTC_ERR_NOMEM: an allocation failed."""
    status = _ffi.VTC_ERR_NOMEM


class LimitError(VtcError):
    """VTC_ERR_LIMIT: the input exceeds a configured limit (pixels, frames, tokens, memory)."""
    status = _ffi.VTC_ERR_LIMIT


class InternalError(VtcError):
    """VTC_ERR_INTERNAL: a bug in vtc."""
    status = _ffi.VTC_ERR_INTERNAL


class NeedsError(VtcError):
    """VTC_ERR_NEEDS: the input lacks what the method needs (a tensor, enough tokens or frames)."""
    status = _ffi.VTC_ERR_NEEDS


_BY_STATUS = {c.status: c for c in (ArgumentError, FileIOError, FormatError, UnsupportedError, NoMemoryError,
                                    LimitError, InternalError, NeedsError)}


def status_str(status):
    """vtc_status_str: the short name of a status ("invalid argument", ...)."""
    return _ffi.text(_ffi.lib.vtc_status_str(int(status)))


def error(status, ctx=None):
    """The exception for a failed call: its text from vtc_ctx_error(ctx) when the
    call took a context, else vtc_last_error() (the calling thread's)."""
    msg = _ffi.text(_ffi.lib.vtc_ctx_error(ctx) if ctx else _ffi.lib.vtc_last_error())
    if status == _ffi.VTC_OK:  # a constructor returned NULL without a status: should not happen
        status = _ffi.VTC_ERR_INTERNAL
    cls = _BY_STATUS.get(status, VtcError)
    e = cls(msg or status_str(status))
    e.status = status
    return e


def check(status, ctx=None):
    if status:
        raise error(status, ctx)


def last():
    """The exception for a constructor that returned NULL (vtc_last_status)."""
    return error(_ffi.lib.vtc_last_status())
