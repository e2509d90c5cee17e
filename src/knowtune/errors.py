"""The one exception type for user mistakes.

The CLI prints a `UserError` as a single line and exits with code 2; anything else is a bug
and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input (file, config, path), reported without a traceback."""


def missing_extra(package: str, extra: str) -> UserError:
    return UserError(f"{package} is not installed; install it with: pip install 'knowtune[{extra}]'")
