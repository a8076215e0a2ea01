"""sessions: clients with amazon.aws connection settings, one botocore session per profile."""

from __future__ import annotations

from ansible_collections.stockroom.aws.plugins.plugin_utils import sessions


def test_a_client_has_the_region_endpoint_credentials_and_config_given() -> None:
    client = sessions.client(
        "rds",
        "eu-central-1",
        "http://127.0.0.1:1",
        {
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": "secret",
            "aws_session_token": "token",
            "aws_config": {"connect_timeout": 7},
        },
    )
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:1"
    credentials = client._request_signer._credentials
    assert (credentials.access_key, credentials.token) == ("AKIDEXAMPLE", "token")
    assert client.meta.config.connect_timeout == 7


def test_clients_of_one_profile_share_the_model_that_warm_loaded() -> None:
    sessions.warm(["sqs"])
    keys = {"aws_access_key_id": "a", "aws_secret_access_key": "b"}
    one = sessions.client("sqs", "eu-west-1", None, keys)
    two = sessions.client("sqs", "us-east-1", None, keys)
    other = sessions.client("sqs", "eu-west-1", None, {**keys, "profile_name": None})
    # One loaded service description (a session of their own would each parse it again).
    model = one.meta.service_model._service_description
    assert model is two.meta.service_model._service_description
    assert model is other.meta.service_model._service_description
