"""Named experiments (DESIGN.md §3 "Experiment"): the paper's tables and figures as sweeps.

An experiment (`bench/conf/experiment/<name>.yaml`) sweeps `system.dyvim.*` keys; each variant
on each dataset is a normal, resumable run folder `runs/<experiment>/<dataset>/<variant>/`, so
variants share the feature cache, and re-running the experiment resumes every variant.
`runs/<experiment>/experiment.yaml` records the sweep as run, `state.json` each variant's
outcome, and `tables/` + `report/` cover all variants.
"""

from bench.experiments.spec import Experiment, PlannedRun, Variant, experiment_names, load_experiment, plan

__all__ = ["Experiment", "PlannedRun", "Variant", "experiment_names", "load_experiment", "plan"]
