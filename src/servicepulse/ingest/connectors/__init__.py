"""Connectors: read the export formats of helpdesks, phone systems and social tools.

Each connector converts a source's own export into canonical records (docs/records.md) as
`SourceRow`s for the importer; a piece it cannot read or convert becomes an error row that the
importer quarantines, and the rest is still read. Conversions are deterministic (the same
export gives the same records, ids included), so re-importing an export changes nothing and a
newer export updates only what changed. Field mappings: docs/connectors.md.
"""

from servicepulse.ingest.connectors.asterisk import CDR, QUEUE_LOG
from servicepulse.ingest.connectors.base import Connector, ConnectorOptions, MappingError
from servicepulse.ingest.connectors.chatwoot import CHATWOOT
from servicepulse.ingest.connectors.freshdesk import FRESHDESK
from servicepulse.ingest.connectors.tabular import CSV, SOCIAL
from servicepulse.ingest.connectors.zendesk import ZENDESK

CONNECTORS: dict[str, Connector] = {
    connector.name: connector
    for connector in (ZENDESK, FRESHDESK, CHATWOOT, QUEUE_LOG, CDR, SOCIAL, CSV)
}

__all__ = ["CONNECTORS", "Connector", "ConnectorOptions", "MappingError"]
