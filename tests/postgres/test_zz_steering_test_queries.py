from tests.steering.test_queries import *  # noqa
