"""Migration scripts, one per revision, named ``rNNNN_<slug>.py`` with ``revision = "NNNN"``."""
