"""Service-to-service security assertions, judged from outside: what reached the stub, and how.

Owner of the TLS-client verdicts (the faults they inject are `pytest_ipc.faults`' TLS faults):
`assert_verifies_server` (certificate chain and host name), `assert_presents_client_certificate`
(mTLS), `assert_no_credentials_over_plaintext` (no Authorization over http://). The calls run
through `pytest_ipc.resilience.calls`, so any client library works; async forms in `security.aio`.
"""

from pytest_ipc.security import aio
from pytest_ipc.security.errors import SecurityUsageError
from pytest_ipc.security.plaintext import CREDENTIAL_HEADERS, CREDENTIAL_PARAMETERS, assert_no_credentials_over_plaintext
from pytest_ipc.security.verification import assert_presents_client_certificate, assert_verifies_server, is_verification_failure

__all__ = [
    "CREDENTIAL_HEADERS",
    "CREDENTIAL_PARAMETERS",
    "SecurityUsageError",
    "aio",
    "assert_no_credentials_over_plaintext",
    "assert_presents_client_certificate",
    "assert_verifies_server",
    "is_verification_failure",
]
