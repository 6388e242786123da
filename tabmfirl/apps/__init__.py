"""Layer 6, applications: the command line, the experiment grid and the studies.

Nothing in the layers below imports this package.  Its modules: ``cli`` (the
``tabmfirl`` command, which imports the others), ``_runs`` (run folders,
cell files and the resume rule), ``_fit_methods`` (fits by name),
``_experiment`` (the grid; uses ``_runs`` and ``_fit_methods``),
``_taxi_study`` (the taxi study and its subcommand), ``_games`` (every
command's ``--game``), ``_check`` (the ``check`` subcommand) and ``_errors``
(:class:`CommandError`); none of them imports ``cli``.
"""
