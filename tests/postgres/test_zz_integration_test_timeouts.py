from tests.integration.test_timeouts import *  # noqa
