from tests.integration.test_workflow_failures import *  # noqa
