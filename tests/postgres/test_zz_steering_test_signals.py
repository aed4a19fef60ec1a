from tests.steering.test_signals import *  # noqa
