import pytest
"""The README's "Adding a system" steps, followed literally: a module with a System subclass in a
package of one's own, a `bench/conf/system/<name>.yaml` naming its class and options, then
`bench systems list` and `bench run --systems <name>` from the command line."""

import os
import subprocess
import sys
import textwrap
import uuid

from bench.config import CONF_DIR

TONE = textwrap.dedent('''
    import numpy as np

    from systems.base import GenerationResult, System


    class ToneSystem(System):
        """A sine at `freq` Hz for every clip."""

        def __init__(self, context, freq: float = 440.0):
            super().__init__(context)
            self.freq = freq

        @property
        def sample_rate(self) -> int:
            return 16000

        def generate(self, requests):
            for req in requests:
                n = int(round(req.clip.duration * self.sample_rate))
                t = np.arange(n) / self.sample_rate
                yield GenerationResult(req, (0.1 * np.sin(2 * np.pi * self.freq * t)).astype(np.float32))
''')


@pytest.mark.slow
def test_the_readme_add_a_system_steps_work_from_the_command_line(mini_dataset, tmp_path):
    root, ov = mini_dataset
    pkg = tmp_path / "userpkgs" / "mypkg_tone"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "tone.py").write_text(TONE)
    name = f"tone_{uuid.uuid4().hex[:6]}"
    yaml_path = CONF_DIR / "system" / f"{name}.yaml"
    yaml_path.write_text(f"name: {name}\nclass: mypkg_tone.tone:ToneSystem\nfreq: 330.0\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pkg.parent), os.environ.get("PYTHONPATH", "")])}
    try:
        listed = subprocess.run([sys.executable, "-m", "bench", "systems", "list"], capture_output=True, text=True,
                                env=env)
        assert listed.returncode == 0 and name in listed.stdout
        line = next(ln for ln in listed.stdout.splitlines() if name in ln)
        assert "unloadable" not in line
        run = subprocess.run([sys.executable, "-m", "bench", "run", "--systems", f"{name},reference", "--dataset",
                              "toy", *ov, f"system.{name}.freq=220", "--metrics", "none", "--name", "tone"],
                             capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        wavs = list((tmp_path / "runs" / "tone" / name).glob("*.wav"))
        assert wavs
    finally:
        yaml_path.unlink(missing_ok=True)


def test_a_yaml_without_anything_to_load_is_not_a_known_system(tmp_path):
    from systems.base import known_systems

    name = f"ghost_{uuid.uuid4().hex[:6]}"
    path = CONF_DIR / "system" / f"{name}.yaml"
    path.write_text(f"name: {name}\nfoo: 1\n")
    try:
        assert name not in known_systems()
    finally:
        path.unlink(missing_ok=True)
