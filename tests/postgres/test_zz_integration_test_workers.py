from tests.integration.test_workers import *  # noqa
