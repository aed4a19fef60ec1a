from tests.integration.test_signals_cancel import *  # noqa
