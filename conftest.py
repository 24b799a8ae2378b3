"""Root conftest: pytester runs whole pytest sessions in tests that check fixtures end to end."""

pytest_plugins = ["pytester"]
