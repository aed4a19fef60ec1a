from tests.integration.test_replay import *  # noqa
