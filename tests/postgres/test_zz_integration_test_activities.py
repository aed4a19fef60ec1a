from tests.integration.test_activities import *  # noqa
