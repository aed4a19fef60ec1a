from tests.steering.test_updates import *  # noqa
