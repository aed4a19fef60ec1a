from tests.steering.test_wait_condition import *  # noqa
