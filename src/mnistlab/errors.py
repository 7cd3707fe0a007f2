"""The one error type users see: the CLI prints it as a single line and exits 2."""


class UserError(Exception):
    """A problem the user can fix (bad option, bad file, unreachable data).

    The message must say what is wrong, where, and how to fix it, on one line.
    """
