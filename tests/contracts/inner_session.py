"""Arguments for the pytest sessions the contract tests run with pytester."""

# Inner sessions skip plugins they do not need: on a loaded 2-core machine each costs seconds.
QUIET_SESSION = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")
