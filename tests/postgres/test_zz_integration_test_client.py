from tests.integration.test_client import *  # noqa
