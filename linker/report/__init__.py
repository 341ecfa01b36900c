"""Report: what a person sees of a run: terminal tables (``console``) and the run's
picture (``plots``, the optional matplotlib extra)."""
