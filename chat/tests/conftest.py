from decimal import Decimal

import pytest

from bench.fake_model import FakeModel, ModelServer


@pytest.fixture
def model_server():
    """A model server on 127.0.0.1 that streams its replies: 12 words in 0.3 s."""
    server = ModelServer(FakeModel(words=12, seconds=0.3))
    yield server
    server.stop()


@pytest.fixture
def openai_backend(settings, model_server, configure) -> FakeModel:
    """The keeper answers through the model server; no message wins."""
    configure(win_chance=Decimal("0.000001"))
    settings.CHATBOT_BACKEND = "openai"
    settings.CHATBOT_BASE_URL = model_server.base_url
    settings.CHATBOT_MODEL = "keeper-7b"
    settings.CHATBOT_API_KEY = "test-key"
    settings.CHATBOT_TIMEOUT = 1.5
    return model_server.model
