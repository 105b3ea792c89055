"""One run's outcome, and the one wording of it.

The CLI's error line, the failure alert (sent by the CLI or by the daemon's sensor) and
`costline status` all describe a run from a `RunSummary`, so the same failure reads the same
everywhere. Building one from Dagster's event log is orchestration's job
(`orchestration/run_records.py`); this module is plain data and words.
"""

from dataclasses import dataclass

SUCCESS = "SUCCESS"
STARTED = "STARTED"
# A run whose process was killed never records its end; `costline status` calls it this.
DIED = "DIED"


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str  # Dagster's run status name, or DIED
    failed_checks: tuple[str, ...] = ()  # blocking checks: "<check> on <asset> (<why>)"
    warned_checks: tuple[str, ...] = ()  # non-blocking checks that did not pass
    passed_checks: int = 0
    failed_steps: tuple[str, ...] = ()  # "<step>: <first line of the user-code error>"
    published: bool = False  # the run published the mart
    run_error: str = ""  # a failure before any step ran (the warehouse was busy, say)

    @property
    def success(self) -> bool:
        return self.status == SUCCESS and self.published and not self.failed_checks

    @property
    def kind(self) -> str:
        """gate_failure (a blocking check stopped the publish) or run_failure."""
        return "gate_failure" if self.failed_checks else "run_failure"

    def title(self) -> str:
        if self.failed_checks:
            return "Quality gate failed: the new mart was not published"
        if self.published:
            return "Daily run failed after publishing the new mart"
        return "Daily run failed"

    def failure_reason(self) -> str:
        """What went wrong, in the words every surface uses."""
        if self.failed_checks:
            return "blocking quality check failed: " + "; ".join(self.failed_checks)
        if self.failed_steps:
            return "step failed: " + "; ".join(self.failed_steps)
        if self.run_error:
            return self.run_error
        if self.status == DIED:
            return "the process stopped without finishing (killed?); nothing it did was published"
        return "the run did not complete"

    def failure_message(self, publication: str) -> str:
        """The reason, what readers see now (`reporting.publication.publication_sentence`) and the run."""
        return f"{self.failure_reason()}; {publication} (run {self.run_id})"

    def checks_line(self) -> str:
        return (
            f"checks: {self.passed_checks} passed, {len(self.warned_checks)} warnings, {len(self.failed_checks)} failed"
        )
