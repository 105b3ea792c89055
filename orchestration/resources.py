"""Configuration resources. Values come from the environment at run time, never at import."""

import dagster as dg

from ingestion.settings import Paths


class CostlinePaths(dg.ConfigurableResource):
    """Where inputs and the warehouse live.

    Left empty, `COSTLINE_INPUT_DIR` / `COSTLINE_WAREHOUSE_DIR` (or the contract's defaults)
    are read when a step runs, so the CLI's `--input-dir` and `dagster dev` agree.
    """

    input_dir: str | None = None
    warehouse_dir: str | None = None

    def paths(self) -> Paths:
        return Paths.from_env(self.input_dir, self.warehouse_dir)
