"""Layer 6, applications: the command line, the experiment grid and the studies. Nothing in the layers below imports this package."""
