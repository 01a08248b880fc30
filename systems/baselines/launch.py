"""Launcher that runs a baseline's script inside the baseline's own environment.

    python launch.py [--seed N] [--pin-env NAME]... [--no-sleep-from MODULE]... \
        [--wait-pool-from MODULE]... [--path DIR]... -- SCRIPT.py [script arguments...]

It runs in the baseline's interpreter (Python 3.7–3.9, old torch), so it uses only the standard
library and syntax those versions accept. It does what the baselines' scripts do not:

- `--seed`: seeds `random`, numpy and torch (CPU and CUDA) before the script starts; none of
  CMT, VidMuse, M²UGen, Video2Music or D2M-GAN take a seed, so without this their outputs
  cannot be reproduced.
- `--pin-env NAME`: the current value of the environment variable NAME can no longer be
  changed by the script (D2M-GAN sets `CUDA_VISIBLE_DEVICES="1"` at start-up, which breaks on
  any machine without a second GPU; the harness's value stays).
- `--no-sleep-from MODULE`: `time.sleep` calls made from MODULE return at once (VidMuse's
  `_do_predictions` sleeps 8 s per video for its web demo).
- `--wait-pool-from MODULE`: a `time.sleep` call made from MODULE waits, instead, until every
  task submitted so far to a `concurrent.futures.ProcessPoolExecutor` has finished (VidMuse's
  `_do_predictions` hands the ffmpeg merge of audio and video to a process pool and sleeps 8 s so
  that `infer.py` finds the merged file it renames next; without the wait the rename fails, with a
  fixed sleep a slow merge still can).
- `--path DIR`: prepended to `sys.path` (a repository root whose packages must shadow
  installed ones, e.g. VidMuse's modified `audiocraft/`).

The script then runs as `__main__` with its own folder first on `sys.path`, exactly as
`python SCRIPT.py args` would run it, in the current working directory.
"""

import os
import random
import runpy
import sys
import time


def _seed(seed):
    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import numpy

        numpy.random.seed(seed % (2 ** 32))
    except ImportError:
        pass
    if "torch" in sys.modules:
        _seed_torch(sys.modules["torch"], seed)
    else:  # seed torch when the script imports it: importing it here would cost seconds per call
        sys.meta_path.insert(0, _SeedOnImport(seed))


def _seed_torch(torch, seed):
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


class _SeedOnImport(object):
    """A meta-path finder that seeds torch right after its first import."""

    def __init__(self, seed):
        self.seed = seed

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        import importlib.util

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.loader is None:
            return spec
        exec_module, seed = spec.loader.exec_module, self.seed

        def exec_and_seed(module):
            exec_module(module)
            _seed_torch(module, seed)

        spec.loader.exec_module = exec_and_seed
        return spec


def _pin_env(names):
    if not names:
        return
    base = type(os.environ)
    pinned = frozenset(names)

    class PinnedEnviron(base):
        def __setitem__(self, key, value):
            if key in pinned:
                sys.stderr.write("[launch] kept %s=%r (the script tried to set %r)\n"
                                 % (key, os.environ.get(key), value))
                return
            base.__setitem__(self, key, value)

        def __delitem__(self, key):
            if key in pinned:
                return
            base.__delitem__(self, key)

    os.environ.__class__ = PinnedEnviron


def _no_sleep_from(modules):
    if not modules:
        return
    real_sleep = time.sleep
    skipped = tuple(modules)

    def sleep(seconds):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller in skipped or caller.endswith(tuple("." + m for m in skipped)):
            return None
        return real_sleep(seconds)

    time.sleep = sleep


class _PoolTracker(object):
    """Remembers the futures of every ProcessPoolExecutor.submit (patched before the script runs)."""

    futures = []

    @classmethod
    def install(cls):
        from concurrent.futures import process

        submit = process.ProcessPoolExecutor.submit

        def tracked_submit(self, *args, **kwargs):
            future = submit(self, *args, **kwargs)
            cls.futures.append(future)
            return future

        process.ProcessPoolExecutor.submit = tracked_submit

    @classmethod
    def wait(cls):
        from concurrent.futures import wait

        pending, cls.futures = cls.futures, []
        if pending:
            wait(pending)
            failed = [f.exception() for f in pending if f.exception() is not None]
            for exc in failed:
                sys.stderr.write("[launch] a pool task the script waited for failed: %r\n" % (exc,))


def _wait_pool_from(modules):
    if not modules:
        return
    _PoolTracker.install()
    real_sleep = time.sleep
    waiting = tuple(modules)

    def sleep(seconds):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller in waiting or caller.endswith(tuple("." + m for m in waiting)):
            return _PoolTracker.wait()
        return real_sleep(seconds)

    time.sleep = sleep


def parse(argv):
    opts = {"seed": None, "pin": [], "nosleep": [], "waitpool": [], "path": []}
    i = 0
    while i < len(argv) and argv[i] != "--":
        flag = argv[i]
        if i + 1 >= len(argv):
            raise SystemExit("launch.py: %s needs a value" % flag)
        value = argv[i + 1]
        if flag == "--seed":
            opts["seed"] = int(value)
        elif flag == "--pin-env":
            opts["pin"].append(value)
        elif flag == "--no-sleep-from":
            opts["nosleep"].append(value)
        elif flag == "--wait-pool-from":
            opts["waitpool"].append(value)
        elif flag == "--path":
            opts["path"].append(value)
        else:
            raise SystemExit("launch.py: unknown option %s" % flag)
        i += 2
    rest = argv[i + 1:]
    if not rest:
        raise SystemExit("launch.py: no script given (usage: launch.py [options] -- SCRIPT.py args...)")
    return opts, rest[0], rest[1:]


def main(argv=None):
    opts, script, args = parse(sys.argv[1:] if argv is None else argv)
    script = os.path.abspath(script)
    if not os.path.isfile(script):
        raise SystemExit("launch.py: %s: no such script" % script)
    _pin_env(opts["pin"])
    _no_sleep_from(opts["nosleep"])
    _wait_pool_from(opts["waitpool"])
    # sys.path[0] is this launcher's folder: replace it, so none of the harness's modules shadow the baseline's
    sys.path[0:1] = [os.path.dirname(script)] + [os.path.abspath(p) for p in opts["path"]]
    if opts["seed"] is not None:
        _seed(opts["seed"])
    sys.argv = [script] + list(args)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
