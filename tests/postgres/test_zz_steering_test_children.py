from tests.steering.test_children import *  # noqa
