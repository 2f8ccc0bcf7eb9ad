// An HTTP/1 exchange as a record, per OpenTelemetry's HTTP conventions.
#pragma once

#include "common/connection_facts.h"
#include "common/exchange_record.h"
#include "http/url_redaction.h"
#include "http1/exchange_matcher.h"

namespace spanwire::http1 {

ExchangeRecord to_record(const ConnectionFacts& conn, const Exchange& exchange, const UrlRedaction& redaction);

}  // namespace spanwire::http1
