"""Browser tests (a package, so its conftest does not take the place of tests/web's
``conftest`` module, which the screen tests import from)."""
