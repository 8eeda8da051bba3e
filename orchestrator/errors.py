"""The one error type of the orchestrator and the exit codes `main()` maps it to.

Expected failures (bad input, an unreachable host, a failed playbook) raise `TestbedError` with a
one-line message; `orchestrator.cli.main` prints it without a traceback and exits with its code.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad input: lab file, inventory, arguments
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class TestbedError(Exception):
    """An expected failure, described in one line for the user.

    >>> raise TestbedError("lab.yml:3: version: 2: unsupported, expected 1", exit_code=EXIT_USAGE)
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ConfigError(TestbedError):
    """Bad input in a lab file or inventory: one line per problem, exit status 2.

    `problems` holds every line found, so the user fixes them in one go.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems), exit_code=EXIT_USAGE)
        self.problems = problems
