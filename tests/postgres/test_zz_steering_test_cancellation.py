from tests.steering.test_cancellation import *  # noqa
