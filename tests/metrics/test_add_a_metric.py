import pytest
"""The README's "Adding a system or a metric" steps for a metric, followed literally: a Metric
subclass in a package of one's own, a `bench/conf/metric/<name>.yaml` naming its class and
options, then `bench metrics list` and `bench evaluate --run R --metrics <name>` from the command line."""

import os
import subprocess
import sys
import textwrap
import uuid

import pandas as pd

from bench.config import CONF_DIR

RMS = textwrap.dedent('''
    import numpy as np
    import soundfile as sf

    from metrics.base import Metric, Score


    class Loudness(Metric):
        """RMS level of each generated clip, in dB, minus `offset_db`."""

        def __init__(self, cache=None, seed=0, offset_db: float = 0.0):
            super().__init__(cache, seed)
            self.offset_db = offset_db

        def scores(self, clips, generated, reference):
            def db(path):
                x, _ = sf.read(str(path), dtype="float32")
                return 20 * np.log10(np.sqrt(np.mean(x ** 2)) + 1e-9)

            return {"loudness_db": Score(per_clip=np.array([db(generated[c.id]) - self.offset_db for c in clips]),
                                         higher_is_better=True)}
''')


@pytest.mark.slow
def test_the_readme_add_a_metric_steps_work_from_the_command_line(mini_dataset, tmp_path):
    root, ov = mini_dataset
    pkg = tmp_path / "userpkgs" / "mypkg_loud"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "loud.py").write_text(RMS)
    name = f"loud_{uuid.uuid4().hex[:6]}"
    yaml_path = CONF_DIR / "metric" / f"{name}.yaml"
    yaml_path.write_text(f"name: {name}\nclass: mypkg_loud.loud:Loudness\noffset_db: 0.0\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pkg.parent), os.environ.get("PYTHONPATH", "")])}

    def bench(*args):
        proc = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    try:
        assert name in bench("metrics", "list")
        bench("run", "--systems", "reference,shuffled", "--dataset", "toy", *ov, "--metrics", "none", "--name", "loud",
              "executor.workers=1")
        run_dir = tmp_path / "runs" / "loud"
        out = bench("evaluate", "--run", str(run_dir), "--metrics", name, f"metric.{name}.offset_db=10")
        assert "loudness_db" in out
        rows = pd.read_parquet(run_dir / "metrics" / f"{name}.parquet")
        assert set(rows["system"]) == {"reference", "shuffled"} and rows["value"].notna().all()
        assert (rows["value"] < 0).all()  # the sines of the mini dataset sit ~−17 dB, the offset takes 10 more
    finally:
        yaml_path.unlink(missing_ok=True)
