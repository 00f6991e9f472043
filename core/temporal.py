"""Connecting to Temporal the same way everywhere: API, worker, CLI, tests, replayer."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from core.settings import TemporalSettings


def data_converter() -> DataConverter:
    """The one converter (pydantic JSON; the payload codec plugs in here)."""
    return pydantic_data_converter


def tls_config(settings: TemporalSettings) -> TLSConfig | bool:
    """mTLS for a self-hosted cluster or Cloud; plain TLS for API-key auth."""
    cert = settings.tls_client_cert_path
    key = settings.tls_client_key_path
    ca = settings.tls_server_ca_path
    if cert is None and key is None and ca is None:
        return settings.tls or settings.api_key is not None
    if (cert is None) != (key is None):
        raise ValueError("set both temporal.tls_client_cert_path and temporal.tls_client_key_path")
    return TLSConfig(
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
        server_root_ca_cert=ca.read_bytes() if ca else None,
        domain=settings.tls_server_name,
    )


async def connect(
    settings: TemporalSettings, runtime: Runtime | None = None, *, lazy: bool = False
) -> Client:
    """A Temporal client for the configured server, with our data converter."""
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    return await Client.connect(
        settings.address,
        namespace=settings.namespace,
        data_converter=data_converter(),
        tls=tls_config(settings),
        api_key=api_key,
        runtime=runtime,
        lazy=lazy,
    )


async def register_search_attributes(client: Client) -> None:
    """Register Rekindle's search attributes on a server that lacks them (test server, new namespace)."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    from core.search_attributes import ALL

    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type.value) for key in ALL
            },
        )
    )
