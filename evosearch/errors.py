"""The one base class for errors evosearch reports to users.

Every error a user can cause (bad config, unknown task, corrupt download, out-of-range gene)
derives from :class:`EvosearchError`; the CLI prints its message without a traceback.
"""


class EvosearchError(Exception):
    """An error caused by input a user can fix; its message says what and how."""
