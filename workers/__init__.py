"""RQ jobs and the worker class. Thin: the work itself lives in `receptionist`."""
