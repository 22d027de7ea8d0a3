"""termail: a terminal mail client (the UI-free core; the Textual UI in app/main.py, app/screens).

`__version__` is the one place the version is written (pyproject reads it): the warm start's
splash key holds it (app/splash.py), and importlib.metadata would cost ~70 ms of every start."""

__version__ = "0.1.0"
