from tests.integration.test_workflow_api import *  # noqa
