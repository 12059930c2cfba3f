import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline


@pytest.fixture
def pipeline():
    """A TestPipeline on the in-process runner: never the DirectRunner's Prism download."""
    return BeamTestPipeline(runner=FnApiRunner())
