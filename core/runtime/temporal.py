"""Connecting to Temporal the same way everywhere: API, worker, CLI, tests, replayer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from temporalio.client import Client, Interceptor, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec
from temporalio.runtime import Runtime

if TYPE_CHECKING:
    from core.store.datakeys import DataKeys

from core.runtime.codec import EncryptionCodec, codec_from_settings
from core.runtime.settings import Settings, TemporalSettings


def data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    """The one converter: pydantic JSON, then the payload codec when one is given.

    With a codec, failure messages and stack traces are moved into an encoded
    payload too (they can quote personal data); without one this is the plain
    pydantic converter.
    """
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def configured_converter(settings: Settings) -> DataConverter:
    """The converter for these settings (the replayer's); raises when encryption keys are missing.

    It reads clients' data keys from the configured database, connecting only when a history
    holds one, and never makes one (core/store/datakeys.py ``ReplayDataKeys``).
    """
    from core.store.datakeys import ReplayDataKeys

    codec = codec_from_settings(settings.security)
    return data_converter(codec.with_data_keys(ReplayDataKeys(settings, codec.master)) if codec else None)


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
    settings: Settings | TemporalSettings,
    runtime: Runtime | None = None,
    *,
    lazy: bool = False,
    codec: PayloadCodec | None = None,
    interceptors: Sequence[Interceptor] = (),
    data_keys: DataKeys | None = None,
) -> Client:
    """A Temporal client for the configured server, with our data converter.

    Pass the whole ``Settings``: the payload codec comes from its security section
    (and the tracing interceptor from its tracing section). A bare
    ``TemporalSettings`` is accepted for compatibility and uses ``codec`` as given.
    With ``data_keys`` (core/store/datakeys.py) client workflows' payloads are encrypted
    under each client's own data key; every process that talks to client workflows
    in production passes them.
    """
    if isinstance(settings, Settings):
        codec = codec or codec_from_settings(settings.security)
        if data_keys is not None and isinstance(codec, EncryptionCodec):
            codec = codec.with_data_keys(data_keys)
        interceptors = [*interceptors, *_tracing_interceptors(settings)]
        temporal = settings.temporal
    else:
        temporal = settings
    api_key = temporal.api_key.get_secret_value() if temporal.api_key else None
    return await Client.connect(
        temporal.address,
        namespace=temporal.namespace,
        data_converter=data_converter(codec),
        tls=tls_config(temporal),
        api_key=api_key,
        runtime=runtime,
        lazy=lazy,
        interceptors=interceptors,
    )


def _tracing_interceptors(settings: Settings) -> list[Interceptor]:
    if not settings.tracing.otlp_endpoint:
        return []
    from core.runtime.tracing import configured_tracer, temporal_interceptor

    tracer = configured_tracer(settings.tracing)
    return [temporal_interceptor(tracer)] if tracer else []


async def register_search_attributes(client: Client) -> None:
    """Register Rekindle's search attributes on a server that lacks them (test server, new namespace)."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    from core.domain.search_attributes import ALL

    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type.value) for key in ALL
            },
        )
    )
