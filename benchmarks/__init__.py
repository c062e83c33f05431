"""The benchmark of multilock: a real Home Assistant against the simulators (``scripts/bench``).

* ``run`` — the command line: starts the simulators and the Home Assistant workers, prints
  the table.
* ``simhost`` — every simulator of a run, in a process of its own, with a control API.
* ``worker`` — one Home Assistant process running one scenario (commands, or scale).
* ``hass_core`` — starts a real Home Assistant core in-process.
* ``bare`` — the baselines: the same signed requests sent directly with aiohttp.
* ``signing`` — signatures per second (no Home Assistant, no network).
* ``stats`` — medians, percentiles and the table.
"""
