"""The base of every event payload model.

Extra fields are kept: a provider adds fields over time and a payload keeps what it was sent.
`CamelPayload` is for the events whose wire names are camelCase (those the TypeScript system
emitted: memory, docs, media, agents); their fields are snake_case in Python and either
spelling is accepted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Payload(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class CamelPayload(Payload):
    model_config = ConfigDict(populate_by_name=True, alias_generator=to_camel)
