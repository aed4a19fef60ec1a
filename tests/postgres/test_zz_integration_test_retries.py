from tests.integration.test_retries import *  # noqa
