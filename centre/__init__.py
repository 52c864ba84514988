"""The composition root: the ``gridwatch`` command and one module per process role, building every part from the
settings and wiring the stages together. Nothing else imports it (the top layer of ``.importlinter``)."""
